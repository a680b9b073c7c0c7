#include "data/cached_loader.h"

#include "data/shuffle_buffer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint64_t kPermutationPurpose = 2;

}  // namespace

CachedLoader::CachedLoader(LoaderConfig config, const TokenCache& cache,
                           const TokenEncoder& encoder, std::optional<LoaderState> resume)
    : config_(std::move(config)),
      cache_(cache),
      packer_(config_.seq_len, config_.stride > 0 ? config_.stride : config_.seq_len) {
  UTT_CHECK(config_.batch_size >= 1, "batch size must be positive");
  if (config_.stride <= 0) config_.stride = config_.seq_len;
  settings_ = describe_loader_settings(config_, encoder, "cache");
  const int64_t rank = config_.selection.rank, world = config_.selection.world;
  for (int64_t d = rank; d < cache_.num_documents(); d += world) {
    documents_.push_back(d);
    stream_tokens_ += cache_.document_tokens(d) + 1;
  }
  if (count_windows(stream_tokens_, config_.seq_len, config_.stride) < config_.batch_size) {
    throw UserError("the dataset is too small for one batch of " +
                    std::to_string(config_.batch_size) + " windows of " +
                    std::to_string(config_.seq_len + 1) + " tokens (" +
                    std::to_string(stream_tokens_) + " tokens on this rank): use more data, a "
                    "smaller --batch-size or a smaller --seq-len");
  }
  if (!resume) {
    start_epoch(0);
    return;
  }
  if (resume->settings != settings_) {
    throw UserError("the data settings differ from the checkpoint's (dataset files, split "
                    "selection, batch size, sequence length, stride, seed or tokenizer): "
                    "resume with the settings of the run that saved it");
  }
  start_epoch(resume->epoch);
  if (resume->documents_taken < 0 ||
      resume->documents_taken > static_cast<int64_t>(documents_.size())) {
    throw UserError("the data loader state does not fit this dataset: resume from another checkpoint");
  }
  documents_taken_ = resume->documents_taken;
  batches_in_epoch_ = resume->batches_in_epoch;
  packer_.restore(resume->pending_tokens);
}

void CachedLoader::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  documents_taken_ = 0;
  batches_in_epoch_ = 0;
  packer_.clear();
  finished_ = config_.epochs > 0 && epoch >= config_.epochs;
  shuffle_seed_ = derive_seed(config_.seed, kPermutationPurpose, static_cast<uint64_t>(epoch));
  // Fisher-Yates with our own generator, so the order is the same on every platform.
  order_ = documents_;
  SplitMix64 rng(shuffle_seed_);
  for (size_t i = order_.size(); i > 1; --i) {
    std::swap(order_[i - 1], order_[static_cast<size_t>(rng.below(i))]);
  }
}

bool CachedLoader::next_batch(std::vector<uint32_t>& tokens) {
  const size_t row = static_cast<size_t>(config_.seq_len + 1);
  tokens.resize(static_cast<size_t>(config_.batch_size) * row);
  while (!finished_) {
    int64_t filled = 0;
    while (filled < config_.batch_size) {
      if (packer_.has_window()) {
        packer_.take_window(tokens.data() + static_cast<size_t>(filled++) * row);
        continue;
      }
      if (documents_taken_ >= static_cast<int64_t>(order_.size())) break;
      document_.clear();
      cache_.append_document(order_[static_cast<size_t>(documents_taken_++)], document_);
      packer_.add_document(document_, cache_.eos_id());
    }
    if (filled == config_.batch_size) {
      ++batches_in_epoch_;
      return true;
    }
    start_epoch(epoch_ + 1);  // the partial batch is dropped, as count_optimizer_steps assumes
  }
  return false;
}

LoaderState CachedLoader::state() const {
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
