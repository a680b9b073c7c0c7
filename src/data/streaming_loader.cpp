#include "data/streaming_loader.h"

#include "data/shuffle_buffer.h"

namespace utt {
namespace {

constexpr uint64_t kShufflePurpose = 1;

}  // namespace

StreamingLoader::StreamingLoader(LoaderConfig config, const TokenEncoder& encoder,
                                 std::optional<LoaderState> resume)
    : WindowLoader(config, describe_loader_settings(config, encoder, "streaming"), encoder.framing()),
      encoder_(encoder) {
  begin(resume);
}

uint64_t StreamingLoader::document_seed(int64_t epoch) const {
  return derive_seed(config().seed, kShufflePurpose, static_cast<uint64_t>(epoch));
}

DocumentSource& StreamingLoader::open_epoch(int64_t epoch, int64_t skip_documents) {
  source_.reset();  // stops the previous epoch's threads first
  TokenPipelineConfig pipeline;
  pipeline.files = config().files;
  pipeline.text_column = config().text_column;
  pipeline.selection = config().selection;
  pipeline.shuffle_buffer_size = config().shuffle_buffer_size;
  pipeline.shuffle_seed = document_seed(epoch);
  pipeline.skip_documents = skip_documents;
  pipeline.worker_threads = config().worker_threads;
  source_ = std::make_unique<PipelineSource>(std::make_unique<TokenPipeline>(std::move(pipeline), encoder_));
  return *source_;
}

}  // namespace utt
