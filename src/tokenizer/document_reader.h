// DocumentReader: documents from plain files, for the tokenizer command until the data
// stage brings every source. .txt: one document per line. .jsonl: one JSON object per line,
// the document in `text_column`.
#pragma once

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

class DocumentReader {
 public:
  // Checks that every file can be opened (UserError naming the first that cannot).
  DocumentReader(std::vector<std::string> paths, std::string text_column);

  // The next non-empty document, valid until the next call; false at the end.
  bool next(std::string_view& document);

  uint64_t documents() const { return documents_; }
  uint64_t bytes() const { return bytes_; }

 private:
  bool open_next_file();

  std::vector<std::string> paths_;
  std::string text_column_;
  size_t next_path_ = 0;
  std::ifstream file_;
  bool jsonl_ = false;
  uint64_t line_number_ = 0;
  std::string line_;
  std::string text_;
  uint64_t documents_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace utt
