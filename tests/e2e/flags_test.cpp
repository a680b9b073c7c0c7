// Every flag does what it says, or the run refuses it: nothing is silently ignored or
// misreported.
#include <gtest/gtest.h>

#include <filesystem>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> small_run(const std::string& output_dir, std::vector<std::string> more) {
  std::vector<std::string> args = {
      "train", "--dataset-id", corpus(), "--val-split", "validation", "--max-train-examples", "4",
      "--max-val-examples", "2", "--vocab-size", "300", "--d-model", "32", "--num-layers", "1",
      "--num-heads", "2", "--d-ff", "64", "--seq-len", "16", "--batch-size", "2", "--max-steps", "6",
      "--warmup-steps", "2", "--eval-batches", "2", "--seed", "5", "--threads", "2", "--output-dir", output_dir};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// With the gated FFN on (the default), --activation picks its gate: relu trains a ReGLU, and
// model_config.json records it. Unset, the gate is SwiGLU's silu, with no warning.
TEST(Flags, ActivationSelectsTheGateOfTheGatedFfnAndIsRecorded) {
  const std::string dir = scratch_dir("activation");
  const RunResult plain = run_utt(small_run(dir + "/default", {}), dir);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err, "") << "a default must not warn";
  EXPECT_NE(plain.out.find("(RMSNorm, SwiGLU, RoPE"), std::string::npos) << plain.out;
  const RunResult relu = run_utt(small_run(dir + "/relu", {"--activation", "relu"}), dir);
  ASSERT_EQ(relu.exit_code, 0) << relu.err;
  EXPECT_NE(relu.out.find("(RMSNorm, ReGLU, RoPE"), std::string::npos) << relu.out;
  const RunResult silu = run_utt(small_run(dir + "/silu", {"--activation", "silu"}), dir);
  ASSERT_EQ(silu.exit_code, 0) << silu.err;

  const nlohmann::json default_config = nlohmann::json::parse(read(dir + "/default/model_config.json"));
  EXPECT_EQ(default_config["activation"], "silu");
  EXPECT_EQ(default_config["ffn"], "swiglu");
  const nlohmann::json relu_config = nlohmann::json::parse(read(dir + "/relu/model_config.json"));
  EXPECT_EQ(relu_config["activation"], "relu");
  EXPECT_EQ(relu_config["ffn"], "reglu");
  const std::string weights = "/final_checkpoint/model.safetensors";
  EXPECT_NE(read(dir + "/default" + weights), read(dir + "/relu" + weights)) << "--activation relu had no effect";
  EXPECT_EQ(read(dir + "/default" + weights), read(dir + "/silu" + weights)) << "the default is not SwiGLU";

  const RunResult geglu = run_utt({"train", "--dataset-id", "org/data", "--activation", "gelu", "--dry-run"});
  EXPECT_NE(geglu.out.find("Architecture: RMSNorm, GeGLU, RoPE"), std::string::npos) << geglu.out;
  const RunResult mlp = run_utt({"train", "--dataset-id", "org/data", "--no-swiglu", "--dry-run"});
  EXPECT_NE(mlp.out.find("Architecture: RMSNorm, MLP (gelu), RoPE"), std::string::npos) << mlp.out;
}

// Fewer than ten documents cannot spare every tenth for the compression curve; a validation
// split measures it instead, and without one the message says so.
TEST(Flags, AutoVocabSizeWithFewDocumentsMeasuresOnTheValidationText) {
  const std::string dir = scratch_dir("autovocab_few");
  const std::vector<std::string> auto_vocab = {"--auto-vocab-size", "--min-vocab-size", "300",
                                               "--max-vocab-size", "1000"};
  const RunResult with_validation = run_utt(small_run(dir + "/out", auto_vocab), dir);
  ASSERT_EQ(with_validation.exit_code, 0) << with_validation.err;
  EXPECT_NE(with_validation.out.find("measured on 2 validation documents"), std::string::npos)
      << with_validation.out;

  std::vector<std::string> no_validation = small_run(dir + "/none", auto_vocab);
  no_validation.erase(no_validation.begin() + 3, no_validation.begin() + 5);  // --val-split validation
  const RunResult refused = run_utt(no_validation, dir);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("holds out every 10th training document, but the tokenizer has only 4: add "
                             "--val-split or --val-fraction"),
            std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir + "/none"));
}

// A parameter budget with --auto-vocab-size is planned at the smallest vocabulary the run may
// choose and re-solved for the one it chooses, so a small budget is not refused for the
// --vocab-size default it never uses.
TEST(Flags, TargetParamsWithAutoVocabSizeSizesForTheChosenVocabulary) {
  const RunResult dry = run_utt({"train", "--dataset-id", "org/data", "--target-params", "1M",
                                 "--auto-vocab-size", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("counted here at the smallest, 5000"), std::string::npos) << dry.out;

  const std::string dir = scratch_dir("budget");
  const RunResult r = run_utt({"train", "--dataset-id", corpus(), "--val-split", "validation",
                               "--max-train-examples", "5", "--max-val-examples", "2", "--auto-vocab-size",
                               "--min-vocab-size", "300", "--max-vocab-size", "1200", "--target-params", "150K",
                               "--seq-len", "32", "--batch-size", "4", "--max-steps", "3", "--warmup-steps", "1",
                               "--eval-batches", "1", "--threads", "2", "--output-dir", dir + "/out"},
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  const int64_t vocab = summary["model"]["vocab_size"];
  EXPECT_GE(vocab, 300);
  EXPECT_LE(vocab, 1200);
  EXPECT_NEAR(summary["parameters"].get<double>(), 150000.0, 0.05 * 150000.0);
}

TEST(Flags, HelpSaysRequiredOnce) {
  const RunResult help = run_utt({"train", "--help"});
  EXPECT_NE(help.out.find("(required)\n"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("(default: required)"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace utt::test
