// CachedLoader (--no-use-streaming): batches packed from a TokenCache. Rank r of w takes
// documents d with d % w == r; each epoch visits them in a seeded permutation (every
// document once per epoch, a new order each epoch), packed and window-shuffled as the
// streaming loader does (window_loader.h). Resuming is immediate: the permutation is
// recomputed from its seed, the documents before the current window block are skipped by
// index and the block is re-read from the cache.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "data/token_cache.h"
#include "data/window_loader.h"

namespace utt {

class CachedLoader final : public WindowLoader {
 public:
  // `config` gives the shapes, seed, epochs and shard (its files and selection describe
  // what the cache was built from and only enter the state's settings).
  CachedLoader(LoaderConfig config, const TokenCache& cache, const TokenEncoder& encoder,
               std::optional<LoaderState> resume = std::nullopt);

  // Tokens of this rank's stream in one epoch (end-of-text separators included): with
  // count_optimizer_steps, the number of steps before step 1.
  int64_t stream_tokens_per_epoch() const { return stream_tokens_; }

 private:
  // This epoch's permutation of the rank's documents, read from the cache.
  class PermutedDocuments final : public DocumentSource {
   public:
    PermutedDocuments(const TokenCache& cache, std::vector<int64_t> order, size_t next)
        : cache_(cache), order_(std::move(order)), next_(next) {}
    bool next(std::vector<uint32_t>& ids) override;

   private:
    const TokenCache& cache_;
    std::vector<int64_t> order_;
    size_t next_;
  };

  DocumentSource& open_epoch(int64_t epoch, int64_t skip_documents) override;
  uint64_t document_seed(int64_t epoch) const override;

  const TokenCache& cache_;
  std::vector<int64_t> documents_;  // this rank's documents
  int64_t stream_tokens_ = 0;
  std::optional<PermutedDocuments> source_;
};

}  // namespace utt
