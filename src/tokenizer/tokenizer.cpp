#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <atomic>

#include "util/error.h"

namespace utt {
namespace {

std::atomic<uint64_t> next_instance{1};

// FNV-1a, 64 bit: tiny, fixed forever, and good enough to tell tokenizers apart.
class Fnv1a {
 public:
  void add(std::string_view bytes) {
    add_u64(bytes.size());
    for (unsigned char c : bytes) hash_ = (hash_ ^ c) * 0x100000001b3ull;
  }
  void add_u64(uint64_t value) {
    for (int i = 0; i < 8; ++i) hash_ = (hash_ ^ ((value >> (8 * i)) & 0xFF)) * 0x100000001b3ull;
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

std::string pattern_of(const TokenizerSpec& spec) {
  if (spec.pretokenizer == PretokenizerKind::kCustom) return spec.custom_pattern;
  return std::string(pretokenizer_pattern(spec.pretokenizer));
}

}  // namespace

Tokenizer::Tokenizer(TokenizerSpec spec)
    : spec_(std::move(spec)),
      regex_(std::make_shared<const PretokenizerRegex>(pattern_of(spec_))),
      instance_(next_instance++) {
  const size_t vocab = spec_.tokens.size();
  if (vocab == 0) throw UserError("tokenizer has an empty vocabulary");
  std::vector<bool> is_special(vocab, false);
  for (const SpecialToken& special : spec_.specials) {
    if (special.id >= vocab || special.content.empty() || spec_.tokens[special.id] != special.content) {
      throw UserError("special token '" + special.content + "' (id " + std::to_string(special.id) +
                      ") does not match the vocabulary");
    }
    is_special[special.id] = true;
  }
  id_of_bytes_.reserve(vocab);
  for (uint32_t id = 0; id < vocab; ++id) {
    if (!is_special[id]) id_of_bytes_.emplace(spec_.tokens[id], id);
  }
  for (int byte = 0; byte < 256; ++byte) {
    auto found = id_of_bytes_.find(std::string(1, static_cast<char>(byte)));
    byte_ids_[byte] = found == id_of_bytes_.end() ? -1 : static_cast<int32_t>(found->second);
  }
  merge_table_.reserve(spec_.merges.size());
  for (uint32_t rank = 0; rank < spec_.merges.size(); ++rank) {
    const BpeMerge& merge = spec_.merges[rank];
    if (merge.left >= vocab || merge.right >= vocab) {
      throw UserError(fmt::format("merge {} refers to a token id outside the vocabulary", rank));
    }
    auto merged = id_of_bytes_.find(spec_.tokens[merge.left] + spec_.tokens[merge.right]);
    if (merged == id_of_bytes_.end()) {
      throw UserError(fmt::format("merge {}: the merged token is not in the vocabulary", rank));
    }
    // A pair listed twice keeps its first (lowest) rank.
    if (merge_table_.find(pair_key(merge.left, merge.right)) == nullptr) {
      merge_table_.insert(pair_key(merge.left, merge.right), MergeResult{rank, merged->second});
    }
  }
}

Tokenizer::Tokenizer(const Tokenizer& other)
    : spec_(other.spec_),
      regex_(other.regex_),
      merge_table_(other.merge_table_),
      id_of_bytes_(other.id_of_bytes_),
      instance_(next_instance++) {
  std::copy(std::begin(other.byte_ids_), std::end(other.byte_ids_), byte_ids_);
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<uint32_t> Tokenizer::encode(std::string_view text, SpecialTokens specials) const {
  std::vector<uint32_t> ids;
  encode(text, ids, specials);
  return ids;
}

std::string Tokenizer::decode(std::span<const uint32_t> ids) const {
  std::string text;
  for (uint32_t id : ids) {
    if (id >= spec_.tokens.size()) {
      throw UserError(fmt::format("token id {} is outside the vocabulary (ids 0..{})", id,
                                  spec_.tokens.size() - 1));
    }
    text += spec_.tokens[id];
  }
  return text;
}

uint32_t Tokenizer::eos_id() const {
  for (std::string_view name : {kEndOfTextToken, std::string_view("<|end_of_text|>"),
                                std::string_view("</s>")}) {
    for (const SpecialToken& special : spec_.specials) {
      if (special.content == name) return special.id;
    }
  }
  throw UserError("the tokenizer has no end-of-text token (" + std::string(kEndOfTextToken) +
                  "): add one to its added_tokens");
}

uint32_t Tokenizer::pad_id() const {
  for (const SpecialToken& special : spec_.specials) {
    if (special.content == kPadToken) return special.id;
  }
  return eos_id();
}

std::string Tokenizer::fingerprint() const {
  Fnv1a hash;
  hash.add(pattern());
  hash.add_u64((spec_.add_prefix_space ? 1 : 0) | (spec_.ignore_merges ? 2 : 0));
  hash.add_u64(spec_.tokens.size());
  for (const std::string& token : spec_.tokens) hash.add(token);
  hash.add_u64(spec_.merges.size());
  for (const BpeMerge& merge : spec_.merges) hash.add_u64(pair_key(merge.left, merge.right));
  hash.add_u64(spec_.specials.size());
  for (const SpecialToken& special : spec_.specials) {
    hash.add(special.content);
    hash.add_u64(special.id);
  }
  return fmt::format("{:016x}", hash.value());
}

Tokenizer Tokenizer::truncated(uint32_t vocab_size) const {
  const auto special_count = static_cast<uint32_t>(spec_.specials.size());
  UTT_CHECK(vocab_size >= 256 + special_count && vocab_size <= this->vocab_size(),
            fmt::format("cannot cut a {}-token vocabulary to {}", this->vocab_size(), vocab_size));
  const uint32_t ordinary_limit = vocab_size - special_count;
  for (const SpecialToken& special : spec_.specials) {
    UTT_CHECK(special.id >= this->vocab_size() - special_count,
              "truncated() needs the special tokens at the end of the vocabulary");
  }
  TokenizerSpec spec = spec_;
  spec.tokens.resize(ordinary_limit);
  spec.merges.clear();
  for (const BpeMerge& merge : spec_.merges) {
    const MergeResult* result = merge_table_.find(pair_key(merge.left, merge.right));
    if (result->id >= ordinary_limit) break;
    spec.merges.push_back(merge);
    // Training stops as soon as the last token exists; so does the cut.
    if (result->id == ordinary_limit - 1) break;
  }
  for (uint32_t i = 0; i < special_count; ++i) {
    spec.specials[i].id = ordinary_limit + i;
    spec.tokens.push_back(spec.specials[i].content);
  }
  return Tokenizer(std::move(spec));
}

}  // namespace utt
