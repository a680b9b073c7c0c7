#include "train/run_state.h"

#include <fmt/format.h>

#include "train/lr_schedule.h"
#include "util/error.h"

namespace utt {
namespace {

std::string ranks_text(int64_t ranks) { return ranks == 1 ? "1 rank" : std::to_string(ranks) + " ranks"; }

// The checkpoint's ranks against this run's: see starting_state.
void check_data_parallel_resume(const TrainConfig& c, const ResumePoint& resume, int64_t ranks) {
  const TrainerState& saved = resume.state;
  if (saved.batch_size_per_rank == 0) return;  // one rank; the loader checks the batch size
  const int64_t saved_rows = saved.data_parallel_ranks * saved.batch_size_per_rank;
  const int64_t rows = ranks * c.batch_size;
  if (saved_rows != rows) {
    std::string fix = "resume with " + ranks_text(saved.data_parallel_ranks) + " of --batch-size " +
                      std::to_string(saved.batch_size_per_rank);
    if (saved_rows % ranks == 0) fix += ", or " + ranks_text(ranks) + " of --batch-size " + std::to_string(saved_rows / ranks);
    throw UserError(fmt::format("cannot resume from {}: it trained {} of batch {} ({} rows per micro-batch), "
                                "this run {} of batch {} ({} rows), so its batches would differ: {}",
                                resume.dir.string(), ranks_text(saved.data_parallel_ranks),
                                saved.batch_size_per_rank, saved_rows, ranks_text(ranks), c.batch_size, rows, fix));
  }
  if (saved.data_parallel_ranks == ranks) return;
  if (c.model.dropout_rate > 0) {
    throw UserError(fmt::format("cannot resume from {} on {}: it trained on {}, and dropout masks are drawn per "
                                "rank, so the run would not continue as it started: resume with {} "
                                "(--num-devices {}, or that many MPI ranks)",
                                resume.dir.string(), ranks_text(ranks), ranks_text(saved.data_parallel_ranks),
                                ranks_text(saved.data_parallel_ranks), saved.data_parallel_ranks));
  }
  fmt::print("Data parallelism: {} instead of the checkpoint's {}, {} rows per micro-batch as before: the same "
             "batches continue (the sums are split differently, so results differ by float rounding)\n",
             ranks_text(ranks), ranks_text(saved.data_parallel_ranks), rows);
}

}  // namespace

TrainerState starting_state(const TrainConfig& c, const ResumePoint* resume, int64_t total_steps,
                            const std::string& tokenizer_fingerprint, int64_t ranks) {
  if (!resume) {
    TrainerState state;
    state.run_id = new_run_id();
    state.total_steps = total_steps;
    state.tokenizer_fingerprint = tokenizer_fingerprint;
    state.data_parallel_ranks = ranks;
    state.batch_size_per_rank = c.batch_size;
    return state;
  }
  check_data_parallel_resume(c, *resume, ranks);
  TrainerState state = resume->state;
  state.data_parallel_ranks = ranks;
  state.batch_size_per_rank = c.batch_size;
  if (state.run_id.empty()) state.run_id = new_run_id();  // a checkpoint from before run ids
  if (total_steps < state.step) {
    throw UserError(fmt::format("cannot resume from {}: it is at step {}, past the {} steps of this run "
                                "(--max-steps, --epochs): raise them to continue it",
                                resume->dir.string(), state.step, total_steps));
  }
  fmt::print("Resuming from {} at step {} of {}\n", resume->dir.string(), state.step, total_steps);
  if (total_steps == state.total_steps) return state;
  const LrSchedule current{c.learning_rate, c.warmup_steps, state.total_steps, 0.1, state.lr_restart_step,
                           state.lr_restart_value};
  const LrSchedule next = replan_schedule(current, state.step, total_steps);
  const double floor = c.learning_rate * next.floor_fraction;
  if (next.restart_step > 0 && next.restart_lr <= floor * (1 + 1e-12)) {
    fmt::print("Schedule: {} steps instead of the checkpoint's {}; its decay had ended, so the learning rate "
               "stays at the floor, {:.3e}, to step {}\n",
               total_steps, state.total_steps, floor, total_steps);
  } else if (next.restart_step == 0) {
    fmt::print("Schedule: {} steps instead of the checkpoint's {}; warmup continues, then the cosine decay "
               "reaches {:.3e} at step {}\n",
               total_steps, state.total_steps, floor, total_steps);
  } else {
    fmt::print("Schedule: {} steps instead of the checkpoint's {}; re-planned from the resume point: the "
               "learning rate falls from {:.3e} at step {} along a new cosine to {:.3e} at step {}\n",
               total_steps, state.total_steps, next.restart_lr, state.step + 1, floor, total_steps);
  }
  state.total_steps = total_steps;
  state.lr_restart_step = next.restart_step;
  state.lr_restart_value = next.restart_lr;
  return state;
}

}  // namespace utt
