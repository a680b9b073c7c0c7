#include "tokenizer/document_reader.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace utt {
namespace {

bool is_jsonl(const std::string& path) {
  return path.ends_with(".jsonl") || path.ends_with(".json") || path.ends_with(".ndjson");
}

}  // namespace

DocumentReader::DocumentReader(std::vector<std::string> paths, std::string text_column)
    : paths_(std::move(paths)), text_column_(std::move(text_column)) {
  if (paths_.empty()) throw UserError("no input files: give at least one with --input");
  for (const std::string& path : paths_) {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw UserError("cannot read input file " + path + ": check the path");
  }
}

bool DocumentReader::open_next_file() {
  if (next_path_ >= paths_.size()) return false;
  const std::string& path = paths_[next_path_++];
  file_ = std::ifstream(path, std::ios::binary);
  if (!file_) throw UserError("cannot read input file " + path + ": check the path");
  jsonl_ = is_jsonl(path);
  line_number_ = 0;
  return true;
}

bool DocumentReader::next(std::string_view& document) {
  while (true) {
    if (!file_.is_open() || !std::getline(file_, line_)) {
      if (file_.is_open() && file_.bad()) {
        throw UserError("reading " + paths_[next_path_ - 1] + " failed");
      }
      file_.close();
      if (!open_next_file()) return false;
      continue;
    }
    ++line_number_;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) continue;
    if (jsonl_) {
      const std::string& path = paths_[next_path_ - 1];
      const std::string where = path + " line " + std::to_string(line_number_);
      nlohmann::json row;
      try {
        row = nlohmann::json::parse(line_);
      } catch (const nlohmann::json::parse_error&) {
        throw UserError(where + " is not valid JSON: each line of a .jsonl file must be one object");
      }
      auto field = row.is_object() ? row.find(text_column_) : row.end();
      if (!row.is_object() || field == row.end() || !field->is_string()) {
        throw UserError(where + " has no string field '" + text_column_ +
                        "': choose the text field with --text-column");
      }
      text_ = field->get<std::string>();
      if (text_.empty()) continue;
      document = text_;
    } else {
      document = line_;
    }
    ++documents_;
    bytes_ += document.size();
    return true;
  }
}

}  // namespace utt
