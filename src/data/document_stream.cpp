#include "data/document_stream.h"

#include "data/utf8.h"
#include "util/error.h"

namespace utt {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

bool is_held_out(uint64_t seed, int64_t index, double val_fraction) {
  // A hash of (seed, index) rather than a shuffled list: decidable one document at a time,
  // so streaming needs no pass over the data to know the held-out set.
  const uint64_t h = splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(index));
  return static_cast<double>(h >> 11) * 0x1.0p-53 < val_fraction;
}

DocumentStream::DocumentStream(std::vector<std::string> files, std::string text_column,
                               DocumentSelection selection)
    : files_(std::move(files)), text_column_(std::move(text_column)), selection_(selection) {
  UTT_CHECK(selection_.world >= 1 && selection_.rank >= 0 && selection_.rank < selection_.world,
            "bad shard rank/world");
}

bool DocumentStream::next_row(std::string_view& text, bool& is_null) {
  while (true) {
    if (!reader_) {
      if (file_index_ >= files_.size()) return false;
      reader_ = open_row_reader(files_[file_index_++], text_column_);
      reader_replaced_ = 0;
    }
    const bool got = reader_->next(text, is_null);
    counts_.invalid_utf8_replaced += reader_->invalid_utf8_replaced() - reader_replaced_;
    reader_replaced_ = reader_->invalid_utf8_replaced();
    if (got) return true;
    reader_.reset();
  }
}

bool DocumentStream::next(std::string_view& text) {
  bool is_null = false;
  while (next_row(text, is_null)) {
    ++counts_.rows;
    if (is_null || text.empty()) {
      ++counts_.skipped;
      continue;
    }
    const int64_t index = non_empty_++;
    if (selection_.hold_out != HoldOut::none) {
      const bool held = is_held_out(selection_.seed, index, selection_.val_fraction);
      if (held != (selection_.hold_out == HoldOut::keep_validation)) continue;
    }
    const int64_t selected = selected_++;
    if (selection_.max_documents && selected >= *selection_.max_documents) return false;
    if (selected % selection_.world != selection_.rank) continue;
    if (!is_valid_utf8(text)) {
      counts_.invalid_utf8_replaced += repair_utf8(text, repaired_);
      text = repaired_;
    }
    ++position_;
    return true;
  }
  return false;
}

}  // namespace utt
