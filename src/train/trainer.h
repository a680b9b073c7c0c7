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

#include <chrono>
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

// The gradients are summed over the ranks in buckets of this many floats (16 MiB): a size
// every collective library moves at full bandwidth, and the unit a backward pass can hand over
// while it computes the rest (dist/gradient_buckets.h).
inline constexpr size_t kGradientBucketFloats = size_t{1} << 22;

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
  size_t gradient_bucket_floats = kGradientBucketFloats;
  uint64_t seed = 0;
  std::filesystem::path output_dir;
  std::string tokenizer_json;         // copied into every checkpoint
  std::string resume_command;         // the command that continues this run (printed on a stop)
  // --time-budget: no step starts that would end past the deadline, keeping end_reserve_seconds
  // for the final validation and checkpoint; the run then ends early, as if complete. Before
  // that, the plan follows the measured step time (Trainer::fit_plan_to_deadline): it shrinks
  // when steps are slower than planned, and grows up to budget_step_limit (0: never) when faster.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  double end_reserve_seconds = 0;
  int64_t budget_step_limit = 0;
  // Compute reporting: the model FLOPs of one trained token (config/flop_count.h) and the peak
  // FLOP/s of all ranks together (0: unknown, no MFU).
  double flops_per_token = 0;
  double peak_flops_per_second = 0;
  // --document-masking: every batch's documents attend only within themselves (the loader's
  // doc_pos goes with each batch to the model).
  bool document_masking = false;
  // Called on rank 0 after each checkpoint is complete on disk (before --keep-last prunes):
  // the cloud upload takes it from there.
  std::function<void(const std::filesystem::path& dir, const std::string& name)> on_checkpoint_saved;
};

// The fixed validation set: batches of ranks x B rows of T + 1 ids, and with document masking
// each batch's doc_pos (ranks x B rows of T); without it `doc_pos` is empty.
struct ValidationBatches {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<int32_t>> doc_pos;
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
  // In this process's steps: waiting for the sums of the gradients (and losses) over the ranks
  // after the backward pass, the part of the sums not hidden behind it.
  double all_reduce_seconds = 0;
  int64_t peak_memory_bytes = 0;   // the backend's peak_allocated_bytes at the end
  std::filesystem::path last_checkpoint;
  bool deadline_reached = false;  // ended before total_steps to keep within --time-budget
};

// Mean loss over `batches` (each B rows of T + 1 ids), dropout off; with `doc_pos` (one per
// batch, B rows of T) document-masked.
double evaluate(Transformer& model, const std::vector<std::vector<int32_t>>& batches,
                int64_t batch_size, const std::vector<std::vector<int32_t>>* doc_pos = nullptr);

class Trainer {
 public:
  // `validation_batches` hold ranks x B rows each, like the loader's. `metrics` is rank 0's
  // (null on the other ranks); `tensorboard` too, and null with --no-tensorboard; it gets the
  // values metrics.jsonl gets.
  Trainer(Transformer& model, AdamW& optimizer, BatchLoader& train,
          const ValidationBatches* validation_batches, MetricsLog* metrics,
          TensorBoardLog* tensorboard, Communicator& ranks, TrainerOptions options);

  // Runs from `state` (a fresh state or one loaded from a checkpoint) to state.total_steps.
  // Throws UserError when the loss becomes NaN/Inf (naming the step and the last good
  // checkpoint) or a checkpoint cannot be written.
  TrainingResult run(TrainerState state);

 private:
  double train_step(TrainerState& state);
  // The step's last backward pass, its gradients summed over the ranks as they become final;
  // returns the step's loss summed over the ranks (`loss`: this rank's).
  double backward_and_sum(const TrainerState& state, double loss);
  double validation_loss(int64_t step);
  void wait_for_ranks(int64_t tag, int64_t step, const char* where);
  bool leader() const { return ranks_.rank() == 0; }
  LrSchedule schedule(const TrainerState& state) const;
  // Seconds from now to the --time-budget deadline (0 without one).
  double seconds_to_deadline() const;
  bool out_of_time_after(const TrainerState& state, double step_seconds, double seconds_left) const;
  std::string fit_plan_to_deadline(TrainerState& state, double step_seconds, int64_t session_steps,
                                   double seconds_left);
  void validate(TrainerState& state, TrainingResult& result);
  void record_position(TrainerState& state) const;
  std::filesystem::path save(const std::string& name, TrainerState& state);

  Transformer& model_;
  AdamW& optimizer_;
  BatchLoader& train_;
  const ValidationBatches* validation_;
  MetricsLog* metrics_;
  TensorBoardLog* tensorboard_;
  Communicator& ranks_;
  TrainerOptions options_;
  std::vector<uint32_t> raw_batch_;
  std::vector<int32_t> batch_;
  std::vector<int32_t> raw_doc_pos_;  // the loader's, ranks x B rows of T
  double last_grad_norm_ = 0;
  std::filesystem::path last_good_checkpoint_;
  bool data_exhausted_ = false;
  bool stop_agreed_ = false;  // a stop signal reached some rank: all stop after this step
  std::chrono::steady_clock::time_point session_start_;  // when run() started
  // Rank 0's clock at the last step's sum, which every rank's --time-budget decisions follow
  // (each rank's own would let them disagree on the last step).
  double agreed_session_seconds_ = 0;
  double agreed_seconds_left_ = 0;
  double all_reduce_seconds_ = 0;
};

}  // namespace utt
