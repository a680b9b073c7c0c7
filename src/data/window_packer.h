// Packing documents into training windows. The token stream of an epoch is every document's
// ids framed by the separators (utt's own tokenizers: followed by end of text,
// doc0 <eos> doc1 <eos> ...; see DocumentFraming); the epoch's first `offset` tokens
// are skipped (a seeded offset below the stride, new each epoch, so window boundaries move
// between epochs), and window k is the stream's tokens
// [offset + k * stride, offset + k * stride + seq_len + 1): seq_len inputs and, shifted by
// one, seq_len targets. stride = seq_len tiles the stream; a smaller stride overlaps windows.
// The tail that does not fill a window is dropped at the end of an epoch, so the number of
// windows depends only on the epoch's token count and offset, never on the shuffle: see
// count_windows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/token_encoder.h"

namespace utt {

// Everything a packer holds between windows: the tokens from the next window's start on,
// the tokens still to skip at the start of the epoch, where documents start in `tokens`
// (offsets, ascending; the first is 0 whenever `tokens` is not empty) and the ordinal in this
// epoch's stream of the document `tokens` starts in.
struct PackerState {
  std::vector<uint32_t> tokens;
  int64_t skip = 0;
  std::vector<int64_t> document_starts;
  int64_t first_document = 0;
  int64_t documents_added = 0;  // documents added this epoch (the next one's ordinal)

  bool operator==(const PackerState&) const = default;
};

class WindowPacker {
 public:
  WindowPacker(int64_t seq_len, int64_t stride);

  // A new epoch's stream, whose first `skip_tokens` tokens are dropped.
  void start(int64_t skip_tokens);
  // Appends one document: the framing's prefix, its ids, the framing's suffix.
  void add_document(const std::vector<uint32_t>& ids, const DocumentFraming& framing);
  bool has_window() const;
  // Copies the next seq_len + 1 tokens to `out`, advances by stride, and returns the ordinal
  // (in this epoch's stream) of the document the window's first token belongs to. With
  // `doc_pos`, also writes the seq_len input tokens' positions inside their documents, counted
  // from the window's start (backend.h's doc_pos: 0 at the window's first token and wherever a
  // document starts, from the packer's own record of where documents start).
  int64_t take_window(uint32_t* out, int32_t* doc_pos = nullptr);

  // All a resumed packer needs.
  PackerState state() const;
  void restore(PackerState state);

 private:
  void compact();

  int64_t window_;  // seq_len + 1
  int64_t stride_;
  std::vector<uint32_t> tokens_;
  size_t begin_ = 0;  // the next window's start in tokens_
  int64_t skip_ = 0;
  // Documents that start in tokens_ (index, ordinal), and the ordinal of the one tokens_[0]
  // belongs to when it started before it.
  std::vector<int64_t> starts_;
  size_t first_start_ = 0;  // starts_[first_start_] is the first that may still matter
  int64_t front_document_ = 0;
  int64_t documents_added_ = 0;
};

// A seeded offset in [0, stride) for one epoch's stream.
int64_t epoch_window_offset(uint64_t seed, int64_t epoch, int64_t stride);

// Windows one epoch of `stream_tokens` tokens (end-of-text separators included) gives when
// its first `offset` tokens are skipped.
int64_t count_windows(int64_t stream_tokens, int64_t seq_len, int64_t stride, int64_t offset = 0);

// Optimizer steps for a whole run: full batches of `batch_size` windows per epoch (a partial
// last batch is dropped; epoch e starts at epoch_window_offset(seed, e, stride)),
// `accumulation` batches per step, over `epochs` epochs.
int64_t count_optimizer_steps(int64_t stream_tokens_per_epoch, int64_t batch_size,
                              int64_t seq_len, int64_t stride, int64_t accumulation,
                              int64_t epochs, uint64_t seed);

}  // namespace utt
