// utt train --batch-size auto: the choice printed before step 1 and used by the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;

// tiny_run with --batch-size auto for `tokens` per optimizer step.
std::vector<std::string> auto_batch_run(const std::string& output_dir, const std::string& tokens) {
  std::vector<std::string> args = tiny_run(output_dir, 10);
  const auto batch = std::find(args.begin(), args.end(), "--batch-size");
  *(batch + 1) = "auto";
  args.insert(args.end(), {"--effective-batch-tokens", tokens});
  return args;
}

TEST(AutoBatch, ChoosesTheBatchFromMemoryAndTrainsWithIt) {
  const std::string dir = scratch_dir("auto_batch");
  const RunResult r = run_utt(auto_batch_run(dir + "/out", "256"), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Batch: auto: 8 rows x 1 accumulation step = 256 tokens per step (target 256)"),
            std::string::npos) << r.out;
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(summary["configuration"]["batch_size"], 8);
  EXPECT_EQ(summary["configuration"]["gradient_accumulation_steps"], 1);
  EXPECT_EQ(summary["tokens"], 10 * 8 * 32);
}

TEST(AutoBatch, ADryRunShowsTheChoice) {
  const std::string dir = scratch_dir("auto_batch_dry");
  std::vector<std::string> args = auto_batch_run(dir + "/out", "1024");
  args.push_back("--dry-run");
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Batch: auto: 32 rows x 1 accumulation step = 1,024 tokens per step"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("of this machine's "), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

// A run whose 64 rows of 256 tokens need ~2.2 GB of address space here (measured with prlimit:
// 2.1 GB fails, 2.2 GB runs) and whose 32 rows need ~1.4 GB, under an address-space limit of
// `limit_mb`: a real out-of-memory, from a limit the estimate does not know.
RunResult run_under_address_limit(const std::string& dir, int limit_mb) {
  // One malloc arena: the address space a run reserves then does not grow with the threads.
  const std::vector<std::string> args = {
      "MALLOC_ARENA_MAX=1", "/usr/bin/prlimit", "--as=" + std::to_string(limit_mb) + "000000", utt_binary(), "train", "--dataset-id", corpus(),
      "--max-train-examples", "12", "--vocab-size", "600", "--seq-len", "256", "--d-model", "256",
      "--num-layers", "4", "--num-heads", "4", "--d-ff", "1024", "--batch-size", "auto",
      "--effective-batch-tokens", "16384", "--max-steps", "2", "--warmup-steps", "1", "--threads", "1",
      "--log-every", "1", "--output-dir", dir + "/out"};
  return run_program("/usr/bin/env", args, dir);
}

TEST(AutoBatch, AnOutOfMemoryBacksOffOnceToHalfTheMicroBatch) {
  const std::string dir = scratch_dir("auto_batch_oom");
  const RunResult r = run_under_address_limit(dir, 1750);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* line : {"Batch: auto: 64 rows x 1 accumulation step", "Out of memory before the first checkpoint: "
                           "the host is out of memory", "--batch-size auto backs off once and starts again: 32 rows x 2 "
                           "accumulation steps instead of 64 x 1"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  }
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(summary["configuration"]["batch_size"], 32);
  EXPECT_EQ(summary["configuration"]["gradient_accumulation_steps"], 2);
  EXPECT_EQ(summary["tokens"], 2 * 64 * 256);  // the same rows per step as chosen
  EXPECT_EQ(metrics(dir + "/out").size(), 2u);  // the first try logged nothing that stayed
}

TEST(AutoBatch, ASecondOutOfMemoryEndsTheRunWithTheFlagsThatWouldFit) {
  const std::string dir = scratch_dir("auto_batch_oom_twice");
  const RunResult r = run_under_address_limit(dir, 1200);
  EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
  EXPECT_NE(r.out.find("backs off once and starts again: 32 rows x 2"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("the host is out of memory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(after backing off once); to fit, train with --batch-size 16 --gradient-accumulation-steps 4"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir + "/out/final_checkpoint"));
}

TEST(AutoBatch, ContradictionsAreRefused) {
  expect_refused(scratch_dir("auto_batch_bad"), {
      {{"--effective-batch-tokens", "4096"}, "--effective-batch-tokens applies to --batch-size auto"},
      {{"--batch-size", "auto", "--gradient-accumulation-steps", "4"}, "chooses --gradient-accumulation-steps itself"},
      {{"--batch-size", "many"}, "--batch-size"},
  });
}

}  // namespace
}  // namespace utt::test
