// Linear warmup, then cosine decay to a floor: the schedule of every utt run.
#pragma once

#include <cstdint>

namespace utt {

struct LrSchedule {
  double peak_lr = 5e-4;
  int64_t warmup_steps = 500;
  int64_t total_steps = 1;
  double floor_fraction = 0.1;  // the decay ends at 10% of the peak
};

// Learning rate at 0-based optimizer step `step`:
//   step < warmup:  peak * (step + 1) / warmup
//   after:          peak * (floor + (1 - floor) * 0.5 * (1 + cos(pi * progress))),
//                   progress = min(1, (step - warmup) / (total - warmup))
// The same convention as the reference cases in shared/oracle (lr_schedule.json).
double learning_rate_at(const LrSchedule& schedule, int64_t step);

}  // namespace utt
