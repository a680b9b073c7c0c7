#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace utt {

double learning_rate_at(const LrSchedule& s, int64_t step) {
  if (step < s.warmup_steps) {
    return s.peak_lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  }
  if (s.restart_step > 0 && step >= s.restart_step) {
    const int64_t decay_steps = s.total_steps - s.restart_step;
    const double progress =
        decay_steps <= 0 ? 1.0
                         : std::min(1.0, static_cast<double>(step - s.restart_step) / decay_steps);
    const double low = s.peak_lr * s.floor_fraction;
    return low + (s.restart_lr - low) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  }
  const int64_t decay_steps = s.total_steps - s.warmup_steps;
  const double progress =
      decay_steps <= 0 ? 1.0
                       : std::min(1.0, static_cast<double>(step - s.warmup_steps) / decay_steps);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return s.peak_lr * (s.floor_fraction + (1.0 - s.floor_fraction) * cosine);
}

LrSchedule replan_schedule(const LrSchedule& current, int64_t step, int64_t new_total) {
  LrSchedule next = current;
  next.total_steps = new_total;
  if (step < current.warmup_steps && current.restart_step == 0) return next;
  next.restart_step = step;
  next.restart_lr = learning_rate_at(current, step);
  return next;
}

}  // namespace utt
