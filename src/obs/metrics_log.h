// metrics.jsonl: one JSON object per line for every logged value, appended and flushed as it
// happens, so a crash loses at most the line being written and any tool can follow the file.
#pragma once

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

}  // namespace utt
