// CachedLoader (--no-use-streaming): batches packed from a TokenCache. Rank r of w takes
// documents d with d % w == r; each epoch visits them in a seeded permutation (every
// document once per epoch, a new order each epoch). The state has the same fields as the
// streaming loader's, and resuming is immediate: the permutation is recomputed from its
// seed and the documents already taken are skipped by index.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "data/batch_loader.h"
#include "data/token_cache.h"
#include "data/window_packer.h"

namespace utt {

class CachedLoader final : public BatchLoader {
 public:
  // `config` gives the shapes, seed, epochs and shard (its files and selection describe
  // what the cache was built from and only enter the state's settings).
  CachedLoader(LoaderConfig config, const TokenCache& cache, const TokenEncoder& encoder,
               std::optional<LoaderState> resume = std::nullopt);

  bool next_batch(std::vector<uint32_t>& tokens) override;
  LoaderState state() const override;

  // Tokens of this rank's stream in one epoch (end-of-text separators included): with
  // count_optimizer_steps, the number of steps before step 1.
  int64_t stream_tokens_per_epoch() const { return stream_tokens_; }

 private:
  void start_epoch(int64_t epoch);

  LoaderConfig config_;
  const TokenCache& cache_;
  std::string settings_;
  std::vector<int64_t> documents_;  // this rank's documents
  std::vector<int64_t> order_;      // this epoch's permutation of documents_
  int64_t stream_tokens_ = 0;
  int64_t epoch_ = 0;
  int64_t documents_taken_ = 0;
  int64_t batches_in_epoch_ = 0;
  uint64_t shuffle_seed_ = 0;
  WindowPacker packer_;
  std::vector<uint32_t> document_;
  bool finished_ = false;
};

}  // namespace utt
