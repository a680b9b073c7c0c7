#include "data/window_packer.h"

#include <algorithm>

#include "data/shuffle_buffer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint64_t kWindowOffsetPurpose = 3;

}  // namespace

WindowPacker::WindowPacker(int64_t seq_len, int64_t stride) : window_(seq_len + 1), stride_(stride) {
  UTT_CHECK(seq_len >= 1 && stride >= 1 && stride <= seq_len, "bad seq_len/stride");
}

void WindowPacker::start(int64_t skip_tokens) {
  UTT_CHECK(skip_tokens >= 0, "negative skip");
  PackerState fresh;
  fresh.skip = skip_tokens;
  restore(std::move(fresh));
}

// Drops the consumed prefix, so memory stays about one window plus one document.
void WindowPacker::compact() {
  if (begin_ == tokens_.size()) {
    tokens_.clear();
    starts_.clear();
    first_start_ = 0;
    begin_ = 0;
    return;
  }
  while (first_start_ + 1 < starts_.size() && starts_[first_start_ + 1] <= static_cast<int64_t>(begin_)) {
    ++first_start_;
  }
  tokens_.erase(tokens_.begin(), tokens_.begin() + static_cast<std::ptrdiff_t>(begin_));
  front_document_ += static_cast<int64_t>(first_start_);
  starts_.erase(starts_.begin(), starts_.begin() + static_cast<std::ptrdiff_t>(first_start_));
  for (int64_t& start : starts_) start = std::max<int64_t>(0, start - static_cast<int64_t>(begin_));
  first_start_ = 0;
  begin_ = 0;
}

void WindowPacker::add_document(const std::vector<uint32_t>& ids, const DocumentFraming& framing) {
  if (begin_ > 0 && begin_ >= tokens_.size() / 2) compact();
  const int64_t ordinal = documents_added_++;
  int64_t dropped = 0;  // of this document's tokens, by the epoch's offset
  if (skip_ > 0) {
    const int64_t length = static_cast<int64_t>(ids.size()) + framing.size();
    dropped = std::min(skip_, length);
    skip_ -= dropped;
    if (dropped == length) return;
  }
  if (starts_.empty()) front_document_ = ordinal;
  starts_.push_back(static_cast<int64_t>(tokens_.size()));
  // Appends the part of `piece` after the first `dropped` tokens of the document.
  auto append = [&](const std::vector<uint32_t>& piece) {
    const auto skip = static_cast<size_t>(std::min<int64_t>(dropped, static_cast<int64_t>(piece.size())));
    tokens_.insert(tokens_.end(), piece.begin() + static_cast<std::ptrdiff_t>(skip), piece.end());
    dropped -= static_cast<int64_t>(skip);
  };
  append(framing.prefix);
  append(ids);
  append(framing.suffix);
}

bool WindowPacker::has_window() const {
  return static_cast<int64_t>(tokens_.size() - begin_) >= window_;
}

int64_t WindowPacker::take_window(uint32_t* out, int32_t* doc_pos) {
  UTT_CHECK(has_window(), "take_window without a full window");
  while (first_start_ + 1 < starts_.size() && starts_[first_start_ + 1] <= static_cast<int64_t>(begin_)) {
    ++first_start_;
  }
  std::copy_n(tokens_.begin() + static_cast<std::ptrdiff_t>(begin_), window_, out);
  if (doc_pos != nullptr) {
    size_t next = first_start_ + 1;  // the first document starting after the window's first token
    int32_t position = 0;
    for (int64_t t = 0; t + 1 < window_; ++t) {
      while (next < starts_.size() && starts_[next] <= static_cast<int64_t>(begin_) + t) {
        position = 0;
        ++next;
      }
      doc_pos[t] = position++;
    }
  }
  begin_ += static_cast<size_t>(stride_);
  return front_document_ + static_cast<int64_t>(first_start_);
}

PackerState WindowPacker::state() const {
  PackerState state;
  state.skip = skip_;
  state.documents_added = documents_added_;
  state.first_document = documents_added_;
  if (begin_ >= tokens_.size()) return state;
  size_t first = first_start_;
  while (first + 1 < starts_.size() && starts_[first + 1] <= static_cast<int64_t>(begin_)) ++first;
  state.tokens.assign(tokens_.begin() + static_cast<std::ptrdiff_t>(begin_), tokens_.end());
  state.first_document = front_document_ + static_cast<int64_t>(first);
  for (size_t i = first; i < starts_.size(); ++i) {
    state.document_starts.push_back(std::max<int64_t>(0, starts_[i] - static_cast<int64_t>(begin_)));
  }
  return state;
}

void WindowPacker::restore(PackerState state) {
  tokens_ = std::move(state.tokens);
  skip_ = state.skip;
  starts_ = std::move(state.document_starts);
  front_document_ = state.first_document;
  documents_added_ = state.documents_added;
  begin_ = 0;
  first_start_ = 0;
  // A state from a damaged file must not index outside the tokens.
  const bool starts_fit = std::is_sorted(starts_.begin(), starts_.end()) &&
                          (starts_.empty() ? tokens_.empty() : starts_.front() == 0) &&
                          (starts_.empty() || starts_.back() < static_cast<int64_t>(tokens_.size()));
  if (!starts_fit || skip_ < 0 || (skip_ > 0 && !tokens_.empty())) {
    throw UserError("the data loader state is damaged (document starts do not fit its tokens): "
                    "resume from another checkpoint");
  }
}

int64_t epoch_window_offset(uint64_t seed, int64_t epoch, int64_t stride) {
  UTT_CHECK(stride >= 1 && epoch >= 0, "bad offset arguments");
  return static_cast<int64_t>(derive_seed(seed, kWindowOffsetPurpose, static_cast<uint64_t>(epoch)) %
                              static_cast<uint64_t>(stride));
}

int64_t count_windows(int64_t stream_tokens, int64_t seq_len, int64_t stride, int64_t offset) {
  const int64_t tokens = stream_tokens - offset;
  if (tokens < seq_len + 1) return 0;
  return (tokens - (seq_len + 1)) / stride + 1;
}

int64_t count_optimizer_steps(int64_t stream_tokens_per_epoch, int64_t batch_size,
                              int64_t seq_len, int64_t stride, int64_t accumulation,
                              int64_t epochs, uint64_t seed) {
  UTT_CHECK(batch_size >= 1 && accumulation >= 1 && epochs >= 0, "bad step-count arguments");
  int64_t batches = 0;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const int64_t offset = epoch_window_offset(seed, epoch, stride);
    batches += count_windows(stream_tokens_per_epoch, seq_len, stride, offset) / batch_size;
  }
  return batches / accumulation;
}

}  // namespace utt
