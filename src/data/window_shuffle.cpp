#include "data/window_shuffle.h"

#include <algorithm>
#include <numeric>

#include "data/shuffle_buffer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint64_t kBlockOrderPurpose = 4;

}  // namespace

ShuffledWindows::ShuffledWindows(int64_t seq_len, int64_t stride, int64_t block_windows,
                                 DocumentFraming framing)
    : window_(seq_len + 1),
      block_windows_(std::max<int64_t>(1, block_windows)),
      framing_(std::move(framing)),
      packer_(seq_len, stride) {
  UTT_CHECK(block_windows_ <= int64_t{1} << 31, "window block too large");
}

void ShuffledWindows::start_epoch(uint64_t epoch_seed, int64_t offset) {
  epoch_seed_ = epoch_seed;
  packer_.start(offset);
  source_done_ = false;
  filled_ = false;
  block_state_ = WindowBlockState{.block = 0, .packer = packer_.state(), .windows_taken = 0};
}

void ShuffledWindows::resume_epoch(uint64_t epoch_seed, const WindowBlockState& state,
                                   DocumentSource& source) {
  epoch_seed_ = epoch_seed;
  packer_.restore(state.packer);
  source_done_ = false;
  block_state_ = state;
  fill_block(source);
  if (state.block < 0 || state.windows_taken < 0 ||
      state.windows_taken > static_cast<int64_t>(order_.size())) {
    throw UserError("the data loader state does not fit this dataset (its window block is not "
                    "there): resume from another checkpoint");
  }
}

void ShuffledWindows::fill_block(DocumentSource& source) {
  block_tokens_.clear();
  block_documents_.clear();
  block_doc_pos_.clear();
  int64_t n = 0;
  while (n < block_windows_) {
    while (!packer_.has_window() && !source_done_) {
      if (!source.next(document_)) {
        source_done_ = true;
        break;
      }
      packer_.add_document(document_, framing_);
    }
    if (!packer_.has_window()) break;
    block_tokens_.resize(static_cast<size_t>((n + 1) * window_));
    block_doc_pos_.resize(static_cast<size_t>((n + 1) * (window_ - 1)));
    block_documents_.push_back(packer_.take_window(block_tokens_.data() + static_cast<size_t>(n * window_),
                                                   block_doc_pos_.data() + static_cast<size_t>(n * (window_ - 1))));
    ++n;
  }
  // Fisher-Yates with our own generator, so the order is the same on every platform.
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), uint32_t{0});
  SplitMix64 rng(derive_seed(epoch_seed_, kBlockOrderPurpose, static_cast<uint64_t>(block_state_.block)));
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[static_cast<size_t>(rng.below(i))]);
  filled_ = true;
}

bool ShuffledWindows::next(DocumentSource& source, uint32_t* out, int64_t& document, int32_t* doc_pos) {
  if (filled_ && block_state_.windows_taken == static_cast<int64_t>(order_.size())) {
    if (order_.empty()) return false;  // the last block was empty: the epoch is over
    block_state_.block += 1;
    block_state_.packer = packer_.state();
    block_state_.windows_taken = 0;
    filled_ = false;
  }
  if (!filled_) fill_block(source);
  if (order_.empty()) return false;
  const size_t w = order_[static_cast<size_t>(block_state_.windows_taken++)];
  std::copy_n(block_tokens_.begin() + static_cast<std::ptrdiff_t>(w * static_cast<size_t>(window_)), window_, out);
  document = block_documents_[w];
  if (doc_pos != nullptr) {
    const auto inputs = static_cast<size_t>(window_ - 1);
    std::copy_n(block_doc_pos_.begin() + static_cast<std::ptrdiff_t>(w * inputs), inputs, doc_pos);
  }
  return true;
}

}  // namespace utt
