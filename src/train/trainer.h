// The training loop: micro-batches with gradient accumulation, clipping, AdamW on the
// warmup-cosine schedule, logs in the guide's format, validation, checkpoints, and a clean stop
// on SIGINT/SIGTERM or a non-finite loss.
//
// Data parallelism: every rank runs this loop on a model of its own. The loader yields the
// whole step's batch of ranks x B rows on every rank (each packs and shuffles the same
// windows), and rank r trains rows [r B, (r + 1) B): the ranks' shares of an epoch are disjoint
// and cover it. Gradients are summed over the ranks (each rank's loss is already divided by
// the targets of the whole step), so every rank takes the same optimizer step one process
// with batch ranks x B takes. Rank 0 alone prints, logs and writes checkpoints.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "obs/metrics_log.h"
#include "obs/tensorboard_log.h"
#include "train/adamw.h"
#include "data/batch_loader.h"
#include "dist/communicator.h"
#include "train/checkpoint.h"
#include "train/lr_schedule.h"

namespace utt {

struct TrainerOptions {
  int64_t batch_size = 1;  // rows per rank and micro-batch
  int64_t accumulation = 1;
  double learning_rate = 5e-4;
  int64_t warmup_steps = 0;
  double grad_clip = 1.0;
  int64_t log_every = 10;
  int64_t save_every = 1000;
  int64_t eval_every = 500;
  int64_t keep_last = 0;
  double rank_timeout_seconds = 600;  // see Trainer::wait_for_ranks
  uint64_t seed = 0;
  std::filesystem::path output_dir;
  std::string tokenizer_json;         // copied into every checkpoint
  std::string resume_command;         // the command that continues this run (printed on a stop)
};

enum class TrainingOutcome { kCompleted, kInterrupted, kDataExhausted };

struct TrainingResult {
  TrainingOutcome outcome = TrainingOutcome::kCompleted;
  TrainerState state;
  std::optional<double> final_val_loss;
  double session_seconds = 0;  // wall time of this process's part of the run
  int64_t session_tokens = 0;
  int64_t session_steps = 0;
  int64_t ranks = 1;
  double all_reduce_seconds = 0;  // in this process's steps: summing the gradients over the ranks
  std::filesystem::path last_checkpoint;
};

// Mean loss over `batches` (each B rows of T + 1 ids), dropout off.
double evaluate(Transformer& model, const std::vector<std::vector<int32_t>>& batches,
                int64_t batch_size);

// The gradients are summed over the ranks in buckets of this many floats (16 MiB): a size
// every collective library moves at full bandwidth, and the unit a backward pass can hand over
// while it computes the rest.
inline constexpr size_t kGradientBucketFloats = size_t{1} << 22;

class Trainer {
 public:
  // `validation_batches` hold ranks x B rows each, like the loader's. `metrics` is rank 0's
  // (null on the other ranks); `tensorboard` too, and null with --no-tensorboard; it gets the
  // values metrics.jsonl gets.
  Trainer(Transformer& model, AdamW& optimizer, BatchLoader& train,
          const std::vector<std::vector<int32_t>>* validation_batches, MetricsLog* metrics,
          TensorBoardLog* tensorboard, Communicator& ranks, TrainerOptions options);

  // Runs from `state` (a fresh state or one loaded from a checkpoint) to state.total_steps.
  // Throws UserError when the loss becomes NaN/Inf (naming the step and the last good
  // checkpoint) or a checkpoint cannot be written.
  TrainingResult run(TrainerState state);

 private:
  double train_step(TrainerState& state);
  double validation_loss(int64_t step);
  void wait_for_ranks(int64_t tag, int64_t step, const char* where);
  bool leader() const { return ranks_.rank() == 0; }
  LrSchedule schedule(const TrainerState& state) const;
  void validate(TrainerState& state, TrainingResult& result);
  void record_position(TrainerState& state) const;
  std::filesystem::path save(const std::string& name, TrainerState& state);

  Transformer& model_;
  AdamW& optimizer_;
  BatchLoader& train_;
  const std::vector<std::vector<int32_t>>* validation_;
  MetricsLog* metrics_;
  TensorBoardLog* tensorboard_;
  Communicator& ranks_;
  TrainerOptions options_;
  std::vector<uint32_t> raw_batch_;
  std::vector<int32_t> batch_;
  std::vector<float> gradient_bucket_;  // host copy of one bucket of gradients being summed
  double last_grad_norm_ = 0;
  std::filesystem::path last_good_checkpoint_;
  bool data_exhausted_ = false;
  bool stop_agreed_ = false;  // a stop signal reached some rank: all stop after this step
  double all_reduce_seconds_ = 0;
};

}  // namespace utt
