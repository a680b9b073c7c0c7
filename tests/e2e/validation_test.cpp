// Every impossible request ends with one line naming the problem and the fix, exit code 2,
// and nothing written. One test per rule, through the real binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "e2e/run_utt.h"

namespace utt::test {
namespace {

void expect_refused(std::vector<std::string> args, const std::string& fragment) {
  const std::string dir = scratch_dir("refused");
  args.insert(args.begin(), "train");
  const RunResult r = run_utt(args, dir);
  std::string line;
  for (const auto& a : args) line += a + " ";
  EXPECT_EQ(r.exit_code, 2) << line;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << line << "\nstderr: " << r.err;
  EXPECT_EQ(r.err.rfind("utt: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_TRUE(is_empty_dir(dir)) << "files were written for: " << line;
}

const std::vector<std::string> kBase = {"--dataset-id", "org/data", "--dry-run"};

std::vector<std::string> with_base(std::vector<std::string> args) {
  args.insert(args.begin(), kBase.begin(), kBase.end());
  return args;
}

TEST(Validation, DModelNotDivisibleByHeads) {
  expect_refused(with_base({"--d-model", "500", "--num-heads", "8"}), "not divisible by --num-heads");
}
TEST(Validation, HeadsNotDivisibleByKvHeads) {
  expect_refused(with_base({"--num-kv-heads", "3"}), "not divisible by --num-kv-heads");
}
TEST(Validation, OddHeadDimWithRope) {
  expect_refused(with_base({"--d-model", "72", "--num-heads", "8"}), "RoPE needs an even head size");
}
TEST(Validation, ZeroOrNegativeSizes) {
  expect_refused(with_base({"--num-layers", "0"}), "--num-layers must be at least 1");
  expect_refused(with_base({"--batch-size", "-4"}), "--batch-size must be at least 1");
  expect_refused(with_base({"--seq-len", "0"}), "--seq-len must be at least 1");
}
TEST(Validation, UnknownPreset) {
  expect_refused(with_base({"--model-preset", "gigantic"}), "unknown model preset 'gigantic'");
}
TEST(Validation, TargetParamsWithPreset) {
  expect_refused(with_base({"--model-preset", "nano", "--target-params", "5M"}),
                 "--target-params and --model-preset both choose");
}
TEST(Validation, UnknownActivation) {
  expect_refused(with_base({"--activation", "swish2"}), "unknown value 'swish2' for --activation");
}
TEST(Validation, LoraRankWithoutUseLora) {
  expect_refused(with_base({"--lora-rank", "4"}), "add --use-lora");
}
TEST(Validation, CloudProviderWithoutBucket) {
  expect_refused(with_base({"--cloud-provider", "gcs"}), "needs --cloud-bucket");
}
// Missing cloud credentials stop a real run before it writes anything (a dry run only names
// them). Azure's account and credentials may also come from the environment (AZURE_STORAGE_*),
// which these runs do not have.
std::vector<std::string> real_run(std::vector<std::string> args) {
  args.insert(args.begin(), {"--dataset-id", "org/data"});
  return args;
}
void without_azure_environment() {
  for (const char* name : {"AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY",
                           "AZURE_STORAGE_CONNECTION_STRING"}) {
    ::unsetenv(name);
  }
}
TEST(Validation, AzureWithoutAccountName) {
  without_azure_environment();
  expect_refused(real_run({"--cloud-provider", "azure", "--cloud-bucket", "c", "--azure-sas-token", "sv=1"}),
                 "needs the storage account: --azure-account-name NAME");
}
TEST(Validation, AzureWithoutCredentials) {
  without_azure_environment();
  expect_refused(real_run({"--cloud-provider", "azure", "--cloud-bucket", "c", "--azure-account-name", "a"}),
                 "found no credentials for the account a: give --azure-sas-token TOKEN");
}
TEST(Validation, GcsWithoutCredentials) {
  for (const char* name : {"GOOGLE_ACCESS_KEY_ID", "GOOGLE_SECRET_ACCESS_KEY", "GOOGLE_OAUTH_ACCESS_TOKEN"}) {
    ::unsetenv(name);
  }
  expect_refused(real_run({"--cloud-provider", "gcs", "--cloud-bucket", "b"}),
                 "--cloud-provider gcs found no credentials: set GOOGLE_ACCESS_KEY_ID and GOOGLE_SECRET_ACCESS_KEY");
}
TEST(Validation, UnreadableConfigFile) {
  expect_refused(with_base({"--config", "/nonexistent/run.toml"}), "cannot read --config /nonexistent/run.toml");
}
TEST(Validation, UnknownFlagWithSuggestion) {
  expect_refused(with_base({"--learning-rat", "1e-3"}), "did you mean --learning-rate?");
}
TEST(Validation, MissingDatasetId) {
  expect_refused({"--model-preset", "nano", "--dry-run"}, "--dataset-id is required");
}
TEST(Validation, MissingLocalDataset) {
  expect_refused({"--dataset-id", "./no/such/corpus.jsonl", "--dry-run"}, "does not exist");
}
TEST(Validation, VocabularyTooLargeForTheBudget) {
  expect_refused(with_base({"--target-params", "1M"}), "use --vocab-size 7680 or less");
}
TEST(Validation, AHubDatasetThatCannotBeFetchedIsOneLineAndNothingWritten) {
  // Without network: the download error; with it: the Hub's 401/404 for this made-up id.
  expect_refused({"--dataset-id", "org/data", "--model-preset", "nano"}, "org/data");
}
TEST(Validation, SecretsAreNotEchoed) {
  const RunResult r = run_utt({"train", "--dataset-id", "org/data", "--dry-run", "--cloud-provider", "azure",
                               "--cloud-bucket", "c", "--azure-account-name", "a",
                               "--azure-sas-token", "sv=supersecret"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("supersecret"), std::string::npos);
}

}  // namespace
}  // namespace utt::test
