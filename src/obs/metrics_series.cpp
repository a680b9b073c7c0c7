#include "obs/metrics_series.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "io/staged_dir.h"

namespace utt {

MetricsSeries read_metrics_series(const std::filesystem::path& metrics_jsonl) {
  MetricsSeries series;
  std::istringstream lines(read_file(metrics_jsonl, "metrics log"));
  std::string line;
  auto number = [](const nlohmann::json& record, const char* key) {
    return record.contains(key) && record[key].is_number();
  };
  while (std::getline(lines, line)) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("step") || !record["step"].is_number_integer()) continue;
    const auto step = record["step"].get<int64_t>();
    if (number(record, "loss") && number(record, "lr") && number(record, "tokens")) {
      const TrainPoint point{step, record["tokens"].get<int64_t>(), record["loss"].get<double>(),
                             record["lr"].get<double>()};
      if (std::isfinite(point.loss) && std::isfinite(point.learning_rate)) series.train.push_back(point);
    } else if (number(record, "val_loss")) {
      const ValidationPoint point{step, record["val_loss"].get<double>()};
      if (std::isfinite(point.loss)) series.validation.push_back(point);
    }
  }
  return series;
}

}  // namespace utt
