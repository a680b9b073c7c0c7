// What the trainer asks of a data loader, streaming or cached: batches of B windows of
// T + 1 token ids, and a state that saves and restores exactly (see streaming_loader.h and
// cached_loader.h for how each rebuilds its position).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/document_stream.h"
#include "data/token_encoder.h"

namespace utt {

struct LoaderConfig {
  std::vector<std::string> files;
  std::string text_column = "text";
  DocumentSelection selection;
  int64_t batch_size = 1;  // B
  int64_t seq_len = 1;     // T
  int64_t stride = 0;      // 0: seq_len
  size_t shuffle_buffer_size = 0;
  uint64_t seed = 0;
  int64_t epochs = 1;  // 0: no end
  int worker_threads = 2;
};

struct LoaderState {
  int64_t epoch = 0;
  int64_t documents_taken = 0;  // shuffled documents packed so far this epoch
  int64_t batches_in_epoch = 0;
  uint64_t shuffle_seed = 0;    // the shuffle RNG's seed for this epoch
  std::vector<uint32_t> pending_tokens;
  std::string settings;  // what the state is valid for (files, selection, shapes, seed)

  std::string to_json() const;
  static LoaderState from_json(const std::string& json);  // UserError when malformed
};

// What a state is valid for: the files, selection, shapes, seed, encoder and mode. A state
// is only restored into a loader with the same description.
std::string describe_loader_settings(const LoaderConfig& config, const TokenEncoder& encoder,
                                     const std::string& mode);

class BatchLoader {
 public:
  virtual ~BatchLoader() = default;
  // Fills `tokens` with B * (T + 1) ids (row-major, one window per row). False once the
  // last epoch has no full batch left; an epoch's partial last batch is dropped.
  virtual bool next_batch(std::vector<uint32_t>& tokens) = 0;
  // Where the loader stands after the last batch returned.
  virtual LoaderState state() const = 0;
};

}  // namespace utt
