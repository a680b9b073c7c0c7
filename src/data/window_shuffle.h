// Shuffling packed windows, so that a batch mixes many documents.
//
// Documents are shuffled before packing (the shuffle buffer, or the token cache's permutation),
// but a document longer than a window is cut into consecutive windows: on a corpus of long
// documents, a batch taken in stream order is B neighbouring windows of one document, and
// training measurably suffers (docs/benchmarks.md, "Batches from across the corpus").
// So the packed windows of an epoch are cut into blocks of `block_windows` consecutive windows,
// and each block is emitted in a seeded random order: a batch is B windows drawn from the whole
// block, that is from every document the block holds. A block is about as many tokens as
// --window-shuffle-size says (by default 4M tokens), so it spans many documents; when an
// epoch fits in one block, its windows are fully shuffled.
//
// Why blocks and not a running shuffle buffer of windows: a block can be rebuilt exactly from
// where it started (the packer's state and the documents taken before it), so a resumed run
// re-tokenizes at most one block instead of storing the buffer in every checkpoint or
// re-tokenizing the whole epoch.
#pragma once

#include <cstdint>
#include <vector>

#include "data/window_packer.h"

namespace utt {

// Where a loader's documents come from: the streaming pipeline or the token cache.
class DocumentSource {
 public:
  virtual ~DocumentSource() = default;
  // The next document's ids (without end of text); false at the end of the epoch.
  virtual bool next(std::vector<uint32_t>& ids) = 0;
};

// Where a block started and how far it has been emitted: with the epoch's seeds, all that is
// needed to rebuild the block and continue (the documents taken before the block are
// packer.documents_added).
struct WindowBlockState {
  int64_t block = 0;          // the block's number in this epoch
  PackerState packer;         // the packer when the block started
  int64_t windows_taken = 0;  // windows of the block already emitted

  bool operator==(const WindowBlockState&) const = default;
};

class ShuffledWindows {
 public:
  // block_windows <= 1 emits windows in stream order.
  ShuffledWindows(int64_t seq_len, int64_t stride, int64_t block_windows, DocumentFraming framing);

  // A new epoch: its stream skips `offset` tokens; block orders derive from `epoch_seed`.
  void start_epoch(uint64_t epoch_seed, int64_t offset);
  // Continues an epoch from `state`: the source must be positioned after
  // `state.packer.documents_added` documents of the epoch. Rebuilds the block and skips what
  // was taken.
  void resume_epoch(uint64_t epoch_seed, const WindowBlockState& state, DocumentSource& source);

  // The next window (seq_len + 1 ids) into `out` and the ordinal of its first token's document
  // in the epoch's stream; false when the epoch has no window left. With `doc_pos`, also its
  // seq_len input tokens' positions inside their documents (WindowPacker::take_window).
  bool next(DocumentSource& source, uint32_t* out, int64_t& document, int32_t* doc_pos = nullptr);

  // Where the epoch stands after the last window returned.
  WindowBlockState state() const { return block_state_; }

 private:
  void fill_block(DocumentSource& source);

  int64_t window_;  // seq_len + 1
  int64_t block_windows_;
  DocumentFraming framing_;
  uint64_t epoch_seed_ = 0;
  WindowPacker packer_;
  bool source_done_ = false;
  bool filled_ = false;  // the block block_state_ describes has been read

  WindowBlockState block_state_;
  std::vector<uint32_t> block_tokens_;      // the block's windows, in stream order
  std::vector<int64_t> block_documents_;    // each window's first-token document
  std::vector<int32_t> block_doc_pos_;      // each window's seq_len document positions
  std::vector<uint32_t> order_;             // the order windows leave the block
  std::vector<uint32_t> document_;
};

}  // namespace utt
