#include "config/batch_size.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "config/memory_estimate.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {

int64_t default_effective_batch_tokens(const ModelConfig& model) {
  const double parameters = static_cast<double>(count_parameters(model).total);
  const double compute = 6 * parameters * 20 * parameters;
  const double tokens = 0.292 * std::pow(compute, 0.3271);
  int64_t power = 1;
  while (static_cast<double>(power) * 2 <= tokens) power *= 2;
  return std::max(power, model.seq_len);
}

BatchChoice choose_batch_size(const ModelConfig& model, int64_t target_tokens, double memory_bytes,
                              bool mixed_precision, int64_t ranks, const std::string& device) {
  BatchChoice choice;
  choice.target_tokens = target_tokens;
  choice.memory_bytes = memory_bytes;
  const int64_t rows_per_rank = std::max<int64_t>(
      1, (target_tokens + model.seq_len * ranks - 1) / (model.seq_len * ranks));
  const double usable = kAutoBatchMemoryShare * memory_bytes;
  const auto fits = [&](int64_t rows) {
    return estimate_training_memory(model, rows, mixed_precision).total_bytes() <= usable;
  };
  if (!fits(1)) {
    throw UserError(fmt::format("--batch-size auto: not even one row of {} tokens fits: training this model "
                                "needs ~{} with batch 1, and {} has {} free; choose a smaller model{}",
                                model.seq_len,
                                human_bytes(estimate_training_memory(model, 1, mixed_precision).total_bytes()),
                                device, human_bytes(memory_bytes),
                                mixed_precision ? "" : " or add --use-mixed-precision"));
  }
  // The largest fitting micro-batch up to the rows needed: doubling, then a binary search.
  int64_t low = 1, high = 1;
  while (high < rows_per_rank && fits(std::min(high * 2, rows_per_rank))) high = std::min(high * 2, rows_per_rank);
  low = high;
  if (high < rows_per_rank) {
    int64_t top = std::min(high * 2, rows_per_rank);  // does not fit
    while (top - low > 1) {
      const int64_t middle = (low + top) / 2;
      (fits(middle) ? low : top) = middle;
    }
  }
  choice.largest_fitting = low;
  choice.accumulation = (rows_per_rank + low - 1) / low;
  // Even micro-batches: the fewest accumulation steps, rows spread over them.
  choice.micro_batch = (rows_per_rank + choice.accumulation - 1) / choice.accumulation;
  const int64_t tokens = choice.micro_batch * choice.accumulation * ranks * model.seq_len;
  choice.reason = fmt::format(
      "Batch: auto: {} rows x {} accumulation step{}{} = {} tokens per step (target {}); {} rows fit in {} of "
      "{}'s {} free (estimate {})",
      choice.micro_batch, choice.accumulation, choice.accumulation == 1 ? "" : "s",
      ranks > 1 ? fmt::format(" x {} ranks", ranks) : "", with_thousands(tokens), with_thousands(target_tokens),
      choice.micro_batch, fmt::format("{:.0f}%", 100 * kAutoBatchMemoryShare), device, human_bytes(memory_bytes),
      human_bytes(estimate_training_memory(model, choice.micro_batch, mixed_precision).total_bytes()));
  if (choice.largest_fitting >= rows_per_rank) {
    choice.reason += "; the target needs no more rows";
  } else {
    choice.reason += fmt::format("; at most {} would fit", choice.largest_fitting);
  }
  return choice;
}

double available_host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  double kib = 0;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

}  // namespace utt
