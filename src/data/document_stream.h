// DocumentStream: the documents of one split, in file order, as every later stage sees them.
// NULL and empty texts are skipped (and counted), invalid UTF-8 is repaired (and counted),
// and the selection is applied here, once, for streaming and the token cache alike:
//   - a seeded held-out share (--val-fraction) when the dataset has no validation split,
//   - the cap (--max-train-examples / --max-val-examples), counted before sharding so every
//     rank agrees on which documents are in,
//   - sharding: document j of the selection goes to rank j % world, so shares are disjoint,
//     balanced (sizes differ by at most one) and together cover the selection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/row_reader.h"

namespace utt {

enum class HoldOut { none, keep_train, keep_validation };

struct DocumentSelection {
  HoldOut hold_out = HoldOut::none;
  double val_fraction = 0.0;  // share of documents held out for validation
  uint64_t seed = 0;          // decides which documents are held out
  std::optional<int64_t> max_documents;
  int64_t rank = 0;
  int64_t world = 1;
};

struct DocumentCounts {
  int64_t rows = 0;                   // rows read, NULL and empty included
  int64_t skipped = 0;                // NULL or empty texts
  int64_t invalid_utf8_replaced = 0;  // U+FFFD substitutions
};

// True when document `index` (among the non-empty documents of a split) is held out.
bool is_held_out(uint64_t seed, int64_t index, double val_fraction);

class DocumentStream {
 public:
  DocumentStream(std::vector<std::string> files, std::string text_column,
                 DocumentSelection selection = {});

  // The next selected document; `text` stays valid until the next call. False at the end.
  bool next(std::string_view& text);

  const DocumentCounts& counts() const { return counts_; }
  // Documents returned so far.
  int64_t position() const { return position_; }

 private:
  bool next_row(std::string_view& text, bool& is_null);

  std::vector<std::string> files_;
  std::string text_column_;
  DocumentSelection selection_;
  size_t file_index_ = 0;
  std::unique_ptr<RowReader> reader_;
  int64_t reader_replaced_ = 0;  // the current reader's count already added to counts_
  std::string repaired_;
  DocumentCounts counts_;
  int64_t non_empty_ = 0;  // non-empty documents seen (the hold-out index)
  int64_t selected_ = 0;   // documents of this part seen (the cap and shard index)
  int64_t position_ = 0;
};

}  // namespace utt
