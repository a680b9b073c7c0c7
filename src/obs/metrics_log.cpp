#include "obs/metrics_log.h"

#include <nlohmann/json.hpp>

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

}  // namespace utt
