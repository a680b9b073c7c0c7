#include "data/window_packer.h"

#include <algorithm>

#include "util/error.h"

namespace utt {

WindowPacker::WindowPacker(int64_t seq_len, int64_t stride) : window_(seq_len + 1), stride_(stride) {
  UTT_CHECK(seq_len >= 1 && stride >= 1 && stride <= seq_len, "bad seq_len/stride");
}

void WindowPacker::add_document(const std::vector<uint32_t>& ids, uint32_t eos_id) {
  // Compact once the consumed prefix dominates, so memory stays about one window plus one
  // document.
  if (begin_ > 0 && begin_ >= tokens_.size() / 2) {
    tokens_.erase(tokens_.begin(), tokens_.begin() + static_cast<std::ptrdiff_t>(begin_));
    begin_ = 0;
  }
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());
  tokens_.push_back(eos_id);
}

bool WindowPacker::has_window() const {
  return static_cast<int64_t>(tokens_.size() - begin_) >= window_;
}

void WindowPacker::take_window(uint32_t* out) {
  UTT_CHECK(has_window(), "take_window without a full window");
  std::copy_n(tokens_.begin() + static_cast<std::ptrdiff_t>(begin_), window_, out);
  begin_ += static_cast<size_t>(stride_);
}

std::vector<uint32_t> WindowPacker::pending() const {
  const size_t from = std::min(begin_, tokens_.size());
  return std::vector<uint32_t>(tokens_.begin() + static_cast<std::ptrdiff_t>(from), tokens_.end());
}

void WindowPacker::restore(std::vector<uint32_t> pending) {
  tokens_ = std::move(pending);
  begin_ = 0;
}

void WindowPacker::clear() {
  tokens_.clear();
  begin_ = 0;
}

int64_t count_windows(int64_t stream_tokens, int64_t seq_len, int64_t stride) {
  if (stream_tokens < seq_len + 1) return 0;
  return (stream_tokens - (seq_len + 1)) / stride + 1;
}

int64_t count_optimizer_steps(int64_t stream_tokens_per_epoch, int64_t batch_size,
                              int64_t seq_len, int64_t stride, int64_t accumulation,
                              int64_t epochs) {
  UTT_CHECK(batch_size >= 1 && accumulation >= 1 && epochs >= 0, "bad step-count arguments");
  const int64_t batches = count_windows(stream_tokens_per_epoch, seq_len, stride) / batch_size;
  return batches * epochs / accumulation;
}

}  // namespace utt
