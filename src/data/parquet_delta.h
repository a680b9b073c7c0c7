// Parquet's delta encodings for strings (Encodings.md): DELTA_BINARY_PACKED integers, which
// carry the lengths of DELTA_LENGTH_BYTE_ARRAY (lengths, then the bytes back to back) and
// the prefix lengths of DELTA_BYTE_ARRAY (prefix lengths, then DELTA_LENGTH_BYTE_ARRAY
// suffixes; value = first prefix bytes of the previous value + suffix). DuckDB writes
// DELTA_LENGTH_BYTE_ARRAY for strings with PARQUET_VERSION V2 when no dictionary is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace utt::parquet {

// Decodes the DELTA_BINARY_PACKED stream at [data, data + size) into `out` (all its values)
// and returns the number of bytes it occupies.
size_t decode_delta_binary_packed(const uint8_t* data, size_t size, std::vector<int64_t>& out);

// `count` strings. Views point into `data` (DELTA_LENGTH_BYTE_ARRAY) or into `storage`
// (DELTA_BYTE_ARRAY, whose values are rebuilt); both must outlive them.
void decode_delta_length_byte_array(const uint8_t* data, size_t size, size_t count,
                                    std::vector<std::string_view>& out);
void decode_delta_byte_array(const uint8_t* data, size_t size, size_t count,
                             std::string& storage, std::vector<std::string_view>& out);

}  // namespace utt::parquet
