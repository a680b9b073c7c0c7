// Data parallelism end to end: `utt train --num-devices N` starts N worker processes (MPI ranks
// through mpirun) that train as one process with N times the batch, resume exactly, and end
// together when one of them dies.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "e2e/data_parallel_runs.h"
#include "e2e/run_utt.h"
#include "e2e/training_runs.h"
#include "io/safetensors.h"

namespace utt::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<double> losses(const fs::path& dir) {
  std::vector<double> values;
  for (const nlohmann::json& row : metrics(dir)) {
    if (row.contains("loss")) values.push_back(row["loss"].get<double>());
  }
  return values;
}

double largest_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double largest = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    largest = std::max(largest, std::abs(a[i] - b[i]) / std::abs(a[i]));
  }
  return largest;
}

// The largest |a - b| over every weight of two model.safetensors files.
double largest_weight_difference(const fs::path& a, const fs::path& b) {
  const safetensors::File first = safetensors::File::read(a.string());
  const safetensors::File second = safetensors::File::read(b.string());
  double largest = 0;
  for (const safetensors::TensorInfo& tensor : first.tensors()) {
    const std::vector<float> x = first.read_floats(tensor.name);
    const std::vector<float> y = second.read_floats(tensor.name);
    EXPECT_EQ(x.size(), y.size()) << tensor.name;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      largest = std::max(largest, static_cast<double>(std::abs(x[i] - y[i])));
    }
  }
  return largest;
}

// Measured on 2026-12-03 (AMD EPYC, AVX2; 2 ranks of batch 2 against one process of batch 4,
// 20 steps of tiny_run at learning rate 3e-3): losses within 1.1e-8 relative, weights within
// 1.1e-6: float rounding of gradient sums split in two places, carried through AdamW. The
// bounds leave a factor of about 20 for other CPUs' kernels.
constexpr double kLossTolerance = 2e-7;
constexpr double kWeightTolerance = 2e-5;

void expect_same_training(const fs::path& one, const fs::path& two, const std::string& what) {
  const std::vector<double> a = losses(one), b = losses(two);
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  const double loss_difference = largest_relative_difference(a, b);
  const double weight_difference =
      largest_weight_difference(one / "final_checkpoint/model.safetensors", two / "final_checkpoint/model.safetensors");
  std::cout << what << ": largest relative loss difference " << loss_difference << ", largest weight difference "
            << weight_difference << "\n";
  EXPECT_LE(loss_difference, kLossTolerance) << what;
  EXPECT_LE(weight_difference, kWeightTolerance) << what;
  EXPECT_LT(a.back(), a.front() - 0.3) << "the loss did not fall";
}

TEST(DataParallel, TwoRanksOfBatchBTrainAsOneProcessOfBatchTwoB) {
  const std::string dir = scratch_dir("dp-batch");
  const RunResult one = run_utt(run_on(dir + "/one", 20, 1, 4), dir);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const RunResult two = run_utt(run_on(dir + "/two", 20, 2, 2), dir);
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  EXPECT_NE(two.out.find("\u2713 Data parallelism across 2 CPU processes\nEffective batch size: 4 (2 per device)"),
            std::string::npos)
      << two.out;
  EXPECT_NE(two.out.find("Devices: 2x cpu (1 thread each)"), std::string::npos) << two.out;
  // Rank 0 alone prints: one banner, one line per step.
  EXPECT_EQ(two.out.find("Backend:"), two.out.rfind("Backend:")) << two.out;
  expect_same_training(dir + "/one", dir + "/two", "2 ranks x batch 2 vs 1 x batch 4");
  const nlohmann::json state = nlohmann::json::parse(read(dir + "/two/final_checkpoint/trainer_state.json"));
  EXPECT_EQ(state["data_parallel_ranks"], 2);
  EXPECT_EQ(state["batch_size_per_rank"], 2);
}

TEST(DataParallel, TwoRanksWithTwoMicroBatchesTrainAsOneProcessWithFour) {
  const std::string dir = scratch_dir("dp-accumulation");
  const RunResult one = run_utt(run_on(dir + "/one", 20, 1, 2, 4), dir);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const RunResult two = run_utt(run_on(dir + "/two", 20, 2, 2, 2), dir);
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  expect_same_training(dir + "/one", dir + "/two", "2 ranks x 2 micro-batches vs 1 x 4");
}

TEST(DataParallel, AResumedTwoRankRunEqualsTheUninterruptedOneBitForBit) {
  const std::string dir = scratch_dir("dp-resume");
  const RunResult full = run_utt(run_on(dir + "/full", 20, 2, 2), dir);
  ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
  const auto start_from_step_10 = [&](const std::string& name) {
    fs::create_directories(dir + "/" + name);
    fs::copy(dir + "/full/tokenizer.json", dir + "/" + name + "/tokenizer.json");
    fs::copy(dir + "/full/checkpoint_step_10", dir + "/" + name + "/checkpoint_step_10", fs::copy_options::recursive);
  };
  start_from_step_10("resumed");
  const RunResult resumed =
      run_utt(with_flags(run_on(dir + "/resumed", 20, 2, 2), {{"--resume-from", "latest"}}), dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("Resuming from"), std::string::npos) << resumed.out;
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    EXPECT_TRUE(read(dir + "/full/final_checkpoint/" + file) == read(dir + "/resumed/final_checkpoint/" + file))
        << file << " differs between the uninterrupted and the resumed run";
  }

  // On one rank: with the checkpoint's 4 rows per micro-batch the same batches continue; with
  // 2 the batches would differ, and the refusal says what would continue it.
  start_from_step_10("one-rank");
  const RunResult refused =
      run_utt(with_flags(run_on(dir + "/one-rank", 20, 1, 2), {{"--resume-from", "latest"}}), dir);
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("it trained 2 ranks of batch 2 (4 rows per micro-batch), this run 1 rank of batch 2 "
                             "(2 rows), so its batches would differ: resume with 2 ranks of --batch-size 2, or 1 "
                             "rank of --batch-size 4"),
            std::string::npos)
      << refused.err;
  const RunResult continued =
      run_utt(with_flags(run_on(dir + "/one-rank", 20, 1, 4), {{"--resume-from", "latest"}}), dir);
  ASSERT_EQ(continued.exit_code, 0) << continued.out << continued.err;
  EXPECT_NE(continued.out.find("Data parallelism: 1 rank instead of the checkpoint's 2 ranks"), std::string::npos)
      << continued.out;
  EXPECT_LE(largest_weight_difference(dir + "/full/final_checkpoint/model.safetensors",
                                      dir + "/one-rank/final_checkpoint/model.safetensors"),
            kWeightTolerance);
}

TEST(DataParallel, AKilledRankEndsTheJobNamingIt) {
  const std::string dir = scratch_dir("dp-kill");
  const std::string output = dir + "/killed";
  BackgroundRun run(with_flags(run_on(output, 100000, 2, 2), {{"--epochs", "50"}}), dir);
  ASSERT_TRUE(wait_for_a_step(output, run)) << "training never started";
  const std::optional<pid_t> worker = find_worker(1, output);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGKILL), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  const std::optional<RunResult> ended = run.wait_for(60s);
  ASSERT_TRUE(ended) << "the job did not end within 60 s of a rank's death";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::cout << "the job ended " << seconds << " s after rank 1 was killed\n";
  EXPECT_NE(ended->exit_code, 0);
  EXPECT_NE(ended->err.find("utt: error: worker rank 1 (on "), std::string::npos) << ended->err;
  EXPECT_NE(ended->err.find("was killed by signal 9 (Killed); the other workers were stopped"), std::string::npos)
      << ended->err;
  EXPECT_FALSE(find_worker(0, output)) << "rank 0 outlived the job";
}

TEST(DataParallel, AStoppedRankEndsTheJobAfterTheRankTimeoutNamingIt) {
  const std::string dir = scratch_dir("dp-hang");
  const std::string output = dir + "/hung";
  BackgroundRun run(with_flags(run_on(output, 100000, 2, 2), {{"--epochs", "50"}, {"--rank-timeout", "3"}}), dir);
  ASSERT_TRUE(wait_for_a_step(output, run)) << "training never started";
  const std::optional<pid_t> worker = find_worker(1, output);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGSTOP), 0);  // alive, but it never answers again
  const auto stopped_at = std::chrono::steady_clock::now();
  const std::optional<RunResult> ended = run.wait_for(60s);
  if (!ended) ::kill(*worker, SIGKILL);
  ASSERT_TRUE(ended) << "the job did not end within 60 s of a rank's hang (--rank-timeout 3)";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  std::cout << "the job ended " << seconds << " s after rank 1 stopped\n";
  EXPECT_GE(seconds, 2.5);
  EXPECT_NE(ended->exit_code, 0);
  // Stopped between steps, rank 1 is named by the others' meeting before each step's sums;
  // stopped within the sums (which every rank had entered), it can only be said that one hung.
  const bool named = ended->err.find("utt: error: rank 1 did not reach the gradient sum of step ") != std::string::npos;
  const bool within = ended->err.find("utt: error: the ranks stopped answering in the middle of summing") !=
                      std::string::npos;
  EXPECT_TRUE(named || within) << ended->err;
  EXPECT_NE(ended->err.find("--rank-timeout sets"), std::string::npos) << ended->err;
  // The launcher's last word (mpirun's own report of the abort is sometimes lost when a rank is
  // stopped: "ORTE_ERROR_LOG: Out of resource in file show_help.c").
  EXPECT_NE(ended->err.find("; the other workers were stopped"), std::string::npos) << ended->err;
  for (int i = 0; i < 500 && find_worker(1, output); ++i) std::this_thread::sleep_for(10ms);
  if (const std::optional<pid_t> left = find_worker(1, output)) {
    ::kill(*left, SIGKILL);
    ADD_FAILURE() << "the stopped worker outlived the job";
  }
}

TEST(DataParallel, SigtermToTheLauncherStopsEveryRankAfterOneCheckpoint) {
  const std::string dir = scratch_dir("dp-sigterm");
  const std::string output = dir + "/stopped";
  BackgroundRun run(with_flags(run_on(output, 100000, 2, 2), {{"--epochs", "50"}}), dir);
  ASSERT_TRUE(wait_for_a_step(output, run)) << "training never started";
  const RunResult stopped = run.stop(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.out << stopped.err;
  const size_t at = stopped.out.find("Stopped by SIGTERM after step ");
  ASSERT_NE(at, std::string::npos) << stopped.out << stopped.err;
  const int64_t step = std::stoll(stopped.out.substr(at + std::string("Stopped by SIGTERM after step ").size()));
  EXPECT_TRUE(fs::exists(output + "/checkpoint_step_" + std::to_string(step) + "/optimizer.safetensors"));
  EXPECT_EQ(stopped.err.find("error"), std::string::npos) << stopped.err;
  EXPECT_FALSE(find_worker(0, output)) << "a worker outlived the job";
  EXPECT_FALSE(find_worker(1, output)) << "a worker outlived the job";
}

TEST(DataParallel, BatchSizeAutoSplitsTheTargetOverTheRanksAndTheirShareOfMemory) {
  const std::string dir = scratch_dir("dp-auto-batch");
  std::vector<std::string> args = with_flags(run_on(dir + "/out", 10, 2, 1), {{"--batch-size", "auto"}});
  const auto accumulation = std::find(args.begin(), args.end(), "--gradient-accumulation-steps");
  args.erase(accumulation, accumulation + 2);  // auto chooses it
  args.insert(args.end(), {"--effective-batch-tokens", "512"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // 512 tokens of 32 over 2 ranks: 8 rows each, in half of this machine's memory per rank.
  EXPECT_NE(r.out.find("Batch: auto: 8 rows x 1 accumulation step x 2 ranks = 512 tokens per step (target 512); "
                       "8 rows fit in 80% of a rank's share (1/2) of "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Effective batch size: 16 (8 per device)"), std::string::npos) << r.out;
  const nlohmann::json state = nlohmann::json::parse(read(dir + "/out/final_checkpoint/trainer_state.json"));
  EXPECT_EQ(state["batch_size_per_rank"], 8);
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(summary["tokens"], 10 * 512);
}

TEST(DataParallel, ATimeBudgetWithAutoBatchIsPlannedByTheRanksTogether) {
  const std::string dir = scratch_dir("dp-time-budget");
  std::vector<std::string> args = {"train", "--dataset-id", corpus(), "--val-split", "validation",
                                   "--max-train-examples", "12", "--max-val-examples", "3", "--vocab-size", "600",
                                   "--seq-len", "32", "--batch-size", "auto", "--effective-batch-tokens", "512",
                                   "--learning-rate", "3e-3", "--eval-batches", "4", "--log-every", "5",
                                   "--num-devices", "2", "--threads", "1", "--time-budget", "20s",
                                   "--output-dir", dir + "/out"};
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = run_utt(args, dir);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Both ranks probe every size (their gradients summed each step), 8 rows each.
  for (const char* line : {"Effective batch size: chosen with the model by --time-budget (--batch-size auto)",
                           "measuring how fast the 2 ranks train candidate sizes", " s/step (8 rows x 1), ",
                           "steps of 512 (warmup ", "Batch: auto: 8 rows x 1 accumulation step x 2 ranks = 512"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  }
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_LE(summary["time_budget"]["used_seconds"].get<double>(), 20.0);
  EXPECT_LE(wall, 20.0 + 3.0);  // the launcher and mpirun around the ranks
  EXPECT_EQ(summary["tokens"], summary["steps"].get<int64_t>() * 512);
  ASSERT_GE(summary["steps"].get<int64_t>(), 10);
  // The ranks stopped at the same step (rank 0's clock decides): the job ended cleanly with
  // its final checkpoint, and the loss fell.
  const nlohmann::json state = nlohmann::json::parse(read(dir + "/out/final_checkpoint/trainer_state.json"));
  EXPECT_EQ(state["data_parallel_ranks"], 2);
  EXPECT_EQ(state["step"], summary["steps"]);
  const std::vector<double> values = losses(dir + "/out");
  ASSERT_FALSE(values.empty());
  EXPECT_LT(summary["final_loss"].get<double>(), values.front());
}

TEST(DataParallel, ADryRunPrintsThePlanOfTheRanks) {
  const std::string dir = scratch_dir("dp-dry-run");
  std::vector<std::string> args =
      with_flags(tiny_run(dir + "/out", 20), {{"--num-devices", "2"}, {"--threads", "1"}, {"--batch-size", "32"}});
  args.push_back("--dry-run");
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Devices: 2x cpu (1 thread each)\n\u2713 Multi-device training enabled!\n"
                       "\u2713 Data parallelism across 2 CPU processes\nEffective batch size: 64 (32 per device)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Launch: 2 worker processes on this machine, started through mpirun (1 thread each, batch 32 "
                       "per rank); rank 0 logs and writes checkpoints"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(batch 32 x accumulation 1 x 2 ranks x seq_len 32)"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

}  // namespace
}  // namespace utt::test
