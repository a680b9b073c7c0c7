// .parquet: one top-level text column (BYTE_ARRAY; REQUIRED or OPTIONAL), read page by page
// across every row group. Layout and encodings per apache/parquet-format (README.md,
// Encodings.md); see /docs/architecture.md for what is and is not supported. Every offset
// and length from the file is checked against the bytes that exist before it is used.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "data/mapped_file.h"
#include "data/parquet_census.h"
#include "data/parquet_codec.h"
#include "data/parquet_delta.h"
#include "data/parquet_metadata.h"
#include "data/parquet_values.h"
#include "data/row_reader.h"
#include "util/error.h"

namespace utt {
namespace {

using namespace parquet;

// No real text page is near this; a header claiming more is corrupt, and refusing it keeps a
// hostile file from making us allocate gigabytes.
constexpr int64_t kMaxPageBytes = int64_t{1} << 30;

class ParquetRows : public RowReader {
 public:
  ParquetRows(const std::string& path, const std::string& column)
      : path_(path), column_(column), file_(path) {
    try {
      open();
    } catch (const ParquetFormatError& error) {
      fail(error.what());
    }
  }

  const ParquetPageCensus& census() const { return census_; }

  bool next(std::string_view& text, bool& is_null) override {
    try {
      while (row_in_page_ >= page_rows_) {
        if (!next_page()) return false;
      }
      const size_t row = row_in_page_++;
      if (!page_defs_.empty() && page_defs_[row] < static_cast<uint32_t>(max_def_)) {
        is_null = true;
        return true;
      }
      if (value_in_page_ >= page_values_.size()) throw ParquetFormatError("fewer values than levels");
      text = page_values_[value_in_page_++];
      is_null = false;
      return true;
    } catch (const ParquetFormatError& error) {
      fail(error.what());
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(path_ + " is not a Parquet file utt can read: " + what);
  }

  void open() {
    const uint8_t* data = file_.data();
    const size_t size = file_.size();
    if (size < 12 || std::memcmp(data, "PAR1", 4) != 0) {
      throw ParquetFormatError("it does not start with the PAR1 magic (truncated or not Parquet)");
    }
    if (std::memcmp(data + size - 4, "PARE", 4) == 0) {
      throw ParquetFormatError("it is encrypted; decrypt it first");
    }
    if (std::memcmp(data + size - 4, "PAR1", 4) != 0) {
      throw ParquetFormatError("it does not end with the PAR1 magic (the file is truncated)");
    }
    const uint32_t footer_length = load_u32(data + size - 8);
    if (uint64_t{footer_length} + 12 > size) throw ParquetFormatError("footer length past the file");
    footer_start_ = size - 8 - footer_length;
    metadata_ = read_file_metadata(data + footer_start_, footer_length);
    find_column();
  }

  // Walks the flattened schema depth-first to find the leaf named `column_` at the top level.
  void find_column() {
    const auto& schema = metadata_.schema;
    if (schema.empty()) throw ParquetFormatError("empty schema");
    std::vector<std::string> names;
    size_t index = 1;
    int leaf = 0;
    // Each top-level field is a subtree; count its leaves to keep leaf indices right.
    for (int32_t child = 0; child < schema[0].num_children; ++child) {
      if (index >= schema.size()) throw ParquetFormatError("schema has fewer elements than it says");
      const SchemaElement& field = schema[index];
      names.push_back(field.name);
      int leaves = 0;
      size_t end = subtree_end(index, leaves);
      if (field.name == column_) {
        if (field.num_children > 0 || field.repetition_type == Repetition::repeated) {
          throw UserError("column '" + column_ + "' in " + path_ +
                          " is a list or struct, not text: choose a text column with --text-column");
        }
        if (field.type != PhysicalType::byte_array) {
          throw UserError("column '" + column_ + "' in " + path_ +
                          " is not a string column: choose a text column with --text-column");
        }
        leaf_index_ = leaf;
        max_def_ = field.repetition_type == Repetition::optional ? 1 : 0;
        return;
      }
      leaf += leaves;
      index = end;
    }
    std::string list;
    for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
    throw UserError("column '" + column_ + "' not found in " + path_ + ": the columns are " +
                    (list.empty() ? "(none)" : list) + "; choose one with --text-column");
  }

  // One past the last schema element of the subtree at `index`; counts its leaves.
  size_t subtree_end(size_t index, int& leaves, int depth = 0) const {
    if (depth > 64) throw ParquetFormatError("schema nested too deeply");
    if (index >= metadata_.schema.size()) throw ParquetFormatError("schema ends early");
    const SchemaElement& element = metadata_.schema[index];
    if (element.num_children <= 0) {
      ++leaves;
      return index + 1;
    }
    size_t next = index + 1;
    for (int32_t i = 0; i < element.num_children; ++i) next = subtree_end(next, leaves, depth + 1);
    return next;
  }

  // Positions the cursor at the next row group's column chunk.
  bool next_chunk() {
    if (row_group_ >= metadata_.row_groups.size()) return false;
    const RowGroup& group = metadata_.row_groups[row_group_++];
    if (leaf_index_ >= static_cast<int>(group.columns.size())) {
      throw ParquetFormatError("row group lacks the column");
    }
    const ColumnChunk& chunk = group.columns[static_cast<size_t>(leaf_index_)];
    if (chunk.file_path) throw ParquetFormatError("column data lives in another file");
    if (!chunk.meta_data) throw ParquetFormatError("column chunk without metadata");
    meta_ = *chunk.meta_data;
    ++census_.row_groups;
    census_.codecs.insert(static_cast<int>(meta_.codec));
    int64_t start = meta_.data_page_offset;
    // Arrow's ComputeColumnChunkRange guard: trust the dictionary offset only when it lies
    // before the data pages.
    if (meta_.dictionary_page_offset && *meta_.dictionary_page_offset > 0 &&
        *meta_.dictionary_page_offset < start) {
      start = *meta_.dictionary_page_offset;
    }
    if (start < 4 || meta_.total_compressed_size < 0 ||
        static_cast<uint64_t>(start) > footer_start_ ||
        static_cast<uint64_t>(meta_.total_compressed_size) > footer_start_ - static_cast<uint64_t>(start)) {
      throw ParquetFormatError("column chunk lies outside the file");
    }
    cursor_ = static_cast<size_t>(start);
    chunk_end_ = cursor_ + static_cast<size_t>(meta_.total_compressed_size);
    values_left_ = meta_.num_values;
    dictionary_.clear();
    has_dictionary_ = false;
    return true;
  }

  bool next_page() {
    while (true) {
      if (values_left_ <= 0 || cursor_ >= chunk_end_) {
        if (values_left_ > 0) throw ParquetFormatError("column chunk ends before its values");
        if (!next_chunk()) return false;
        continue;
      }
      size_t header_size = 0;
      const PageHeader header =
          read_page_header(file_.data() + cursor_, chunk_end_ - cursor_, header_size);
      cursor_ += header_size;
      if (header.compressed_page_size < 0 || header.uncompressed_page_size < 0 ||
          header.uncompressed_page_size > kMaxPageBytes ||
          static_cast<size_t>(header.compressed_page_size) > chunk_end_ - cursor_) {
        throw ParquetFormatError("page size past the column chunk");
      }
      const uint8_t* body = file_.data() + cursor_;
      const size_t body_size = static_cast<size_t>(header.compressed_page_size);
      cursor_ += body_size;
      if (header.type == PageType::dictionary_page && header.dictionary_page_header) {
        read_dictionary(header, body, body_size);
        ++census_.dictionary_pages;
      } else if (header.type == PageType::data_page && header.data_page_header) {
        read_data_page_v1(header, body, body_size);
        ++census_.data_pages_v1;
        return true;
      } else if (header.type == PageType::data_page_v2 && header.data_page_header_v2) {
        read_data_page_v2(header, body, body_size);
        ++census_.data_pages_v2;
        return true;
      }
      // Index pages and unknown page types carry nothing we need.
    }
  }

  void read_dictionary(const PageHeader& header, const uint8_t* body, size_t size) {
    const DictionaryPageHeader& dict = *header.dictionary_page_header;
    if (dict.encoding != Encoding::plain && dict.encoding != Encoding::plain_dictionary) {
      throw ParquetFormatError("dictionary page with unsupported encoding " +
                               std::to_string(static_cast<int>(dict.encoding)));
    }
    if (dict.num_values < 0) throw ParquetFormatError("negative dictionary size");
    decompress(meta_.codec, body, size, static_cast<size_t>(header.uncompressed_page_size),
               dictionary_buffer_);
    decode_plain_strings(reinterpret_cast<const uint8_t*>(dictionary_buffer_.data()),
                         dictionary_buffer_.size(), static_cast<size_t>(dict.num_values),
                         dictionary_);
    has_dictionary_ = true;
  }

  void read_data_page_v1(const PageHeader& header, const uint8_t* body, size_t size) {
    const DataPageHeader& page = *header.data_page_header;
    if (page.num_values < 0) throw ParquetFormatError("negative value count");
    decompress(meta_.codec, body, size, static_cast<size_t>(header.uncompressed_page_size),
               page_buffer_);
    const auto* data = reinterpret_cast<const uint8_t*>(page_buffer_.data());
    size_t at = 0;
    const size_t n = static_cast<size_t>(page.num_values);
    page_defs_.clear();
    if (max_def_ > 0) {
      if (page.definition_level_encoding != Encoding::rle) {
        throw ParquetFormatError("definition levels in encoding " +
                                 std::to_string(static_cast<int>(page.definition_level_encoding)) +
                                 " (only RLE is supported)");
      }
      if (page_buffer_.size() < 4) throw ParquetFormatError("levels past the page");
      const uint32_t length = load_u32(data);
      at = 4;
      if (length > page_buffer_.size() - at) throw ParquetFormatError("levels past the page");
      decode_hybrid(data + at, length, bit_width_of(max_def_), n, page_defs_);
      at += length;
    }
    decode_values(page.encoding, data + at, page_buffer_.size() - at, n);
  }

  void read_data_page_v2(const PageHeader& header, const uint8_t* body, size_t size) {
    const DataPageHeaderV2& page = *header.data_page_header_v2;
    if (page.num_values < 0 || page.definition_levels_byte_length < 0 ||
        page.repetition_levels_byte_length < 0) {
      throw ParquetFormatError("negative size in a v2 page header");
    }
    const size_t rep_bytes = static_cast<size_t>(page.repetition_levels_byte_length);
    const size_t def_bytes = static_cast<size_t>(page.definition_levels_byte_length);
    if (rep_bytes + def_bytes > size ||
        rep_bytes + def_bytes > static_cast<size_t>(header.uncompressed_page_size)) {
      throw ParquetFormatError("levels past the page");
    }
    const size_t n = static_cast<size_t>(page.num_values);
    page_defs_.clear();
    if (max_def_ > 0) decode_hybrid(body + rep_bytes, def_bytes, bit_width_of(max_def_), n, page_defs_);
    const uint8_t* values = body + rep_bytes + def_bytes;
    const size_t values_size = size - rep_bytes - def_bytes;
    const size_t expected = static_cast<size_t>(header.uncompressed_page_size) - rep_bytes - def_bytes;
    if (page.is_compressed) {
      decompress(meta_.codec, values, values_size, expected, page_buffer_);
    } else {
      decompress(Codec::uncompressed, values, values_size, expected, page_buffer_);
    }
    decode_values(page.encoding, reinterpret_cast<const uint8_t*>(page_buffer_.data()),
                  page_buffer_.size(), n);
  }

  // `levels` rows; the values are those whose definition level is the maximum.
  void decode_values(Encoding encoding, const uint8_t* data, size_t size, size_t levels) {
    size_t present = levels;
    if (max_def_ > 0) {
      present = static_cast<size_t>(std::count(page_defs_.begin(), page_defs_.end(),
                                               static_cast<uint32_t>(max_def_)));
    }
    if (encoding == Encoding::plain) {
      decode_plain_strings(data, size, present, page_values_);
    } else if (encoding == Encoding::plain_dictionary || encoding == Encoding::rle_dictionary) {
      if (!has_dictionary_) throw ParquetFormatError("dictionary-encoded page without a dictionary");
      if (size < 1 && present > 0) throw ParquetFormatError("missing index bit width");
      const int bit_width = size > 0 ? data[0] : 0;
      decode_hybrid(data + (size > 0 ? 1 : 0), size > 0 ? size - 1 : 0, bit_width, present, indices_);
      page_values_.clear();
      for (uint32_t index : indices_) {
        if (index >= dictionary_.size()) throw ParquetFormatError("dictionary index out of range");
        page_values_.push_back(dictionary_[index]);
      }
    } else if (encoding == Encoding::delta_length_byte_array) {
      decode_delta_length_byte_array(data, size, present, page_values_);
    } else if (encoding == Encoding::delta_byte_array) {
      decode_delta_byte_array(data, size, present, delta_storage_, page_values_);
    } else {
      throw ParquetFormatError("unsupported encoding " + std::to_string(static_cast<int>(encoding)) +
                               " in column '" + column_ + "' (utt reads PLAIN, dictionary and "
                               "delta string encodings): rewrite the file with pyarrow or DuckDB "
                               "defaults");
    }
    census_.value_encodings.insert(static_cast<int>(encoding));
    census_.rows += static_cast<int64_t>(levels);
    page_rows_ = levels;
    row_in_page_ = 0;
    value_in_page_ = 0;
    values_left_ -= static_cast<int64_t>(levels);
  }

  std::string path_;
  std::string column_;
  MappedFile file_;
  FileMetaData metadata_;
  size_t footer_start_ = 0;
  int leaf_index_ = 0;
  int max_def_ = 0;

  size_t row_group_ = 0;
  ColumnMetaData meta_;
  size_t cursor_ = 0;
  size_t chunk_end_ = 0;
  int64_t values_left_ = 0;

  std::string dictionary_buffer_;
  std::vector<std::string_view> dictionary_;
  bool has_dictionary_ = false;

  std::string page_buffer_;
  std::string delta_storage_;
  std::vector<uint32_t> page_defs_;
  std::vector<uint32_t> indices_;
  std::vector<std::string_view> page_values_;
  size_t page_rows_ = 0;
  size_t row_in_page_ = 0;
  size_t value_in_page_ = 0;
  ParquetPageCensus census_;
};

}  // namespace

ParquetPageCensus parquet_page_census(const std::string& path, const std::string& column) {
  ParquetRows rows(path, column);
  std::string_view text;
  bool is_null = false;
  while (rows.next(text, is_null)) {
  }
  return rows.census();
}

std::unique_ptr<RowReader> open_parquet_rows(const std::string& path, const std::string& column) {
  return std::make_unique<ParquetRows>(path, column);
}

}  // namespace utt
