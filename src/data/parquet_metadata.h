// The parts of a Parquet footer (FileMetaData, apache/parquet-format parquet.thrift) that
// reading one text column needs, with the spec's field names. Unknown fields are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/thrift_compact.h"

namespace utt::parquet {

enum class PhysicalType : int32_t { boolean = 0, int32 = 1, int64 = 2, int96 = 3, float_ = 4,
                                    double_ = 5, byte_array = 6, fixed_len_byte_array = 7 };
enum class Repetition : int32_t { required = 0, optional = 1, repeated = 2 };
enum class Codec : int32_t { uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4,
                             lz4 = 5, zstd = 6, lz4_raw = 7 };
enum class PageType : int32_t { data_page = 0, index_page = 1, dictionary_page = 2,
                                data_page_v2 = 3 };
enum class Encoding : int32_t { plain = 0, plain_dictionary = 2, rle = 3, bit_packed = 4,
                                delta_binary_packed = 5, delta_length_byte_array = 6,
                                delta_byte_array = 7, rle_dictionary = 8 };

struct SchemaElement {
  std::optional<PhysicalType> type;
  Repetition repetition_type = Repetition::required;
  std::string name;
  int32_t num_children = 0;
};

struct ColumnMetaData {
  PhysicalType type = PhysicalType::byte_array;
  Codec codec = Codec::uncompressed;
  int64_t num_values = 0;
  int64_t total_compressed_size = 0;
  int64_t data_page_offset = 0;
  std::optional<int64_t> dictionary_page_offset;
};

struct ColumnChunk {
  std::optional<std::string> file_path;
  std::optional<ColumnMetaData> meta_data;
};

struct RowGroup {
  std::vector<ColumnChunk> columns;
  int64_t num_rows = 0;
};

struct FileMetaData {
  std::vector<SchemaElement> schema;
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
};

FileMetaData read_file_metadata(const uint8_t* data, size_t size);

struct DataPageHeader {
  int32_t num_values = 0;
  Encoding encoding = Encoding::plain;
  Encoding definition_level_encoding = Encoding::rle;
};

struct DataPageHeaderV2 {
  int32_t num_values = 0;
  int32_t num_nulls = 0;
  int32_t num_rows = 0;
  Encoding encoding = Encoding::plain;
  int32_t definition_levels_byte_length = 0;
  int32_t repetition_levels_byte_length = 0;
  bool is_compressed = true;
};

struct DictionaryPageHeader {
  int32_t num_values = 0;
  Encoding encoding = Encoding::plain;
};

struct PageHeader {
  PageType type = PageType::data_page;
  int32_t uncompressed_page_size = 0;
  int32_t compressed_page_size = 0;
  std::optional<DataPageHeader> data_page_header;
  std::optional<DictionaryPageHeader> dictionary_page_header;
  std::optional<DataPageHeaderV2> data_page_header_v2;
};

// Reads the header at the start of `data`; `header_size` gets its length in bytes.
PageHeader read_page_header(const uint8_t* data, size_t size, size_t& header_size);

}  // namespace utt::parquet
