// UTF-8 repair. Datasets in the wild hold stray Latin-1 bytes and truncated sequences; we
// never crash on them and never pass them to the tokenizer: each maximal invalid sequence
// becomes U+FFFD (the "substitution of maximal subparts" practice of Unicode ch. 3), counted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace utt {

bool is_valid_utf8(std::string_view text);

// Writes `text` with every invalid sequence replaced by U+FFFD into `out` (replacing its
// contents) and returns how many replacements were made.
int64_t repair_utf8(std::string_view text, std::string& out);

// Number of code points (characters) in valid UTF-8 text.
int64_t count_code_points(std::string_view text);

}  // namespace utt
