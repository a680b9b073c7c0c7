// What a dry run prints: resolved configuration, architecture, exact parameter count, memory
// estimate and schedule; and that it writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "e2e/run_utt.h"

namespace utt::test {
namespace {

int64_t parameters_line(const std::string& out) {
  const std::regex pattern("\nParameters: ([0-9,]+)\n");
  std::smatch match;
  if (!std::regex_search(out, match, pattern)) return -1;
  std::string digits = match[1];
  digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
  return std::stoll(digits);
}

TEST(DryRun, PrintsEverySectionAndWritesNothing) {
  const std::string dir = scratch_dir("dry");
  const RunResult r = run_utt({"train", "--dataset-id", "org/data", "--model-preset", "tiny",
                               "--max-steps", "2000", "--dry-run"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"Backend: ", "Devices: ", "Dataset: Hugging Face Hub dataset org/data",
                           "Model: preset tiny", "Architecture: RMSNorm, SwiGLU, RoPE",
                           "Training memory", "weights", "gradients", "optimizer", "activations",
                           "Learning-rate schedule", "total steps: 2,000", "Configuration",
                           "--batch-size"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << "missing '" << part << "' in\n" << r.out;
  }
  EXPECT_EQ(parameters_line(r.out), 12'488'960);
  EXPECT_TRUE(is_empty_dir(dir));
}

TEST(DryRun, NamesWhereCheckpointsAreUploadedAndTheCloudCheckpointToResumeFrom) {
  const RunResult r = run_utt({"train", "--dataset-id", "org/data", "--cloud-provider", "azure", "--cloud-bucket", "b",
                               "--azure-account-name", "acct", "--azure-sas-token", "sv=x", "--cloud-prefix", "runs/a",
                               "--keep-last", "2", "--resume-from", "az://acct/b/runs/a/latest", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Cloud: every checkpoint uploaded to az://acct/b/runs/a/ in the background, the newest 2 "
                       "step checkpoints kept there"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Resume: from az://acct/b/runs/a/latest (downloaded"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Not supported yet"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("sv=x"), std::string::npos) << "the SAS token is shown:\n" << r.out;
}

// The dry run shows the plan without credentials, and says that a real run would stop.
TEST(DryRun, NamesMissingCloudCredentialsWithoutStopping) {
  for (const char* name : {"GOOGLE_ACCESS_KEY_ID", "GOOGLE_SECRET_ACCESS_KEY", "GOOGLE_OAUTH_ACCESS_TOKEN"}) {
    ::unsetenv(name);
  }
  const RunResult r = run_utt({"train", "--dataset-id", "org/data", "--cloud-provider", "gcs", "--cloud-bucket", "b",
                               "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Cloud: every checkpoint uploaded to gs://b/checkpoints/ in the background"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("A real run stops here now: --cloud-provider gcs found no credentials"), std::string::npos)
      << r.out;
}

// The guide's LoRA example names no base model: its dry run shows the plan and what a real run
// needs; the real run is refused with that reason.
TEST(DryRun, LoraWithoutABaseShowsThePlanAndWhatARealRunNeeds) {
  const RunResult r = run_utt({"train", "--dataset-id", "org/data", "--use-lora", "--lora-rank", "16", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LoRA: rank 16, alpha 32, dropout 0, targets q,v"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a real run needs --init-from DIR"), std::string::npos) << r.out;
  const RunResult real = run_utt({"train", "--dataset-id", "org/data", "--use-lora"});
  EXPECT_EQ(real.exit_code, 2);
  EXPECT_NE(real.err.find("--use-lora fine-tunes an existing model, and none is given: add --init-from"),
            std::string::npos) << real.err;
}

TEST(DryRun, TargetParamsLandWithinFivePercent) {
  for (const char* target : {"10000000", "10M", "1.5B"}) {
    const RunResult r = run_utt({"train", "--dataset-id", "org/data", "--target-params", target,
                                 "--prefer-depth", "--dry-run"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const double expected = std::string(target) == "1.5B" ? 1.5e9 : 1e7;
    EXPECT_NEAR(static_cast<double>(parameters_line(r.out)), expected, 0.05 * expected) << r.out;
  }
}

TEST(DryRun, ArchitectureSwitchesChangeTheCount) {
  const RunResult llama = run_utt({"train", "--dataset-id", "d/x", "--model-preset", "nano", "--dry-run"});
  const RunResult gpt = run_utt({"train", "--dataset-id", "d/x", "--model-preset", "nano", "--no-rmsnorm",
                                 "--no-swiglu", "--no-rope", "--dry-run"});
  ASSERT_EQ(gpt.exit_code, 0) << gpt.err;
  EXPECT_NE(gpt.out.find("LayerNorm, MLP (gelu), learned positions"), std::string::npos);
  // LayerNorm adds 13 norm biases of 128, learned positions 256x128; MLP drops one 128x512 matrix per layer.
  EXPECT_EQ(parameters_line(gpt.out), parameters_line(llama.out) + 13 * 128 + 256 * 128 - 6 * 128 * 512);
}

TEST(DryRun, ConfigFileAndCommandLineTogether) {
  const std::string dir = scratch_dir("cfg");
  std::ofstream(dir + "/run.toml") << "dataset_id = \"org/data\"\nmodel_preset = \"nano\"\nbatch_size = 4\n";
  const RunResult r = run_utt({"train", "--config", "run.toml", "--batch-size", "8", "--dry-run"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("batch 8 x seq_len 256"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Model: preset nano"), std::string::npos);
}

TEST(DryRun, LocalDatasetIsDescribed) {
  const std::string dir = scratch_dir("local");
  std::ofstream(dir + "/corpus.txt") << "one line\nanother line\n";
  const RunResult r = run_utt({"train", "--dataset-id", "corpus.txt", "--dry-run"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Dataset: local file corpus.txt (22 B)"), std::string::npos) << r.out;
}

TEST(DryRun, LocalGlobIsDescribed) {
  const std::string dir = scratch_dir("glob");
  std::ofstream(dir + "/a.txt") << "one\n";
  std::ofstream(dir + "/b.txt") << "two\n";
  const RunResult r = run_utt({"train", "--dataset-id", "*.txt", "--dry-run"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Dataset: local files matching *.txt"), std::string::npos) << r.out;
}

TEST(DryRun, DeviceCudaWithoutAGpuIsRefused) {
  const RunResult r = run_utt({"train", "--dataset-id", "d/x", "--device", "cuda", "--dry-run"});
  if (r.exit_code == 0) GTEST_SKIP() << "a CUDA GPU is visible here: nothing to refuse";
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--device cuda: "), std::string::npos) << r.err;
}

// A real run asked for a GPU that is not there: one error line, exit 2, nothing written.
TEST(DryRun, ARealRunOnAMissingGpuIsOneErrorAndWritesNothing) {
  const std::string dir = scratch_dir("no_gpu");
  std::ofstream(dir + "/a.txt") << "some text to train on\n";
  const RunResult r = run_utt({"train", "--dataset-id", dir + "/a.txt", "--device", "cuda", "--output-dir", dir + "/out"});
  if (r.exit_code == 0) GTEST_SKIP() << "a CUDA GPU is visible here: nothing to refuse";
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("utt: error: --device cuda: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/out"));
}

}  // namespace
}  // namespace utt::test
