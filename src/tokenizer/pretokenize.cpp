#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include "util/error.h"

namespace utt {
namespace {

// The built-in patterns run within PCRE2's default 32 KiB JIT stack (checked on 3 MB runs of
// one character), but patterns from third-party files may backtrack deeper; a stack that may
// grow to 1 MiB costs nothing until it is used.
constexpr size_t kJitStackBytes = 1 << 20;

// Per-thread match state: one ovector pair is enough because we only need the whole match.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, kJitStackBytes, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

PretokenizerKind parse_pretokenizer_kind(std::string_view name) {
  if (name == "cl100k") return PretokenizerKind::kCl100k;
  if (name == "gpt2") return PretokenizerKind::kGpt2;
  throw UserError("unknown pre-tokenizer '" + std::string(name) + "': use cl100k or gpt2");
}

std::string_view pretokenizer_name(PretokenizerKind kind) {
  switch (kind) {
    case PretokenizerKind::kCl100k: return "cl100k";
    case PretokenizerKind::kGpt2: return "gpt2";
    case PretokenizerKind::kCustom: return "custom";
  }
  return "custom";
}

std::string_view pretokenizer_pattern(PretokenizerKind kind) {
  UTT_CHECK(kind != PretokenizerKind::kCustom, "a custom pre-tokenizer has no built-in pattern");
  return kind == PretokenizerKind::kGpt2 ? kGpt2Pattern : kCl100kPattern;
}

PretokenizerRegex::PretokenizerRegex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  // UCP: \s, \p{L} and friends follow Unicode, as in the Oniguruma engine HF uses.
  // MATCH_INVALID_UTF: arbitrary bytes are legal input; invalid sequences just never match.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    throw UserError("pre-tokenizer pattern does not compile at offset " +
                    std::to_string(error_offset) + ": " + reinterpret_cast<char*>(message));
  }
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  code_ = code;
}

PretokenizerRegex::~PretokenizerRegex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool PretokenizerRegex::next_match(std::string_view text, size_t start, size_t& begin,
                                   size_t& end) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchState& state = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // NO_UTF_CHECK is safe: MATCH_INVALID_UTF makes the matcher cope with any bytes.
  int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                                  state.data, state.context)
                : pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, state.data,
                              state.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  UTT_CHECK(rc >= 0, "PCRE2 match failed with code " + std::to_string(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
  begin = ovector[0];
  end = ovector[1];
  if (end == begin) {
    // A pattern that can match the empty string (possible in third-party files): skip a
    // byte so the scan always advances; the byte joins the gap before the next match.
    if (begin + 1 >= text.size()) return false;
    return next_match(text, begin + 1, begin, end);
  }
  return true;
}

}  // namespace utt
