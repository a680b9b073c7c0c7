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

TEST(AutoBatch, ContradictionsAreRefused) {
  expect_refused(scratch_dir("auto_batch_bad"), {
      {{"--effective-batch-tokens", "4096"}, "--effective-batch-tokens applies to --batch-size auto"},
      {{"--batch-size", "auto", "--gradient-accumulation-steps", "4"}, "chooses --gradient-accumulation-steps itself"},
      {{"--batch-size", "many"}, "--batch-size"},
  });
}

}  // namespace
}  // namespace utt::test
