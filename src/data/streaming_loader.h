// StreamingLoader (--use-streaming, the default): batches of B windows of T + 1 token ids,
// read, shuffled, tokenized and packed on the fly, epoch after epoch. Memory is bounded by
// the shuffle buffer and the pipeline's chunks, whatever the dataset size.
//
// Exact resume: state() after any batch, saved and given back to a new loader, makes it
// yield exactly the batches the first one would have yielded next. The state holds the
// epoch, how many shuffled documents the packer has taken this epoch, the packer's pending
// tokens, and the seeds; the shuffle buffer is not stored but rebuilt by replaying the
// epoch's reading and shuffling up to that point (without tokenizing), which costs a read
// of the data consumed so far in the epoch and keeps the state small.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/batch_loader.h"
#include "data/token_pipeline.h"
#include "data/window_packer.h"

namespace utt {

class StreamingLoader final : public BatchLoader {
 public:
  StreamingLoader(LoaderConfig config, const TokenEncoder& encoder,
                  std::optional<LoaderState> resume = std::nullopt);

  bool next_batch(std::vector<uint32_t>& tokens) override;

  LoaderState state() const override;

 private:
  void start_epoch(int64_t epoch, int64_t skip_documents);
  bool fill_window(uint32_t* out);

  LoaderConfig config_;
  const TokenEncoder& encoder_;
  std::string settings_;
  int64_t epoch_ = 0;
  int64_t documents_taken_ = 0;
  int64_t batches_in_epoch_ = 0;
  uint64_t shuffle_seed_ = 0;
  WindowPacker packer_;
  std::unique_ptr<TokenPipeline> pipeline_;
  std::vector<uint32_t> document_;
  bool finished_ = false;
};

}  // namespace utt
