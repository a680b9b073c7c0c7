#include "obs/metrics_log.h"

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {

MetricsLog::MetricsLog(const std::filesystem::path& path) {
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) {
    throw UserError("cannot open " + path.string() +
                    " for writing: check that the output directory is writable");
  }
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  // A failed metrics write must not stop training; it is reported once by the caller's
  // checkpoint writes, which hit the same disk.
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

int64_t drop_metrics_after(const std::filesystem::path& path, int64_t step) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return 0;
  std::istringstream lines(read_file(path, "metrics log"));
  std::string kept;
  int64_t dropped = 0;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool complete = record.is_object() && record.contains("step") && record["step"].is_number_integer();
    if (!complete || record["step"].get<int64_t>() > step) {
      ++dropped;
      continue;
    }
    kept.append(line).append("\n");
  }
  if (dropped > 0) write_file_atomic(path, kept);
  return dropped;
}

}  // namespace utt
