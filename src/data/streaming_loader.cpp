#include "data/streaming_loader.h"

#include "data/shuffle_buffer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint64_t kShufflePurpose = 1;

}  // namespace

StreamingLoader::StreamingLoader(LoaderConfig config, const TokenEncoder& encoder,
                                 std::optional<LoaderState> resume)
    : config_(std::move(config)),
      encoder_(encoder),
      packer_(config_.seq_len, config_.stride > 0 ? config_.stride : config_.seq_len) {
  UTT_CHECK(config_.batch_size >= 1, "batch size must be positive");
  if (config_.stride <= 0) config_.stride = config_.seq_len;
  settings_ = describe_loader_settings(config_, encoder_, "streaming");
  if (!resume) {
    start_epoch(0, 0);
    return;
  }
  if (resume->settings != settings_) {
    throw UserError("the data settings differ from the checkpoint's (dataset files, split "
                    "selection, batch size, sequence length, stride, shuffle buffer, seed or "
                    "tokenizer): resume with the settings of the run that saved it");
  }
  start_epoch(resume->epoch, resume->documents_taken);
  UTT_CHECK(shuffle_seed_ == resume->shuffle_seed, "shuffle seed derivation changed");
  batches_in_epoch_ = resume->batches_in_epoch;
  packer_.restore(resume->pending_tokens);
}

void StreamingLoader::start_epoch(int64_t epoch, int64_t skip_documents) {
  pipeline_.reset();
  epoch_ = epoch;
  documents_taken_ = skip_documents;
  batches_in_epoch_ = 0;
  packer_.clear();
  shuffle_seed_ = derive_seed(config_.seed, kShufflePurpose, static_cast<uint64_t>(epoch));
  if (config_.epochs > 0 && epoch >= config_.epochs) {
    finished_ = true;
    return;
  }
  TokenPipelineConfig pipeline;
  pipeline.files = config_.files;
  pipeline.text_column = config_.text_column;
  pipeline.selection = config_.selection;
  pipeline.shuffle_buffer_size = config_.shuffle_buffer_size;
  pipeline.shuffle_seed = shuffle_seed_;
  pipeline.skip_documents = skip_documents;
  pipeline.worker_threads = config_.worker_threads;
  pipeline_ = std::make_unique<TokenPipeline>(std::move(pipeline), encoder_);
}

bool StreamingLoader::fill_window(uint32_t* out) {
  while (!packer_.has_window()) {
    if (!pipeline_->next(document_)) return false;
    packer_.add_document(document_, encoder_.eos_id());
    ++documents_taken_;
  }
  packer_.take_window(out);
  return true;
}

bool StreamingLoader::next_batch(std::vector<uint32_t>& tokens) {
  const size_t row = static_cast<size_t>(config_.seq_len + 1);
  tokens.resize(static_cast<size_t>(config_.batch_size) * row);
  while (!finished_) {
    bool full = true;
    for (int64_t b = 0; b < config_.batch_size && full; ++b) {
      full = fill_window(tokens.data() + static_cast<size_t>(b) * row);
    }
    if (full) {
      ++batches_in_epoch_;
      return true;
    }
    // The epoch ran out mid-batch: the partial batch is dropped (count_optimizer_steps
    // counts full batches only) and the next epoch starts.
    if (batches_in_epoch_ == 0) {
      throw UserError("the dataset is too small for one batch of " +
                      std::to_string(config_.batch_size) + " windows of " +
                      std::to_string(config_.seq_len + 1) +
                      " tokens: use more data, a smaller --batch-size or a smaller --seq-len");
    }
    start_epoch(epoch_ + 1, 0);
  }
  return false;
}

LoaderState StreamingLoader::state() const {
  LoaderState state;
  state.epoch = epoch_;
  state.documents_taken = documents_taken_;
  state.batches_in_epoch = batches_in_epoch_;
  state.shuffle_seed = shuffle_seed_;
  state.pending_tokens = packer_.pending();
  state.settings = settings_;
  return state;
}

}  // namespace utt
