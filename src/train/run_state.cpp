#include "train/run_state.h"

#include <fmt/format.h>

#include "train/lr_schedule.h"
#include "util/error.h"

namespace utt {

TrainerState starting_state(const TrainConfig& c, const ResumePoint* resume, int64_t total_steps,
                            const std::string& tokenizer_fingerprint) {
  if (!resume) {
    TrainerState state;
    state.run_id = new_run_id();
    state.total_steps = total_steps;
    state.tokenizer_fingerprint = tokenizer_fingerprint;
    return state;
  }
  TrainerState state = resume->state;
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
