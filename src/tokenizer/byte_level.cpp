#include "tokenizer/byte_level.h"

#include <algorithm>

namespace utt {
namespace {

// Printable bytes keep their own code point; the other 68 (controls, space, DEL, NBSP,
// soft hyphen) are moved, in byte order, to U+0100 onwards so every symbol is visible.
std::array<uint32_t, 256> make_code_points() {
  std::array<uint32_t, 256> code_points{};
  uint32_t next_shifted = 256;
  for (uint32_t byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) ||
                           (byte >= 174 && byte <= 255);
    code_points[byte] = printable ? byte : next_shifted++;
  }
  return code_points;
}

const std::array<uint32_t, 256>& code_points() {
  static const std::array<uint32_t, 256> table = make_code_points();
  return table;
}

std::string utf8(uint32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

// Code point (< 0x144) -> byte, or -1 for characters outside the alphabet.
std::array<int16_t, 0x144> make_inverse() {
  std::array<int16_t, 0x144> inverse;
  inverse.fill(-1);
  for (int byte = 0; byte < 256; ++byte) inverse[code_points()[byte]] = static_cast<int16_t>(byte);
  return inverse;
}

}  // namespace

const std::array<std::string, 256>& byte_symbols() {
  static const std::array<std::string, 256> symbols = [] {
    std::array<std::string, 256> table;
    for (int byte = 0; byte < 256; ++byte) table[byte] = utf8(code_points()[byte]);
    return table;
  }();
  return symbols;
}

const std::array<uint8_t, 256>& bytes_in_symbol_order() {
  static const std::array<uint8_t, 256> order = [] {
    std::array<uint8_t, 256> bytes;
    for (int i = 0; i < 256; ++i) bytes[i] = static_cast<uint8_t>(i);
    std::sort(bytes.begin(), bytes.end(),
              [](uint8_t a, uint8_t b) { return code_points()[a] < code_points()[b]; });
    return bytes;
  }();
  return order;
}

std::string bytes_to_symbols(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) out += byte_symbols()[byte];
  return out;
}

std::string symbols_to_bytes(std::string_view symbols) {
  static const std::array<int16_t, 0x144> inverse = make_inverse();
  std::string out;
  out.reserve(symbols.size());
  size_t i = 0;
  while (i < symbols.size()) {
    const auto lead = static_cast<unsigned char>(symbols[i]);
    size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                    : (lead >> 3) == 0x1E ? 4 : 1;
    if (i + length > symbols.size()) length = 1;
    uint32_t code_point = lead;
    if (length == 2) {
      code_point = ((lead & 0x1Fu) << 6) | (static_cast<unsigned char>(symbols[i + 1]) & 0x3Fu);
    }
    if ((length == 1 || length == 2) && code_point < inverse.size() && inverse[code_point] >= 0) {
      out += static_cast<char>(inverse[code_point]);
    } else {
      out.append(symbols.substr(i, length));
    }
    i += length;
  }
  return out;
}

}  // namespace utt
