// StreamingLoader (--use-streaming, the default): batches of B windows of T + 1 token ids,
// read, shuffled, tokenized and packed on the fly, epoch after epoch. Memory is bounded by
// the document shuffle buffer, the pipeline's chunks and one window block, whatever the
// dataset size.
//
// Exact resume: state() after any batch, saved and given back to a new loader, makes it
// yield exactly the batches the first one would have yielded next. The state holds the
// epoch and where its current window block started (the packer's state and how many shuffled
// documents it had taken); the shuffle buffer and the block are not stored but rebuilt: the
// epoch's reading and shuffling is replayed up to the block's start without tokenizing (a read
// of the data consumed so far in the epoch), then the block's documents are tokenized again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "data/token_pipeline.h"
#include "data/window_loader.h"

namespace utt {

class StreamingLoader final : public WindowLoader {
 public:
  StreamingLoader(LoaderConfig config, const TokenEncoder& encoder,
                  std::optional<LoaderState> resume = std::nullopt);

 private:
  class PipelineSource final : public DocumentSource {
   public:
    explicit PipelineSource(std::unique_ptr<TokenPipeline> pipeline) : pipeline_(std::move(pipeline)) {}
    bool next(std::vector<uint32_t>& ids) override { return pipeline_->next(ids); }

   private:
    std::unique_ptr<TokenPipeline> pipeline_;
  };

  DocumentSource& open_epoch(int64_t epoch, int64_t skip_documents) override;
  uint64_t document_seed(int64_t epoch) const override;

  const TokenEncoder& encoder_;
  std::unique_ptr<PipelineSource> source_;
};

}  // namespace utt
