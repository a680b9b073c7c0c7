// Reading the text column of one local file, row by row. One implementation per format:
// text lines (.txt), JSON Lines / JSON arrays (.jsonl, .json), Parquet (.parquet); text and
// JSON may be .gz or .zst compressed. Rows come back raw: NULLs are reported as such and
// UTF-8 is repaired by the caller (DocumentStream), so every format is treated alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace utt {

class RowReader {
 public:
  virtual ~RowReader() = default;
  // Reads the next row: its text in `text` (valid until the next call), or is_null = true
  // for a NULL or missing value. Returns false at the end of the file.
  virtual bool next(std::string_view& text, bool& is_null) = 0;
  // Invalid UTF-8 the reader had to repair before parsing (JSON); the text it returns is valid.
  virtual int64_t invalid_utf8_replaced() const { return 0; }
};

// True for the file names utt can read (by extension, compression suffix allowed).
bool is_supported_data_file(const std::string& path);

std::unique_ptr<RowReader> open_row_reader(const std::string& path,
                                           const std::string& text_column);

std::unique_ptr<RowReader> open_text_rows(const std::string& path);
std::unique_ptr<RowReader> open_json_rows(const std::string& path, const std::string& text_column);
std::unique_ptr<RowReader> open_parquet_rows(const std::string& path,
                                             const std::string& text_column);

}  // namespace utt
