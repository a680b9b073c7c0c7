#include "data/window_loader.h"

#include <algorithm>

#include "data/shuffle_buffer.h"
#include "data/window_packer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint64_t kWindowShufflePurpose = 5;
// Epochs in a row without a batch before the data is called too small (only an endless run
// on data of about B windows gets there).
constexpr int64_t kMaxEmptyEpochs = 64;

}  // namespace

WindowLoader::WindowLoader(LoaderConfig config, std::string settings, DocumentFraming framing)
    : config_(std::move(config)),
      settings_(std::move(settings)),
      windows_(config_.seq_len, config_.stride > 0 ? config_.stride : config_.seq_len,
               config_.window_shuffle_windows, std::move(framing)) {
  UTT_CHECK(config_.batch_size >= 1, "batch size must be positive");
  if (config_.stride <= 0) config_.stride = config_.seq_len;
}

void WindowLoader::begin(const std::optional<LoaderState>& resume) {
  if (!resume) {
    start_epoch(0, std::nullopt);
    return;
  }
  if (resume->settings != settings_) {
    throw UserError("the data settings differ from the checkpoint's (dataset files, split "
                    "selection, batch size, sequence length, stride, shuffle sizes, seed or "
                    "tokenizer): resume with the settings of the run that saved it");
  }
  if (resume->epoch < 0 || resume->batches_in_epoch < 0 || document_seed(resume->epoch) != resume->shuffle_seed) {
    throw UserError("the data loader state does not fit this dataset: resume from another checkpoint");
  }
  start_epoch(resume->epoch, resume->windows);
  batches_in_epoch_ = resume->batches_in_epoch;
}

void WindowLoader::start_epoch(int64_t epoch, const std::optional<WindowBlockState>& resume) {
  epoch_ = epoch;
  batches_in_epoch_ = 0;
  if (config_.epochs > 0 && epoch >= config_.epochs) {
    finished_ = true;
    return;
  }
  const uint64_t window_seed = derive_seed(config_.seed, kWindowShufflePurpose, static_cast<uint64_t>(epoch));
  if (resume) {
    source_ = &open_epoch(epoch, resume->packer.documents_added);
    windows_.resume_epoch(window_seed, *resume, *source_);
  } else {
    source_ = &open_epoch(epoch, 0);
    const int64_t offset = config_.offset_epochs ? epoch_window_offset(config_.seed, epoch, config_.stride) : 0;
    windows_.start_epoch(window_seed, offset);
  }
}

bool WindowLoader::next_batch(std::vector<uint32_t>& tokens) { return fill_batch(tokens, nullptr); }

bool WindowLoader::next_batch(std::vector<uint32_t>& tokens, std::vector<int32_t>& doc_pos) {
  return fill_batch(tokens, &doc_pos);
}

bool WindowLoader::fill_batch(std::vector<uint32_t>& tokens, std::vector<int32_t>* doc_pos) {
  const auto row = static_cast<size_t>(config_.seq_len + 1);
  const auto inputs = static_cast<size_t>(config_.seq_len);
  tokens.resize(static_cast<size_t>(config_.batch_size) * row);
  if (doc_pos != nullptr) doc_pos->resize(static_cast<size_t>(config_.batch_size) * inputs);
  documents_.resize(static_cast<size_t>(config_.batch_size));
  while (!finished_) {
    int64_t filled = 0;
    while (filled < config_.batch_size &&
           windows_.next(*source_, tokens.data() + static_cast<size_t>(filled) * row,
                         documents_[static_cast<size_t>(filled)],
                         doc_pos != nullptr ? doc_pos->data() + static_cast<size_t>(filled) * inputs : nullptr)) {
      ++filled;
    }
    if (filled == config_.batch_size) {
      ++batches_in_epoch_;
      std::sort(documents_.begin(), documents_.end());
      mix_.batches += 1;
      mix_.documents += std::unique(documents_.begin(), documents_.end()) - documents_.begin();
      return true;
    }
    // The epoch ran out mid-batch: the partial batch is dropped (count_optimizer_steps
    // counts full batches only) and the next epoch starts. An epoch's offset changes its
    // window count by at most one, so with fewer than B - 1 windows no epoch has a batch.
    empty_epochs_ = batches_in_epoch_ == 0 ? empty_epochs_ + 1 : 0;
    if (batches_in_epoch_ == 0 && (filled + 1 < config_.batch_size || empty_epochs_ > kMaxEmptyEpochs)) {
      throw UserError("the dataset is too small for one batch of " + std::to_string(config_.batch_size) +
                      " windows of " + std::to_string(config_.seq_len + 1) +
                      " tokens: use more data, a smaller --batch-size or a smaller --seq-len");
    }
    start_epoch(epoch_ + 1, std::nullopt);
  }
  return false;
}

LoaderState WindowLoader::state() const {
  LoaderState state;
  state.epoch = epoch_;
  state.batches_in_epoch = batches_in_epoch_;
  state.shuffle_seed = document_seed(epoch_);
  state.windows = windows_.state();
  state.settings = settings_;
  return state;
}

}  // namespace utt
