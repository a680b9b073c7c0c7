// WindowLoader: what the streaming and cached loaders share. Each epoch's documents are
// packed into windows (a seeded offset per epoch), the windows shuffled in blocks
// (window_shuffle.h) and handed out B at a time; an epoch's partial last batch is dropped and
// the next epoch starts. A subclass only says where an epoch's documents come from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/batch_loader.h"
#include "data/window_shuffle.h"

namespace utt {

class WindowLoader : public BatchLoader {
 public:
  bool next_batch(std::vector<uint32_t>& tokens) override;
  bool next_batch(std::vector<uint32_t>& tokens, std::vector<int32_t>& doc_pos) override;
  LoaderState state() const override;
  const BatchMix& mix() const override { return mix_; }

 protected:
  WindowLoader(LoaderConfig config, std::string settings, DocumentFraming framing);

  // The subclass's constructor ends with this: the first epoch, or the saved position.
  void begin(const std::optional<LoaderState>& resume);
  // The documents of `epoch`, after its first `skip_documents`; the source lives until the
  // next call.
  virtual DocumentSource& open_epoch(int64_t epoch, int64_t skip_documents) = 0;
  // The document shuffle's seed for `epoch`, recorded in the state (and checked on resume).
  virtual uint64_t document_seed(int64_t epoch) const = 0;

  const LoaderConfig& config() const { return config_; }

 private:
  void start_epoch(int64_t epoch, const std::optional<WindowBlockState>& resume);
  bool fill_batch(std::vector<uint32_t>& tokens, std::vector<int32_t>* doc_pos);

  LoaderConfig config_;
  std::string settings_;
  ShuffledWindows windows_;
  DocumentSource* source_ = nullptr;
  int64_t epoch_ = 0;
  int64_t batches_in_epoch_ = 0;
  int64_t empty_epochs_ = 0;
  bool finished_ = false;
  std::vector<int64_t> documents_;  // of the batch being made
  BatchMix mix_;
};

}  // namespace utt
