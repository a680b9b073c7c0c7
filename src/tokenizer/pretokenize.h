// Pre-tokenization: splitting text into pieces (words, numbers, punctuation runs, spaces)
// with a Unicode-aware regex, compiled once by PCRE2 with its JIT. BPE never merges across
// pieces, so the pattern decides which tokens can exist at all.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace utt {

// The two patterns utt trains with. Third-party tokenizer.json files may bring their own.
enum class PretokenizerKind { kCl100k, kGpt2, kCustom };

// The cl100k / Llama-3 pattern: case-insensitive contractions, a letter run with one leading
// non-letter, numbers in groups of up to three digits.
inline constexpr std::string_view kCl100kPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2's pattern (also tiktoken's r50k/p50k): case-sensitive contractions, digits unbounded.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// "cl100k" / "gpt2" -> kind; anything else is a UserError naming the choices.
PretokenizerKind parse_pretokenizer_kind(std::string_view name);
std::string_view pretokenizer_name(PretokenizerKind kind);
std::string_view pretokenizer_pattern(PretokenizerKind kind);

class PretokenizerRegex {
 public:
  // Throws UserError when `pattern` does not compile (it may come from a file).
  explicit PretokenizerRegex(const std::string& pattern);
  ~PretokenizerRegex();
  PretokenizerRegex(const PretokenizerRegex&) = delete;
  PretokenizerRegex& operator=(const PretokenizerRegex&) = delete;

  // Calls piece(std::string_view) for each piece of `text`, in order; the pieces cover the
  // text exactly. Bytes that are not valid UTF-8 never match the pattern, so each run of
  // them becomes a piece of its own. Thread-safe: every thread gets its own match state.
  template <typename Callback>
  void for_each_piece(std::string_view text, Callback&& piece) const {
    size_t start = 0;
    while (start < text.size()) {
      size_t match_begin = 0;
      size_t match_end = 0;
      if (!next_match(text, start, match_begin, match_end)) {
        piece(text.substr(start));
        return;
      }
      if (match_begin > start) piece(text.substr(start, match_begin - start));
      piece(text.substr(match_begin, match_end - match_begin));
      start = match_end;
    }
  }

  const std::string& pattern() const { return pattern_; }

 private:
  // The next non-empty match at or after `start`; false when there is none.
  bool next_match(std::string_view text, size_t start, size_t& begin, size_t& end) const;

  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*, kept opaque so users need no PCRE2 headers
  bool jit_ = false;
};

}  // namespace utt
