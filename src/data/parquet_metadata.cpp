#include "data/parquet_metadata.h"

#include <limits>

namespace utt::parquet {
namespace {

int32_t to_i32(int64_t value) {
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
    throw ParquetFormatError("32-bit metadata field out of range");
  }
  return static_cast<int32_t>(value);
}

// Reads a list<struct> field, calling read_one for each element.
template <typename ReadOne>
void read_struct_list(CompactReader& in, uint8_t type, ReadOne read_one) {
  if (type != thrift::kList) {
    in.skip(type);
    return;
  }
  uint8_t element_type = 0;
  int64_t size = 0;
  in.read_list_header(element_type, size);
  for (int64_t i = 0; i < size; ++i) {
    if (element_type == thrift::kStruct) {
      read_one();
    } else {
      in.skip(element_type);
    }
  }
}

SchemaElement read_schema_element(CompactReader& in) {
  SchemaElement element;
  in.begin_struct();
  int16_t id = 0;
  uint8_t type = 0;
  while (in.next_field(id, type)) {
    if (id == 1) element.type = static_cast<PhysicalType>(to_i32(in.read_int(type)));
    else if (id == 3) element.repetition_type = static_cast<Repetition>(to_i32(in.read_int(type)));
    else if (id == 4 && type == thrift::kBinary) element.name = in.read_binary();
    else if (id == 5) element.num_children = to_i32(in.read_int(type));
    else in.skip(type);
  }
  return element;
}

ColumnMetaData read_column_meta_data(CompactReader& in) {
  ColumnMetaData meta;
  in.begin_struct();
  int16_t id = 0;
  uint8_t type = 0;
  while (in.next_field(id, type)) {
    if (id == 1) meta.type = static_cast<PhysicalType>(to_i32(in.read_int(type)));
    else if (id == 4) meta.codec = static_cast<Codec>(to_i32(in.read_int(type)));
    else if (id == 5) meta.num_values = in.read_int(type);
    else if (id == 7) meta.total_compressed_size = in.read_int(type);
    else if (id == 9) meta.data_page_offset = in.read_int(type);
    else if (id == 11) meta.dictionary_page_offset = in.read_int(type);
    else in.skip(type);
  }
  return meta;
}

ColumnChunk read_column_chunk(CompactReader& in) {
  ColumnChunk chunk;
  in.begin_struct();
  int16_t id = 0;
  uint8_t type = 0;
  while (in.next_field(id, type)) {
    if (id == 1 && type == thrift::kBinary) chunk.file_path = in.read_binary();
    else if (id == 3 && type == thrift::kStruct) chunk.meta_data = read_column_meta_data(in);
    else in.skip(type);
  }
  return chunk;
}

RowGroup read_row_group(CompactReader& in) {
  RowGroup group;
  in.begin_struct();
  int16_t id = 0;
  uint8_t type = 0;
  while (in.next_field(id, type)) {
    if (id == 1) {
      read_struct_list(in, type, [&] { group.columns.push_back(read_column_chunk(in)); });
    } else if (id == 3) {
      group.num_rows = in.read_int(type);
    } else {
      in.skip(type);
    }
  }
  return group;
}

}  // namespace

FileMetaData read_file_metadata(const uint8_t* data, size_t size) {
  CompactReader in(data, size);
  FileMetaData file;
  in.begin_struct();
  int16_t id = 0;
  uint8_t type = 0;
  while (in.next_field(id, type)) {
    if (id == 2) {
      read_struct_list(in, type, [&] { file.schema.push_back(read_schema_element(in)); });
    } else if (id == 3) {
      file.num_rows = in.read_int(type);
    } else if (id == 4) {
      read_struct_list(in, type, [&] { file.row_groups.push_back(read_row_group(in)); });
    } else {
      in.skip(type);
    }
  }
  return file;
}

PageHeader read_page_header(const uint8_t* data, size_t size, size_t& header_size) {
  CompactReader in(data, size);
  PageHeader page;
  in.begin_struct();
  int16_t id = 0;
  uint8_t type = 0;
  while (in.next_field(id, type)) {
    if (id == 1) {
      page.type = static_cast<PageType>(to_i32(in.read_int(type)));
    } else if (id == 2) {
      page.uncompressed_page_size = to_i32(in.read_int(type));
    } else if (id == 3) {
      page.compressed_page_size = to_i32(in.read_int(type));
    } else if (id == 5 && type == thrift::kStruct) {
      DataPageHeader& h = page.data_page_header.emplace();
      in.begin_struct();
      int16_t sub = 0;
      uint8_t sub_type = 0;
      while (in.next_field(sub, sub_type)) {
        if (sub == 1) h.num_values = to_i32(in.read_int(sub_type));
        else if (sub == 2) h.encoding = static_cast<Encoding>(to_i32(in.read_int(sub_type)));
        else if (sub == 3) h.definition_level_encoding = static_cast<Encoding>(to_i32(in.read_int(sub_type)));
        else in.skip(sub_type);
      }
    } else if (id == 7 && type == thrift::kStruct) {
      DictionaryPageHeader& h = page.dictionary_page_header.emplace();
      in.begin_struct();
      int16_t sub = 0;
      uint8_t sub_type = 0;
      while (in.next_field(sub, sub_type)) {
        if (sub == 1) h.num_values = to_i32(in.read_int(sub_type));
        else if (sub == 2) h.encoding = static_cast<Encoding>(to_i32(in.read_int(sub_type)));
        else in.skip(sub_type);
      }
    } else if (id == 8 && type == thrift::kStruct) {
      DataPageHeaderV2& h = page.data_page_header_v2.emplace();
      in.begin_struct();
      int16_t sub = 0;
      uint8_t sub_type = 0;
      while (in.next_field(sub, sub_type)) {
        if (sub == 1) h.num_values = to_i32(in.read_int(sub_type));
        else if (sub == 2) h.num_nulls = to_i32(in.read_int(sub_type));
        else if (sub == 3) h.num_rows = to_i32(in.read_int(sub_type));
        else if (sub == 4) h.encoding = static_cast<Encoding>(to_i32(in.read_int(sub_type)));
        else if (sub == 5) h.definition_levels_byte_length = to_i32(in.read_int(sub_type));
        else if (sub == 6) h.repetition_levels_byte_length = to_i32(in.read_int(sub_type));
        else if (sub == 7) h.is_compressed = in.read_bool(sub_type);
        else in.skip(sub_type);
      }
    } else {
      in.skip(type);
    }
  }
  header_size = in.offset();
  return page;
}

}  // namespace utt::parquet
