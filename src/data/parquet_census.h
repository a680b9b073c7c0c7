// What a Parquet file's text column is made of: page kinds, value encodings and codec, as
// found while reading it. For tests (proof that a fixture exercises the path it claims to)
// and for diagnosing a file utt reads differently than expected.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace utt {

struct ParquetPageCensus {
  int64_t row_groups = 0;
  int64_t dictionary_pages = 0;
  int64_t data_pages_v1 = 0;
  int64_t data_pages_v2 = 0;
  int64_t rows = 0;
  std::set<int> value_encodings;  // Parquet Encoding enum values of the data pages
  std::set<int> codecs;           // Parquet CompressionCodec values of the chunks
};

// Reads the whole column once.
ParquetPageCensus parquet_page_census(const std::string& path, const std::string& column);

}  // namespace utt
