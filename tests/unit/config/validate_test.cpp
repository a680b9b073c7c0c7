// One test per rule of validate() and validate_model(), driven through the flag parser so
// each case reads like the command a user would type.
#include <gtest/gtest.h>

#include "cli/train_flags.h"
#include "config/train_config.h"
#include "util/error.h"

namespace utt {
namespace {

// Parses, validates and resolves like `utt train`; returns the error message, or "" if valid.
std::string problem_with(std::vector<std::string> args) {
  args.insert(args.begin(), {"--dataset-id", "org/name"});
  try {
    const TrainConfig config = parse_train_args(args);
    validate(config);
    validate_model(resolve_model(config).config);
    return "";
  } catch (const UserError& error) {
    return error.what();
  }
}

#define EXPECT_PROBLEM(args, fragment)                                        \
  do {                                                                        \
    const std::string message = problem_with args;                            \
    EXPECT_NE(message.find(fragment), std::string::npos)                      \
        << "expected an error containing '" << (fragment) << "', got '" << message << "'"; \
  } while (0)

TEST(Validate, DefaultsAreValid) { EXPECT_EQ(problem_with({}), ""); }

TEST(Validate, DModelMustBeDivisibleByHeads) {
  EXPECT_PROBLEM(({"--d-model", "500", "--num-heads", "8"}), "not divisible by --num-heads");
}

TEST(Validate, HeadsMustBeDivisibleByKvHeads) {
  EXPECT_PROBLEM(({"--num-heads", "8", "--num-kv-heads", "3"}), "not divisible by --num-kv-heads");
  EXPECT_PROBLEM(({"--num-heads", "8", "--num-kv-heads", "16"}), "not divisible by --num-kv-heads");
}

TEST(Validate, RopeNeedsAnEvenHeadSize) {
  EXPECT_PROBLEM(({"--d-model", "72", "--num-heads", "8"}), "RoPE needs an even head size");
  EXPECT_EQ(problem_with({"--d-model", "72", "--num-heads", "8", "--no-rope"}), "");
}

TEST(Validate, SizesMustBePositive) {
  EXPECT_PROBLEM(({"--d-model", "0"}), "--d-model must be at least 1");
  EXPECT_PROBLEM(({"--num-layers", "-2"}), "--num-layers must be at least 1");
  EXPECT_PROBLEM(({"--num-heads", "0"}), "--num-heads must be at least 1");
  EXPECT_PROBLEM(({"--d-ff", "0"}), "--d-ff must be at least 1");
  EXPECT_PROBLEM(({"--seq-len", "0"}), "--seq-len must be at least 1");
  EXPECT_PROBLEM(({"--batch-size", "0"}), "--batch-size must be at least 1");
  EXPECT_PROBLEM(({"--epochs", "0"}), "--epochs must be at least 1");
  EXPECT_PROBLEM(({"--gradient-accumulation-steps", "0"}), "--gradient-accumulation-steps must be at least 1");
  EXPECT_PROBLEM(({"--learning-rate", "-1e-3"}), "--learning-rate must be positive");
  EXPECT_PROBLEM(({"--max-steps", "0"}), "--max-steps must be at least 1");
  EXPECT_PROBLEM(({"--stride", "0"}), "--stride must be at least 1");
  EXPECT_PROBLEM(({"--vocab-size", "100"}), "--vocab-size must be at least 258");
  EXPECT_PROBLEM(({"--dropout-rate", "1.5"}), "--dropout-rate must be in [0, 1)");
}

TEST(Validate, UnknownPreset) {
  EXPECT_PROBLEM(({"--model-preset", "huge"}), "unknown model preset 'huge'");
}

TEST(Validate, TargetParamsTogetherWithAPreset) {
  EXPECT_PROBLEM(({"--model-preset", "tiny", "--target-params", "10M"}),
                 "--target-params and --model-preset both choose");
}

TEST(Validate, TargetParamsTogetherWithExplicitDimensions) {
  EXPECT_PROBLEM(({"--target-params", "10M", "--d-model", "256"}), "chooses --d-model itself");
}

TEST(Validate, UnknownActivation) {
  EXPECT_PROBLEM(({"--activation", "tanh"}), "unknown value 'tanh' for --activation");
  EXPECT_PROBLEM(({"--activation", "gelo"}), "did you mean gelu");
}

TEST(Validate, LoraRankWithoutLora) {
  EXPECT_PROBLEM(({"--lora-rank", "16"}), "--lora-rank is set but LoRA is off");
  EXPECT_EQ(problem_with({"--lora-rank", "16", "--use-lora", "--init-from", "base"}), "");
  EXPECT_PROBLEM(({"--use-lora"}), "--use-lora fine-tunes an existing model, and none is given: add --init-from");
  EXPECT_PROBLEM(({"--lora-targets", "q,k"}), "--lora-targets is set but LoRA is off");
  EXPECT_PROBLEM(({"--use-lora", "--init-from", "base", "--lora-dropout", "1"}), "--lora-dropout must be in [0, 1)");
}

TEST(Validate, CloudProviderWithoutBucket) {
  EXPECT_PROBLEM(({"--cloud-provider", "s3"}), "needs --cloud-bucket");
  EXPECT_PROBLEM(({"--cloud-bucket", "b"}), "--cloud-bucket needs --cloud-provider");
}

TEST(Validate, EveryCloudSettingNeedsAProvider) {
  EXPECT_PROBLEM(({"--cloud-region", "us-west-2"}), "--cloud-region needs --cloud-provider");
  EXPECT_PROBLEM(({"--cloud-prefix", "runs/a"}), "--cloud-prefix needs --cloud-provider");
  EXPECT_EQ(problem_with({"--cloud-provider", "s3", "--cloud-bucket", "b", "--cloud-region", "us-west-2",
                          "--cloud-prefix", "runs/a"}), "");
}

TEST(Validate, AzureFlagsNeedAzure) {
  EXPECT_PROBLEM(({"--cloud-provider", "s3", "--cloud-bucket", "c", "--azure-sas-token", "sv=x"}),
                 "only apply to --cloud-provider azure");
  EXPECT_PROBLEM(({"--azure-account-name", "a"}), "only apply to --cloud-provider azure");
  EXPECT_EQ(problem_with({"--resume-from", "az://acct/c/run/latest", "--azure-sas-token", "sv=x"}), "");
}

TEST(Validate, RegionAndEndpointDescribeAStoreToUploadToOrResumeFrom) {
  EXPECT_PROBLEM(({"--cloud-endpoint", "http://127.0.0.1:9000"}), "--cloud-endpoint needs --cloud-provider");
  EXPECT_EQ(problem_with({"--resume-from", "s3://b/run/latest", "--cloud-endpoint", "http://127.0.0.1:9000",
                          "--cloud-region", "eu-west-1"}), "");
}

TEST(Validate, VocabularyRangeMustBeOrdered) {
  EXPECT_PROBLEM(({"--min-vocab-size", "9000", "--max-vocab-size", "8000"}), "is larger than --max-vocab-size");
}

TEST(Validate, PreferDepthNeedsTargetParams) {
  EXPECT_PROBLEM(({"--prefer-depth"}), "--prefer-depth only applies to --target-params");
}

TEST(Validate, WarmupMustEndBeforeMaxSteps) {
  EXPECT_PROBLEM(({"--max-steps", "100"}), "--warmup-steps 500 is not below --max-steps 100");
}

TEST(Validate, PresetOverriddenIntoAnImpossibleShape) {
  EXPECT_PROBLEM(({"--model-preset", "nano", "--num-heads", "3"}), "not divisible by --num-heads");
}

TEST(Validate, DatasetIdIsRequired) {
  try {
    validate(parse_train_args({}));
    FAIL() << "expected UserError";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("--dataset-id is required"), std::string::npos);
  }
}

}  // namespace
}  // namespace utt
