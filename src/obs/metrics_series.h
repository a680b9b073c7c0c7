// The series a loss plot draws, read back from a run's metrics.jsonl (obs/metrics_log.h): the
// file is the run's record of what it logged, and it can be read while the run appends to it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace utt {

struct TrainPoint {
  int64_t step = 0;
  int64_t tokens = 0;  // training tokens seen by the end of `step`
  double loss = 0;     // mean over the log interval
  double learning_rate = 0;
};

struct ValidationPoint {
  int64_t step = 0;
  double loss = 0;
};

struct MetricsSeries {
  std::vector<TrainPoint> train;
  std::vector<ValidationPoint> validation;
};

// Entries in file order; a line cut short (the run is writing it, or was killed while it did)
// and entries of other kinds are skipped, as are non-finite losses. Throws UserError when the
// file cannot be read.
MetricsSeries read_metrics_series(const std::filesystem::path& metrics_jsonl);

}  // namespace utt
