// utt train --time-budget: a plan made from measured speed, kept to the second, shown by a dry run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The demo corpus, a small vocabulary and batch; the model and steps left to the budget.
std::vector<std::string> budget_run(const std::string& output_dir, const std::string& budget) {
  return {"train", "--dataset-id", corpus(), "--val-split", "validation", "--max-train-examples", "12",
          "--max-val-examples", "3", "--vocab-size", "600", "--seq-len", "32", "--batch-size", "4",
          "--learning-rate", "3e-3", "--eval-batches", "4", "--log-every", "5", "--threads", "2",
          "--time-budget", budget, "--output-dir", output_dir};
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(TimeBudget, ChoosesAModelFromMeasuredSpeedAndEndsWithinTheBudget) {
  const std::string dir = scratch_dir("time_budget");
  const auto start = Clock::now();
  const RunResult r = run_utt(budget_run(dir + "/out", "25s"), dir);
  const double wall = seconds_since(start);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* line : {"Time budget: 25.0s; measuring how fast this machine trains candidate sizes", " s/step, ",
                           "Plan: ", "expected loss ", "Time budget: 25.0s planned, "}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  }
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  const nlohmann::json& budget = summary["time_budget"];
  EXPECT_EQ(budget["budget_seconds"], 25.0);
  EXPECT_LE(budget["used_seconds"].get<double>(), 25.0);
  EXPECT_LE(wall, 25.0 + 2.0);  // process start and exit around the run
  ASSERT_GE(budget["probes"].size(), 1u);  // more when the machine is fast enough to probe them in the time
  EXPECT_GT(budget["probes"][0]["step_seconds"].get<double>(), 0);
  EXPECT_EQ(summary["parameters"], budget["parameters"]);
  // The plan follows the measured step time; it ends its schedule unless the deadline cut it.
  if (!budget["deadline_reached"].get<bool>()) {
    EXPECT_EQ(summary["steps"], summary["total_steps"]);
  }
  EXPECT_TRUE(fs::exists(dir + "/out/final_checkpoint/model.safetensors"));
  // It trained: the loss fell from the first logged interval (step 5) to the end.
  ASSERT_GE(summary["steps"].get<int64_t>(), 10);
  const std::vector<nlohmann::json> rows = metrics(dir + "/out");
  ASSERT_FALSE(rows.empty());
  EXPECT_LT(summary["final_loss"].get<double>(), rows.front()["loss"].get<double>());
}

TEST(TimeBudget, WithBatchSizeAutoEachSizeGetsItsOwnBatch) {
  const std::string dir = scratch_dir("time_budget_auto_batch");
  std::vector<std::string> args = budget_run(dir + "/out", "20s");
  *(std::find(args.begin(), args.end(), "--batch-size") + 1) = "auto";
  // One thread: beside another test's two on two cores, a spinning pool's steps were 80 times
  // slower in the probe than alone, and nothing fitted.
  *(std::find(args.begin(), args.end(), "--threads") + 1) = "1";
  args.insert(args.end(), {"--effective-batch-tokens", "512"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // 512 tokens of 32 are 16 rows, which fit any machine: every size probed with them.
  for (const char* line : {"Batch: auto: chosen for each size the time budget measures, to 512 tokens per step",
                           " s/step (16 rows x 1), ", "steps of 512 (warmup ",
                           "Batch: auto: 16 rows x 1 accumulation step = 512 tokens per step (target 512)"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  }
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(summary["configuration"]["batch_size"], 16);
  EXPECT_EQ(summary["configuration"]["gradient_accumulation_steps"], 1);
  EXPECT_EQ(summary["tokens"], summary["steps"].get<int64_t>() * 512);
  // The configuration shows the model and steps the plan chose, not the flags' defaults.
  EXPECT_EQ(summary["configuration"]["d_model"], summary["model"]["d_model"]);
  EXPECT_EQ(summary["configuration"]["max_steps"], summary["time_budget"]["planned_steps"]);
}

TEST(TimeBudget, AFixedModelAndStepsAreKept) {
  const std::string dir = scratch_dir("time_budget_fixed");
  std::vector<std::string> args = tiny_run(dir + "/out", 30);
  args.insert(args.end(), {"--time-budget", "2m"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("measuring how fast this machine trains the model"), std::string::npos) << r.out;
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(summary["steps"], 30);
  EXPECT_EQ(summary["time_budget"]["planned_steps"], 30);
  EXPECT_EQ(summary["time_budget"]["probes"].size(), 1u);
  EXPECT_EQ(summary["model"]["d_model"], 64);
}

TEST(TimeBudget, AResumedRunStopsAtTheBudgetWithItsFinalCheckpoint) {
  const std::string dir = scratch_dir("time_budget_resume");
  const fs::path out = dir + "/out";
  const auto with_budget = [&](const std::string& budget) {
    std::vector<std::string> args = tiny_run(out.string(), 1000);
    args.insert(args.end(), {"--time-budget", budget});
    return args;
  };
  {
    BackgroundRun run(with_budget("30m"), dir);
    const auto start = Clock::now();
    while (!fs::exists(out / "checkpoint_step_20") && seconds_since(start) < 120) {
      ASSERT_FALSE(run.wait_for(std::chrono::milliseconds(20))) << "the run ended before its checkpoint at step 20";
    }
    const RunResult stopped = run.stop(SIGTERM);
    ASSERT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.err << stopped.out;
  }
  // The checkpoint's run used a second or more; a 2-second budget cannot hold its 1,000 steps.
  std::vector<std::string> args = with_budget("2s");
  args.insert(args.end(), {"--resume-from", "latest"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("the checkpoint's plan of 1,000 steps continues"), std::string::npos) << r.out;
  // Either the deadline stopped it, or (a fast machine doing 10 steps first) the plan shrank to
  // what fits and ended its schedule there.
  const nlohmann::json summary = nlohmann::json::parse(read(out / "training_summary.json"));
  if (summary["time_budget"]["deadline_reached"].get<bool>()) {
    EXPECT_NE(r.out.find("Time budget: stopping after step "), std::string::npos) << r.out;
  } else {
    EXPECT_NE(r.out.find("slower than planned: the plan shrinks from 1,000 to "), std::string::npos) << r.out;
    EXPECT_EQ(summary["steps"], summary["total_steps"]);
  }
  EXPECT_LT(summary["steps"].get<int64_t>(), 1000);
  EXPECT_TRUE(fs::exists(out / "final_checkpoint/model.safetensors"));
}

TEST(TimeBudget, ADryRunShowsThePlanWithoutTraining) {
  const std::string dir = scratch_dir("time_budget_dry");
  std::vector<std::string> args = budget_run(dir + "/out", "20s");
  args.push_back("--dry-run");
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* line : {"chosen by --time-budget", "Plan: ", "(a preview: measured now with vocabulary 600"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

TEST(TimeBudget, BadBudgetsAreRefusedWithTheFix) {
  expect_refused(scratch_dir("time_budget_bad"), {
      {{"--time-budget", "90"}, "'90' has no unit"},
      {{"--time-budget", "soon"}, "give a duration such as 90s, 20m, 2h or 1h30m"},
      {{"--time-budget", "5m", "--epochs", "2"}, "--time-budget chooses how many tokens"},
  });
}

}  // namespace
}  // namespace utt::test
