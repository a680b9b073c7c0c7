#include "data/utf8.h"

#include <simdjson.h>

namespace utt {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid sequence starting at text[i], or 0 if it is not valid. Follows the
// well-formed byte sequences table (Unicode 15, table 3-7): no overlongs, no surrogates,
// nothing above U+10FFFF. `maximal` gets the length of the invalid maximal subpart.
size_t valid_sequence_length(std::string_view text, size_t i, size_t& maximal) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  maximal = 1;
  if (b0 < 0x80) return 1;
  size_t length = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if (i + k >= text.size()) return 0;
    const unsigned char b = byte(i + k);
    const unsigned char low = k == 1 ? lo : 0x80;
    const unsigned char high = k == 1 ? hi : 0xBF;
    if (b < low || b > high) return 0;
    maximal = k + 1;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

int64_t repair_utf8(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size() + 16);
  int64_t replaced = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t maximal = 1;
    const size_t length = valid_sequence_length(text, i, maximal);
    if (length > 0) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append(kReplacement);
      ++replaced;
      i += maximal;
    }
  }
  return replaced;
}

int64_t count_code_points(std::string_view text) {
  int64_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

}  // namespace utt
