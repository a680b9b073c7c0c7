// .txt: one row per line, as Hugging Face's "text" loader reads it (line breaks dropped, an
// empty line is an empty row, which DocumentStream skips and counts).
#include "data/byte_stream.h"
#include "data/row_reader.h"
#include "util/error.h"

namespace utt {
namespace {

class TextRows : public RowReader {
 public:
  explicit TextRows(const std::string& path) : lines_(open_byte_stream(path)) {}

  bool next(std::string_view& text, bool& is_null) override {
    if (!lines_.next(line_)) return false;
    text = line_;
    is_null = false;
    return true;
  }

 private:
  LineReader lines_;
  std::string line_;
};

bool has_suffix(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::unique_ptr<RowReader> open_text_rows(const std::string& path) {
  return std::make_unique<TextRows>(path);
}

bool is_supported_data_file(const std::string& path) {
  const std::string name = without_compression_suffix(path);
  for (const char* ext : {".txt", ".text", ".jsonl", ".json", ".ndjson"}) {
    if (has_suffix(name, ext)) return true;
  }
  return name == path && has_suffix(path, ".parquet");
}

std::unique_ptr<RowReader> open_row_reader(const std::string& path,
                                           const std::string& text_column) {
  const std::string name = without_compression_suffix(path);
  if (has_suffix(name, ".txt") || has_suffix(name, ".text")) return open_text_rows(path);
  if (has_suffix(name, ".jsonl") || has_suffix(name, ".json") || has_suffix(name, ".ndjson")) {
    return open_json_rows(path, text_column);
  }
  if (name == path && has_suffix(path, ".parquet")) return open_parquet_rows(path, text_column);
  throw UserError("cannot read " + path +
                  ": utt reads .txt, .jsonl, .json and .parquet files (text and JSON may be "
                  ".gz or .zst compressed)");
}

}  // namespace utt
