// Tokenizer: byte-level BPE as GPT-2 and Llama-3 do it. Text is split into pieces by a
// regex (pretokenize.h), each piece's bytes start as one token each, and merges are
// applied in rank order. Every byte sequence round-trips: decode(encode(x)) == x.
//
// Ids of the tokenizers utt trains: 0..255 the bytes (in GPT-2's order), then one id per
// merge, then the special tokens <|endoftext|> (document separator) and <|pad|>.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pair_map.h"
#include "tokenizer/pretokenize.h"

namespace utt {

inline constexpr std::string_view kEndOfTextToken = "<|endoftext|>";
inline constexpr std::string_view kPadToken = "<|pad|>";

// Whether special-token text ("<|endoftext|>") inside the input becomes the special id (as
// in HF's encode) or is encoded as plain text (for untrusted documents, which must not be
// able to insert a document separator).
enum class SpecialTokens { kMatch, kTreatAsText };

struct BpeMerge {
  uint32_t left = 0;
  uint32_t right = 0;
};

struct SpecialToken {
  std::string content;
  uint32_t id = 0;
};

// The tokens a tokenizer puts around every text it encodes, from tokenizer.json's
// post_processor (a TemplateProcessing "single" template, or BERT/RoBERTa's): Llama-3's files
// put <|begin_of_text|> before each text. Empty for GPT-2's files and the ones utt trains.
struct TextTemplate {
  std::vector<uint32_t> prefix;
  std::vector<uint32_t> suffix;
  bool empty() const { return prefix.empty() && suffix.empty(); }
  bool operator==(const TextTemplate&) const = default;
};

// Everything that defines a tokenizer; what the trainer and the tokenizer.json reader build.
struct TokenizerSpec {
  PretokenizerKind pretokenizer = PretokenizerKind::kCl100k;
  std::string custom_pattern;          // only for kCustom
  std::vector<std::string> tokens;     // id -> raw bytes (special tokens: their text)
  // Ids below tokens.size() that name no token (published files have gaps: cl100k_base's
  // special tokens sit at 100257-100260 and 100276). Sorted; their tokens entry is empty.
  std::vector<uint32_t> unused_ids;
  std::vector<BpeMerge> merges;        // rank order
  std::vector<SpecialToken> specials;  // matched in raw text before pre-tokenization
  TextTemplate text_template;          // the post-processor's tokens around a text
  bool add_prefix_space = false;       // third-party ByteLevel option
  bool ignore_merges = false;          // third-party (Llama-3): a piece in the vocab is one id
};

class Tokenizer {
 public:
  // Validates the spec (UserError on a merge whose parts are not in the vocabulary, ...).
  explicit Tokenizer(TokenizerSpec spec);
  Tokenizer(const Tokenizer& other);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // tokenizer.json in Hugging Face's format (tokenizer_json.cpp).
  static Tokenizer load(const std::string& path);
  static Tokenizer from_json(const std::string& json_text);
  void save(const std::string& path) const;
  std::string to_json() const;

  // Appends the ids of `text`. By default special tokens written in the text are matched
  // first, as HF does. Const and thread-safe; large texts are split over all cores.
  void encode(std::string_view text, std::vector<uint32_t>& out,
              SpecialTokens specials = SpecialTokens::kMatch) const;
  std::vector<uint32_t> encode(std::string_view text,
                               SpecialTokens specials = SpecialTokens::kMatch) const;
  // Throws UserError for an id outside the vocabulary.
  std::string decode(std::span<const uint32_t> ids) const;

  // The size of the id space, max id + 1 (unused ids included): the model's vocabulary.
  uint32_t vocab_size() const { return static_cast<uint32_t>(spec_.tokens.size()); }
  // False for the ids of a gap, which no text encodes to and generation never samples.
  bool is_used(uint32_t id) const;
  // <|endoftext|> (or a third party's end-of-text token: <|end_of_text|>, </s>, <eos>);
  // UserError when there is none.
  uint32_t eos_id() const;
  // What separates documents in training, as Hugging Face's causal-LM training does with this
  // tokenizer: its post-processor template around each document; with no template, its
  // end-of-text token after each. UserError naming both when it has neither.
  TextTemplate document_separators() const;
  // "<|begin_of_text|> before and <|end_of_text|> after each document", for the run banner.
  std::string describe_document_separators() const;
  // <|pad|>, else the end-of-text token.
  uint32_t pad_id() const;
  // The beginning-of-text token exports declare: the first token the template puts before each
  // text (Llama-3's <|begin_of_text|>), else the end-of-text token (utt adds no BOS of its own).
  uint32_t bos_id() const;
  // A stable 16-hex-digit hash of pattern, vocabulary, merges and special tokens: equal
  // fingerprints mean equal encodings (for token caches and checkpoint compatibility).
  std::string fingerprint() const;

  const TokenizerSpec& spec() const { return spec_; }
  const std::string& pattern() const { return regex_->pattern(); }
  // A tokenizer utt trained, cut to `vocab_size` ids: the same byte tokens, the merges
  // whose tokens fit, the special tokens renumbered after them. BPE training is greedy, so
  // this equals training with the smaller vocabulary.
  Tokenizer truncated(uint32_t vocab_size) const;

 private:
  struct MergeResult {
    uint32_t rank = 0;
    uint32_t id = 0;
  };

  std::optional<uint32_t> find_eos_id() const;
  void encode_serial(std::string_view text, std::vector<uint32_t>& out,
                     SpecialTokens specials) const;
  void encode_ordinary(std::string_view text, std::vector<uint32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<uint32_t>& out) const;
  void apply_merges(std::vector<uint32_t>& ids) const;
  void apply_merges_long(std::vector<uint32_t>& ids) const;

  TokenizerSpec spec_;
  std::shared_ptr<const PretokenizerRegex> regex_;
  PairMap<MergeResult> merge_table_;
  std::unordered_map<std::string, uint32_t> id_of_bytes_;
  int32_t byte_ids_[256];
  uint64_t instance_ = 0;  // keys the per-thread piece cache
};

}  // namespace utt
