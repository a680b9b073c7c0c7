// metrics.jsonl: one JSON object per line for every logged value, appended and flushed as it
// happens, so a crash loses at most the line being written and any tool can follow the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>

namespace utt {

class MetricsLog {
 public:
  // Opens for appending (a resumed run continues the same file). Throws UserError when the
  // file cannot be opened.
  explicit MetricsLog(const std::filesystem::path& path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const nlohmann::json& record);

 private:
  std::FILE* file_ = nullptr;
};

// A run resumed from the checkpoint of step `step` repeats the steps after it, so the entries
// logged after that checkpoint (a "step" above it) are dropped first, along with a line cut
// short by a crash: after any number of stops and resumes the file lists every step once, as
// the uninterrupted run wrote it. Rewrites the file atomically; returns the entries dropped.
// A missing file is left missing.
int64_t drop_metrics_after(const std::filesystem::path& path, int64_t step);

}  // namespace utt
