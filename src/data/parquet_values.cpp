#include "data/parquet_values.h"

#include <algorithm>

#include "data/thrift_compact.h"

namespace utt::parquet {

uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void decode_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count,
                   std::vector<uint32_t>& out) {
  if (bit_width < 0 || bit_width > 32) throw ParquetFormatError("bit width over 32");
  out.clear();
  out.reserve(count);
  size_t at = 0;
  const uint64_t mask = bit_width == 32 ? 0xFFFFFFFFull : (uint64_t{1} << bit_width) - 1;
  while (out.size() < count) {
    uint64_t header = 0;
    for (int shift = 0;; shift += 7) {
      if (at >= size || shift > 35) throw ParquetFormatError("RLE run header past the page");
      const uint8_t b = data[at++];
      header |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    const size_t wanted = count - out.size();
    if ((header & 1) == 0) {
      const uint64_t run = header >> 1;
      const size_t value_bytes = static_cast<size_t>((bit_width + 7) / 8);
      if (value_bytes > size - at) throw ParquetFormatError("RLE value past the page");
      uint32_t value = 0;
      for (size_t k = 0; k < value_bytes; ++k) value |= uint32_t{data[at + k]} << (8 * k);
      at += value_bytes;
      if (run == 0) throw ParquetFormatError("empty RLE run");
      out.insert(out.end(), static_cast<size_t>(std::min<uint64_t>(run, wanted)), value);
    } else {
      const uint64_t values = (header >> 1) * 8;
      if (values == 0) throw ParquetFormatError("empty bit-packed run");
      const size_t take = static_cast<size_t>(std::min<uint64_t>(values, wanted));
      // Only the bytes holding the values we take need to exist (a writer may stop the page
      // inside the last, padded group).
      const size_t run_bytes = static_cast<size_t>((values * bit_width) / 8);
      const size_t need_bytes = (take * static_cast<size_t>(bit_width) + 7) / 8;
      if (need_bytes > size - at) throw ParquetFormatError("bit-packed run past the page");
      for (size_t k = 0; k < take; ++k) {
        const size_t bit = k * static_cast<size_t>(bit_width);
        uint64_t window = 0;
        for (size_t b = bit / 8, s = 0; b < (bit + bit_width + 7) / 8; ++b, s += 8) {
          window |= uint64_t{data[at + b]} << s;
        }
        out.push_back(static_cast<uint32_t>((window >> (bit % 8)) & mask));
      }
      at += std::min(run_bytes, size - at);
    }
  }
}

int bit_width_of(int max_level) {
  int width = 0;
  while ((1 << width) <= max_level) ++width;
  return width;
}

void decode_plain_strings(const uint8_t* data, size_t size, size_t count,
                          std::vector<std::string_view>& out) {
  out.clear();
  size_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    if (size - at < 4) throw ParquetFormatError("PLAIN value length past the page");
    const uint32_t length = load_u32(data + at);
    at += 4;
    if (length > size - at) throw ParquetFormatError("PLAIN value past the page");
    out.emplace_back(reinterpret_cast<const char*>(data + at), length);
    at += length;
  }
}

}  // namespace utt::parquet
