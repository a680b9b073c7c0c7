// Packing documents into training windows. The token stream of an epoch is every document's
// ids followed by end of text (doc0 <eos> doc1 <eos> ...); window k is the stream's tokens
// [k * stride, k * stride + seq_len + 1): seq_len inputs and, shifted by one, seq_len targets.
// stride = seq_len tiles the stream; a smaller stride overlaps windows. The tail that does
// not fill a window is dropped at the end of an epoch, so the number of windows depends only
// on the epoch's token count, never on the shuffle: see count_windows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace utt {

class WindowPacker {
 public:
  WindowPacker(int64_t seq_len, int64_t stride);

  // Appends one document (its ids, then `eos_id`).
  void add_document(const std::vector<uint32_t>& ids, uint32_t eos_id);
  bool has_window() const;
  // Copies the next seq_len + 1 tokens to `out` and advances by stride.
  void take_window(uint32_t* out);

  // The tokens held from the next window's start on: all a resumed packer needs.
  std::vector<uint32_t> pending() const;
  void restore(std::vector<uint32_t> pending);
  void clear();

 private:
  int64_t window_;  // seq_len + 1
  int64_t stride_;
  std::vector<uint32_t> tokens_;
  size_t begin_ = 0;  // the next window's start in tokens_
};

// Windows one epoch of `stream_tokens` tokens (end-of-text separators included) gives.
int64_t count_windows(int64_t stream_tokens, int64_t seq_len, int64_t stride);

// Optimizer steps for a whole run: full batches of `batch_size` windows per epoch (a partial
// last batch is dropped), `accumulation` batches per step, over `epochs` epochs.
int64_t count_optimizer_steps(int64_t stream_tokens_per_epoch, int64_t batch_size,
                              int64_t seq_len, int64_t stride, int64_t accumulation,
                              int64_t epochs);

}  // namespace utt
