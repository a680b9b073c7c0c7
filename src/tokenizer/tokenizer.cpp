#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
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
  std::vector<bool> unused(vocab, false);
  if (!std::is_sorted(spec_.unused_ids.begin(), spec_.unused_ids.end()) ||
      std::adjacent_find(spec_.unused_ids.begin(), spec_.unused_ids.end()) != spec_.unused_ids.end()) {
    throw UserError("the tokenizer's unused ids must be sorted and distinct");
  }
  for (uint32_t id : spec_.unused_ids) {
    if (id >= vocab || !spec_.tokens[id].empty()) {
      throw UserError(fmt::format("unused id {} names a token or lies outside the vocabulary", id));
    }
    unused[id] = true;
  }
  for (const SpecialToken& special : spec_.specials) {
    if (special.id >= vocab || special.content.empty() || spec_.tokens[special.id] != special.content) {
      throw UserError("special token '" + special.content + "' (id " + std::to_string(special.id) +
                      ") does not match the vocabulary");
    }
    is_special[special.id] = true;
  }
  for (const auto* ids : {&spec_.text_template.prefix, &spec_.text_template.suffix}) {
    for (uint32_t id : *ids) {
      if (id >= vocab || unused[id]) {
        throw UserError(fmt::format("the post_processor template uses token id {}, which is not in the vocabulary", id));
      }
    }
  }
  id_of_bytes_.reserve(vocab);
  for (uint32_t id = 0; id < vocab; ++id) {
    if (unused[id]) continue;
    if (spec_.tokens[id].empty()) throw UserError(fmt::format("token id {} is empty", id));
    if (!is_special[id]) id_of_bytes_.emplace(spec_.tokens[id], id);
  }
  for (int byte = 0; byte < 256; ++byte) {
    auto found = id_of_bytes_.find(std::string(1, static_cast<char>(byte)));
    byte_ids_[byte] = found == id_of_bytes_.end() ? -1 : static_cast<int32_t>(found->second);
  }
  merge_table_.reserve(spec_.merges.size());
  for (uint32_t rank = 0; rank < spec_.merges.size(); ++rank) {
    const BpeMerge& merge = spec_.merges[rank];
    if (merge.left >= vocab || merge.right >= vocab || !is_used(merge.left) || !is_used(merge.right)) {
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
    if (!is_used(id)) throw UserError(fmt::format("token id {} is an unused id of this tokenizer", id));
    text += spec_.tokens[id];
  }
  return text;
}

bool Tokenizer::is_used(uint32_t id) const {
  return id < spec_.tokens.size() &&
         !std::binary_search(spec_.unused_ids.begin(), spec_.unused_ids.end(), id);
}

namespace {

// End-of-text tokens by name, in the order they are looked for: ours and GPT-2's, Llama-3's,
// SentencePiece conversions' (Llama-2, Mistral), Gemma's.
constexpr std::string_view kEndOfTextNames[] = {kEndOfTextToken, "<|end_of_text|>", "</s>", "<eos>"};

}  // namespace

std::optional<uint32_t> Tokenizer::find_eos_id() const {
  for (std::string_view name : kEndOfTextNames) {
    for (const SpecialToken& special : spec_.specials) {
      if (special.content == name) return special.id;
    }
  }
  return std::nullopt;
}

uint32_t Tokenizer::eos_id() const {
  if (std::optional<uint32_t> id = find_eos_id()) return *id;
  throw UserError("the tokenizer has no end-of-text token (one of <|endoftext|>, <|end_of_text|>, "
                  "</s>, <eos> in its added_tokens): add one");
}

TextTemplate Tokenizer::document_separators() const {
  if (!spec_.text_template.empty()) return spec_.text_template;
  if (std::optional<uint32_t> eos = find_eos_id()) return TextTemplate{{}, {*eos}};
  throw UserError("the tokenizer has no usable document separator: its post_processor adds no "
                  "tokens and it has no end-of-text token (one of <|endoftext|>, <|end_of_text|>, "
                  "</s>, <eos> in added_tokens); add one, or give a post_processor template that "
                  "marks where a text begins or ends");
}

std::string Tokenizer::describe_document_separators() const {
  const TextTemplate separators = document_separators();
  auto names = [&](const std::vector<uint32_t>& ids) {
    std::string text;
    for (uint32_t id : ids) text += (text.empty() ? "" : " ") + spec_.tokens[id];
    return text;
  };
  std::string where;
  if (!separators.prefix.empty()) where = names(separators.prefix) + " before";
  if (!separators.suffix.empty()) {
    where += (where.empty() ? "" : " and ") + names(separators.suffix) + " after";
  }
  return where + " each document" +
         (spec_.text_template.empty() ? "" : " (the tokenizer's post_processor template)");
}

uint32_t Tokenizer::pad_id() const {
  for (const SpecialToken& special : spec_.specials) {
    if (special.content == kPadToken) return special.id;
  }
  return eos_id();
}

uint32_t Tokenizer::bos_id() const {
  const TextTemplate separators = document_separators();
  return separators.prefix.empty() ? eos_id() : separators.prefix.front();
}

std::string Tokenizer::fingerprint() const {
  Fnv1a hash;
  hash.add(pattern());
  hash.add_u64((spec_.add_prefix_space ? 1 : 0) | (spec_.ignore_merges ? 2 : 0));
  hash.add_u64(spec_.tokens.size());
  for (const std::string& token : spec_.tokens) hash.add(token);
  // Only when there are gaps or a template, so fingerprints of tokenizers without either
  // stay as they were.
  if (!spec_.unused_ids.empty()) {
    hash.add_u64(spec_.unused_ids.size());
    for (uint32_t id : spec_.unused_ids) hash.add_u64(id);
  }
  if (!spec_.text_template.empty()) {
    hash.add("template");
    for (const auto* ids : {&spec_.text_template.prefix, &spec_.text_template.suffix}) {
      hash.add_u64(ids->size());
      for (uint32_t id : *ids) hash.add_u64(id);
    }
  }
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
  UTT_CHECK(spec_.unused_ids.empty(), "truncated() is for tokenizers utt trained (no unused ids)");
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
