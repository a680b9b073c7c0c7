// What the trainer asks of a data loader, streaming or cached: batches of B windows of
// T + 1 token ids, and a state that saves and restores exactly. Both loaders pack their
// documents the same way (window_loader.h); they differ in where documents come from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "data/document_stream.h"
#include "data/token_encoder.h"
#include "data/window_shuffle.h"

namespace utt {

struct LoaderConfig {
  std::vector<std::string> files;
  std::string text_column = "text";
  DocumentSelection selection;
  int64_t batch_size = 1;  // B
  int64_t seq_len = 1;     // T
  int64_t stride = 0;      // 0: seq_len
  size_t shuffle_buffer_size = 0;     // documents (streaming only; the cache permutes them all)
  int64_t window_shuffle_windows = 0;  // windows shuffled together (<= 1: stream order)
  bool offset_epochs = true;  // a seeded window offset per epoch (off: windows tile from the start)
  uint64_t seed = 0;
  int64_t epochs = 1;  // 0: no end
  int worker_threads = 2;
};

// The default window block (--window-shuffle-size): about 4M tokens (16 MiB of ids), so a block
// spans many documents even when they are long, and at least 64 batches.
int64_t default_window_shuffle_windows(int64_t seq_len, int64_t batch_size);

struct LoaderState {
  int64_t epoch = 0;
  int64_t batches_in_epoch = 0;
  uint64_t shuffle_seed = 0;  // the document shuffle's seed for this epoch
  WindowBlockState windows;   // the epoch's position: its current window block
  std::string settings;       // what the state is valid for (files, selection, shapes, seed)

  std::string to_json() const;
  static LoaderState from_json(const std::string& json);  // UserError when malformed
};

// What a state is valid for: the files, selection, shapes, seed, encoder and mode. A state
// is only restored into a loader with the same description.
std::string describe_loader_settings(const LoaderConfig& config, const TokenEncoder& encoder,
                                     const std::string& mode);

// How many documents the batches mixed: the distinct documents of each batch's windows (a
// window counts for the document of its first token), summed.
struct BatchMix {
  int64_t batches = 0;
  int64_t documents = 0;
  double documents_per_batch() const {
    return batches > 0 ? static_cast<double>(documents) / static_cast<double>(batches) : 0.0;
  }
};

// Data parallelism (train/trainer.h): the loader of every rank yields the step's whole batch,
// `ranks` x B rows packed and shuffled alike on every rank, and rank r trains rows
// [r B, (r + 1) B). So the ranks' shares of an epoch are disjoint and together are exactly the
// epoch's batches, and a run on R ranks of B rows sees the batches of one process with R x B.
// This is rank `rank`'s share of `batch`.
std::span<const uint32_t> rank_share(const std::vector<uint32_t>& batch, int64_t rank, int64_t ranks);

class BatchLoader {
 public:
  virtual ~BatchLoader() = default;
  // Fills `tokens` with B * (T + 1) ids (row-major, one window per row). False once the
  // last epoch has no full batch left; an epoch's partial last batch is dropped.
  virtual bool next_batch(std::vector<uint32_t>& tokens) = 0;
  // The same, with each row's document positions (B * T, backend.h's doc_pos: each input
  // token's position inside its document, counted from the row's start) for document masking.
  virtual bool next_batch(std::vector<uint32_t>& tokens, std::vector<int32_t>& doc_pos) = 0;
  // Where the loader stands after the last batch returned.
  virtual LoaderState state() const = 0;
  // The batches this loader returned so far (not carried over a resume).
  virtual const BatchMix& mix() const = 0;
};

}  // namespace utt
