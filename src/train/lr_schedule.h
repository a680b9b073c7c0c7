// Linear warmup, then cosine decay to a floor: the schedule of every utt run.
#pragma once

#include <cstdint>

namespace utt {

struct LrSchedule {
  double peak_lr = 5e-4;
  int64_t warmup_steps = 500;
  int64_t total_steps = 1;
  double floor_fraction = 0.1;  // the decay ends at 10% of the peak
  // A run resumed with another length (a larger --max-steps or --epochs) re-plans its decay
  // from where it stands: from step restart_step on, the rate falls along a new cosine from
  // restart_lr to the floor at total_steps. 0: the plain schedule.
  int64_t restart_step = 0;
  double restart_lr = 0;
};

// Learning rate at 0-based optimizer step `step`:
//   step < warmup:  peak * (step + 1) / warmup
//   after:          peak * (floor + (1 - floor) * 0.5 * (1 + cos(pi * progress))),
//                   progress = min(1, (step - warmup) / (total - warmup))
//   re-planned, step >= restart_step:
//                   low + (restart_lr - low) * 0.5 * (1 + cos(pi * progress)), low = peak * floor,
//                   progress = min(1, (step - restart_step) / (total - restart_step))
// The same convention as the reference cases in shared/oracle (lr_schedule.json).
double learning_rate_at(const LrSchedule& schedule, int64_t step);

// The schedule of a run resumed at `step` (steps completed) whose length changes from
// `current.total_steps` to `new_total`: the rate at `step` stays what the current schedule
// gives, and decays from there to the floor at new_total. It describes the steps from `step`
// on (the ones the resumed run takes), not the ones before. A resume still in warmup keeps the
// plain schedule with the new length (nothing has decayed yet).
LrSchedule replan_schedule(const LrSchedule& current, int64_t step, int64_t new_total);

}  // namespace utt
