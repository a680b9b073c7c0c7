// Parquet's value and level encodings that parquet_rows.cpp decodes in place: the
// RLE/bit-packed hybrid (levels and dictionary indices) and PLAIN BYTE_ARRAY (Encodings.md).
// Each checks every length against the bytes it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace utt::parquet {

uint32_t load_u32(const uint8_t* p);

// Decodes exactly `count` values of `bit_width` bits from [data, data + size).
void decode_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count,
                   std::vector<uint32_t>& out);

// Bits needed for levels up to max_level (1 for 1, 0 for 0).
int bit_width_of(int max_level);

// `count` PLAIN BYTE_ARRAY values (u32 length + bytes each); views point into `data`.
void decode_plain_strings(const uint8_t* data, size_t size, size_t count,
                          std::vector<std::string_view>& out);

}  // namespace utt::parquet
