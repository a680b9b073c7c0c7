// Watching a run: TensorBoard event files that an independent decoder reads back (protoc's
// code for the Event protos, crcmod's CRC-32C), also across a resume, and the SVG loss plot at
// the end of a run and from `utt plot` while a run trains.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <map>
#include <thread>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string tools_dir() { return source_dir() + "/tests/tools"; }

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Every scalar of every file, in file and record order: (step, tag) -> value, and the order.
struct Scalars {
  std::vector<std::pair<int64_t, std::string>> order;
  std::map<std::pair<int64_t, std::string>, double> values;
};

Scalars scalars_of(const nlohmann::json& decoded) {
  Scalars scalars;
  for (const nlohmann::json& file : decoded["files"]) {
    for (const nlohmann::json& event : file["events"]) {
      if (!event.contains("scalars")) continue;
      for (const auto& [tag, value] : event["scalars"].items()) {
        const std::pair<int64_t, std::string> key{event["step"].get<int64_t>(), tag};
        scalars.order.push_back(key);
        scalars.values[key] = value.get<double>();
      }
    }
  }
  return scalars;
}

// Values as TensorBoard stores them: 32-bit floats.
double as_float(const nlohmann::json& value) { return static_cast<double>(static_cast<float>(value.get<double>())); }

TEST(TensorBoard, EventFilesHoldEveryLoggedValueAndPassAnIndependentDecoder) {
  const std::string dir = scratch_dir("tensorboard");
  const RunResult r = run_utt(tiny_run(dir + "/out", 20), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("TensorBoard: " + dir + "/out/runs/events.out.tfevents."), std::string::npos) << r.out;
  const nlohmann::json decoded = decode_tensorboard(dir + "/out/runs");
  ASSERT_EQ(decoded["files"].size(), 1u);
  const nlohmann::json& events = decoded["files"][0]["events"];
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0]["file_version"], "brain.Event:2");
  EXPECT_EQ(events[1]["session_status"], "START");
  EXPECT_EQ(events[1]["step"], 1);
  double previous_time = 0;
  for (const nlohmann::json& event : events) {
    EXPECT_GE(event["wall_time"].get<double>(), previous_time);
    previous_time = event["wall_time"];
  }
  EXPECT_GT(previous_time, 1.7e9);  // seconds since 1970, not since the start of the run

  // The same values as metrics.jsonl, step by step.
  const Scalars scalars = scalars_of(decoded);
  size_t expected = 0;
  for (const nlohmann::json& row : metrics(dir + "/out")) {
    const int64_t step = row["step"];
    if (row.contains("loss")) {
      EXPECT_EQ(scalars.values.at({step, "train/loss"}), as_float(row["loss"])) << step;
      EXPECT_EQ(scalars.values.at({step, "train/learning_rate"}), as_float(row["lr"])) << step;
      EXPECT_EQ(scalars.values.at({step, "train/grad_norm"}), as_float(row["grad_norm"])) << step;
      EXPECT_EQ(scalars.values.at({step, "train/tokens_per_second"}), as_float(row["tokens_per_sec"])) << step;
      EXPECT_GT(scalars.values.at({step, "train/step_seconds"}), 0) << step;
      EXPECT_EQ(scalars.values.at({step, "train/flops_per_second"}), as_float(row["flops_per_sec"])) << step;
      EXPECT_EQ(scalars.values.at({step, "train/mfu"}), as_float(row["mfu"])) << step;
      EXPECT_EQ(scalars.values.at({step, "train/peak_memory_bytes"}), as_float(row["peak_memory_bytes"])) << step;
      expected += 8;
    } else {
      EXPECT_EQ(scalars.values.at({step, "val/loss"}), as_float(row["val_loss"])) << step;
      EXPECT_EQ(scalars.values.at({step, "val/perplexity"}), as_float(row["val_perplexity"])) << step;
      expected += 2;
    }
  }
  EXPECT_EQ(scalars.order.size(), expected) << "events that metrics.jsonl does not have";
  EXPECT_EQ(expected, 4u * 8 + 2 * 2);
}

TEST(TensorBoard, NoTensorboardWritesNoEventFiles) {
  const std::string dir = scratch_dir("no_tensorboard");
  const RunResult r = run_utt(with(tiny_run(dir + "/out", 10), {"--no-tensorboard"}), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/out/runs"));
  EXPECT_EQ(r.out.find("TensorBoard:"), std::string::npos) << r.out;
}

// A run that crashed after logging past its last checkpoint (step 10) is resumed: the events
// logged after step 10 are cut from its file, the resumed run writes a new file that sorts
// after it, and together they hold what the uninterrupted run's file holds.
TEST(TensorBoard, AResumedRunCutsEventsPastItsCheckpointAndEqualsTheUninterruptedRun) {
  const std::string dir = scratch_dir("tensorboard_resume");
  ASSERT_EQ(run_utt(tiny_run(dir + "/full", 20), dir).exit_code, 0);
  fs::create_directories(dir + "/crashed");
  for (const char* name : {"tokenizer.json", "run.json", "metrics.jsonl", "model_config.json"}) {
    fs::copy(dir + "/full/" + name, dir + "/crashed/" + name);
  }
  fs::copy(dir + "/full/checkpoint_step_10", dir + "/crashed/checkpoint_step_10", fs::copy_options::recursive);
  fs::copy(dir + "/full/runs", dir + "/crashed/runs", fs::copy_options::recursive);
  const RunResult r = run_utt(with(tiny_run(dir + "/crashed", 20), {"--resume-from", "latest"}), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Steps 15 and 20 (train) and 20 (validation) of the crashed run.
  EXPECT_NE(r.out.find("TensorBoard: dropped 3 events logged after step 10 from runs/"), std::string::npos) << r.out;

  const nlohmann::json decoded = decode_tensorboard(dir + "/crashed/runs");
  ASSERT_EQ(decoded["files"].size(), 2u);
  const nlohmann::json& resumed = decoded["files"][1]["events"];
  EXPECT_EQ(resumed[1]["session_status"], "START");
  EXPECT_EQ(resumed[1]["step"], 11);
  // Timing differs between processes; everything else is the same numbers in the same order
  // (per training event loss, learning rate, gradient norm and peak memory, which a resumed run
  // allocates the same).
  const std::vector<std::string> expected = tensorboard_values(decode_tensorboard(dir + "/full/runs"));
  EXPECT_EQ(expected.size(), 4u * 4 + 2 * 2);
  EXPECT_EQ(tensorboard_values(decoded), expected);
}

// tests/tools/read_svg_plot.py's view of an SVG.
nlohmann::json read_plot(const fs::path& svg, const std::string& cwd) {
  const RunResult r = run_program("/usr/bin/python3", {tools_dir() + "/read_svg_plot.py", svg.string()}, cwd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// Points drawn for `values` lie on one line v -> (a + b v) with b of the given sign: the
// drawing is the numbers, scaled (0.01 of a unit: the SVG's two decimals).
void expect_scaled(const nlohmann::json& points, int coordinate, const std::vector<double>& values, double sign) {
  ASSERT_EQ(points.size(), values.size());
  ASSERT_GE(values.size(), 2u);
  // The line through the points of the smallest and the largest value: the SVG's rounding
  // moves its slope least.
  const size_t lo = static_cast<size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  const size_t hi = static_cast<size_t>(std::max_element(values.begin(), values.end()) - values.begin());
  ASSERT_NE(values[lo], values[hi]);
  const double b = (points[hi][coordinate].get<double>() - points[lo][coordinate].get<double>()) / (values[hi] - values[lo]);
  const double a = points[lo][coordinate].get<double>() - b * values[lo];
  EXPECT_GT(b * sign, 0);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(points[i][coordinate].get<double>(), a + b * values[i], 0.02) << "point " << i;
  }
}

TEST(Plot, ARunEndsWithAnSvgOfItsLossCurvesNamedInTheOutputsLine) {
  const std::string dir = scratch_dir("plot");
  const RunResult r = run_utt(with(tiny_run(dir + "/out", 20), {"--log-every", "2"}), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string outputs = r.out.substr(r.out.rfind("Outputs:"));
  EXPECT_NE(outputs.find("training_curves.svg"), std::string::npos) << outputs;
  EXPECT_NE(outputs.find("runs/"), std::string::npos) << outputs;

  const nlohmann::json plot = read_plot(dir + "/out/training_curves.svg", dir);
  std::vector<double> train_steps, train_loss, learning_rate, val_steps, val_loss;
  for (const nlohmann::json& row : metrics(dir + "/out")) {
    if (row.contains("loss")) {
      train_steps.push_back(row["step"]);
      train_loss.push_back(row["loss"]);
      learning_rate.push_back(row["lr"]);
    } else {
      val_steps.push_back(row["step"]);
      val_loss.push_back(row["val_loss"]);
    }
  }
  ASSERT_EQ(train_steps.size(), 10u);
  const nlohmann::json& series = plot["series"];
  expect_scaled(series["train_loss"], 0, train_steps, +1);
  expect_scaled(series["train_loss"], 1, train_loss, -1);  // SVG's y grows downwards
  expect_scaled(series["learning_rate"], 0, train_steps, +1);
  expect_scaled(series["learning_rate"], 1, learning_rate, -1);
  ASSERT_EQ(series["validation_loss"].size(), 2u);
  // Validation at steps 10 and 20: the same x as training's points there, on the same loss scale.
  EXPECT_EQ(series["validation_loss"][0][0], series["train_loss"][4][0]);
  EXPECT_EQ(series["validation_loss"][1][0], series["train_loss"][9][0]);
  std::vector<double> loss_values = train_loss;
  loss_values.insert(loss_values.end(), val_loss.begin(), val_loss.end());
  nlohmann::json loss_points = series["train_loss"];
  for (const auto& point : series["validation_loss"]) loss_points.push_back(point);
  expect_scaled(loss_points, 1, loss_values, -1);
  // Tokens label the top axis: 4 x 32 tokens per step, so step 20 is 2,560 tokens.
  bool tokens_axis = false;
  bool tokens_at_20 = false;
  for (const auto& text : plot["texts"]) {
    tokens_axis |= text == "tokens";
    tokens_at_20 |= text == "2.56K";
  }
  EXPECT_TRUE(tokens_axis);
  EXPECT_TRUE(tokens_at_20) << plot["texts"];
}

TEST(Plot, PlotCommandDrawsARunWhileItTrains) {
  const std::string dir = scratch_dir("plot_live");
  BackgroundRun run(with(tiny_run(dir + "/out", 100000), {"--epochs", "1000"}), dir);
  bool logged = false;
  for (int i = 0; i < 6000 && !logged; ++i) {
    if (run.wait_for(10ms)) break;
    logged = fs::exists(dir + "/out/metrics.jsonl") && read(dir + "/out/metrics.jsonl").find("\"loss\"") != std::string::npos;
  }
  ASSERT_TRUE(logged) << "the run never logged a step";
  const RunResult r = run_utt({"plot", "--run", dir + "/out"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Plot: " + dir + "/out/training_curves.svg ("), std::string::npos) << r.out;
  const nlohmann::json plot = read_plot(dir + "/out/training_curves.svg", dir);
  EXPECT_GE(plot["series"]["train_loss"].size(), 1u);
  EXPECT_EQ(run.stop(SIGINT).exit_code, 130);
}

TEST(Plot, PlotCommandRefusesADirectoryThatIsNoRun) {
  const std::string dir = scratch_dir("plot_refused");
  const RunResult missing = run_utt({"plot", "--run", dir + "/nothing"}, dir);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("utt: error: --run " + dir + "/nothing is not a directory"), std::string::npos) << missing.err;
  fs::create_directories(dir + "/empty");
  const RunResult empty = run_utt({"plot", "--run", dir + "/empty"}, dir);
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("has no metrics.jsonl: give the --output-dir of a utt train run"), std::string::npos)
      << empty.err;
  EXPECT_EQ(std::count(empty.err.begin(), empty.err.end(), '\n'), 1);
  EXPECT_TRUE(is_empty_dir(dir + "/empty"));
  EXPECT_EQ(run_utt({"plot"}, dir).exit_code, 2);
}

}  // namespace
}  // namespace utt::test
