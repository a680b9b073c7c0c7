// The loss plot: its series are read from metrics.jsonl as a run writes it (also mid-write),
// and each becomes one polyline with a point per entry. The e2e tests parse the SVG of a real
// run with an XML parser (tests/tools/read_svg_plot.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <regex>
#include <string>

#include "obs/loss_plot.h"
#include "obs/metrics_series.h"
#include "util/error.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("utt_plot_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Points of the polyline whose data-series is `name` (-1: no such polyline).
int count_points(const std::string& svg, const std::string& name) {
  const std::regex pattern("<polyline data-series=\"" + name + "\"[^>]* points=\"([^\"]*)\"");
  std::smatch match;
  if (!std::regex_search(svg, match, pattern)) return -1;
  const std::string points = match[1];
  // Finite numbers only: "x,y x,y ..."
  if (!std::regex_match(points, std::regex(R"(-?\d+\.\d+,-?\d+\.\d+( -?\d+\.\d+,-?\d+\.\d+)*)"))) return -2;
  return static_cast<int>(std::count(points.begin(), points.end(), ','));
}

TEST(MetricsSeries, ReadsTrainingAndValidationEntriesSkippingACutLine) {
  const fs::path dir = scratch("series");
  std::ofstream(dir / "metrics.jsonl")
      << R"({"step":5,"loss":6.1,"lr":0.001,"grad_norm":1.5,"tokens_per_sec":100,"tokens":640,"epoch":0})" "\n"
      << R"({"step":10,"loss":5.9,"lr":0.002,"grad_norm":1.2,"tokens_per_sec":100,"tokens":1280,"epoch":0})" "\n"
      << R"({"step":10,"val_loss":5.8,"val_perplexity":330.3,"val_batches":4})" "\n"
      << R"({"step":20,"val_loss":null})" "\n"
      << R"({"step":15,"loss":5.7,"lr":0.0)";
  const MetricsSeries series = read_metrics_series(dir / "metrics.jsonl");
  ASSERT_EQ(series.train.size(), 2u);
  EXPECT_EQ(series.train[1].step, 10);
  EXPECT_EQ(series.train[1].tokens, 1280);
  EXPECT_DOUBLE_EQ(series.train[1].loss, 5.9);
  EXPECT_DOUBLE_EQ(series.train[1].learning_rate, 0.002);
  ASSERT_EQ(series.validation.size(), 1u);  // a NaN validation loss (logged as null) is not drawn
  EXPECT_DOUBLE_EQ(series.validation[0].loss, 5.8);
  fs::remove_all(dir);
}

TEST(LossPlot, EachSeriesIsOnePolylineWithAPointPerEntry) {
  MetricsSeries series;
  for (int64_t step = 5; step <= 50; step += 5) {
    series.train.push_back({step, step * 128, 8.0 - static_cast<double>(step) / 10, 1e-3});
  }
  series.validation = {{25, 6.0}, {50, 3.5}};
  const std::string svg = render_loss_plot(series, "run <a & b>");
  EXPECT_EQ(count_points(svg, "train_loss"), 10);
  EXPECT_EQ(count_points(svg, "validation_loss"), 2);
  EXPECT_EQ(count_points(svg, "learning_rate"), 10);
  EXPECT_NE(svg.find("<title>run &lt;a &amp; b&gt;</title>"), std::string::npos);
  EXPECT_NE(svg.find("best 3.5000 at step 50"), std::string::npos);
}

TEST(LossPlot, ASinglePointAndNoValidationStillDraw) {
  MetricsSeries series;
  series.train.push_back({1, 128, 7.5, 0.0});
  const std::string svg = render_loss_plot(series, "one");
  EXPECT_EQ(count_points(svg, "train_loss"), 1);
  EXPECT_EQ(count_points(svg, "validation_loss"), -1);
}

TEST(LossPlot, ADirectoryWithoutMetricsOrWithNothingLoggedIsRefused) {
  const fs::path dir = scratch("refused");
  EXPECT_THROW(write_loss_plot(dir), UserError);
  std::ofstream(dir / "metrics.jsonl") << "";
  EXPECT_THROW(write_loss_plot(dir), UserError);
  EXPECT_FALSE(fs::exists(dir / kLossPlotName));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace utt
