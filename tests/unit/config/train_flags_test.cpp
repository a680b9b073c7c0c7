#include <gtest/gtest.h>

#include "cli/train_flags.h"
#include "util/error.h"

namespace utt {
namespace {

std::string error_of(const std::vector<std::string>& args) {
  try {
    parse_train_args(args);
    return "";
  } catch (const UserError& error) {
    return error.what();
  }
}

TEST(TrainFlags, DefaultsAreTheGuides) {
  const TrainConfig c = parse_train_args({});
  EXPECT_EQ(c.text_column, "text");
  EXPECT_EQ(c.split, "train");
  EXPECT_FALSE(c.auto_vocab_size);
  EXPECT_EQ(c.model.vocab_size, 16000);
  EXPECT_EQ(c.min_vocab_size, 5000);
  EXPECT_EQ(c.max_vocab_size, 50000);
  EXPECT_EQ(c.tokenizer_train_examples, 10000);
  EXPECT_EQ(c.model.d_model, 512);
  EXPECT_EQ(c.model.num_layers, 6);
  EXPECT_EQ(c.model.num_heads, 8);
  EXPECT_EQ(c.model.d_ff, 2048);
  EXPECT_EQ(c.model.seq_len, 256);
  EXPECT_DOUBLE_EQ(c.model.dropout_rate, 0.1);
  EXPECT_EQ(c.model.activation, Activation::kGelu);
  EXPECT_TRUE(c.model.rmsnorm && c.model.swiglu && c.model.rope && c.model.flash_attention);
  EXPECT_FALSE(c.use_lora);
  EXPECT_EQ(c.lora_rank, 8);
  EXPECT_EQ(c.epochs, 3);
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_EQ(c.gradient_accumulation_steps, 1);
  EXPECT_DOUBLE_EQ(c.learning_rate, 5e-4);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.01);
  EXPECT_EQ(c.warmup_steps, 500);
  EXPECT_DOUBLE_EQ(c.grad_clip, 1.0);
  EXPECT_TRUE(c.use_streaming);
  EXPECT_EQ(c.shuffle_buffer_size, 10000);
  EXPECT_FALSE(c.stride.has_value());
  EXPECT_FALSE(c.use_mixed_precision);
  EXPECT_EQ(c.output_dir, "output_ultimate");
  EXPECT_EQ(c.log_every, 10);
  EXPECT_EQ(c.save_every, 1000);
  EXPECT_EQ(c.eval_every, 500);
  EXPECT_EQ(c.cloud_prefix, "checkpoints");
  EXPECT_TRUE(c.explicitly_set.empty());
}

TEST(TrainFlags, ValuesAsNextArgumentOrAfterEquals) {
  const TrainConfig c = parse_train_args({"--batch-size", "16", "--learning-rate=3e-4", "--split=validation"});
  EXPECT_EQ(c.batch_size, 16);
  EXPECT_DOUBLE_EQ(c.learning_rate, 3e-4);
  EXPECT_EQ(c.split, "validation");
  EXPECT_TRUE(c.was_set("batch-size"));
  EXPECT_FALSE(c.was_set("epochs"));
}

TEST(TrainFlags, BooleansTakeBothForms) {
  EXPECT_FALSE(parse_train_args({"--no-use-streaming"}).use_streaming);
  EXPECT_TRUE(parse_train_args({"--no-use-streaming", "--use-streaming"}).use_streaming);
  EXPECT_FALSE(parse_train_args({"--no-rmsnorm"}).model.rmsnorm);
  EXPECT_TRUE(parse_train_args({"--rmsnorm"}).model.rmsnorm);
  EXPECT_FALSE(parse_train_args({"--rope=false"}).model.rope);
  EXPECT_TRUE(parse_train_args({"--auto-vocab-size"}).auto_vocab_size);
  EXPECT_FALSE(parse_train_args({"--auto-vocab-size", "--no-auto-vocab-size"}).auto_vocab_size);
}

TEST(TrainFlags, TargetParamsTakesSuffixes) {
  EXPECT_EQ(*parse_train_args({"--target-params", "10000000"}).target_params, 10'000'000);
  EXPECT_EQ(*parse_train_args({"--target-params", "10M"}).target_params, 10'000'000);
  EXPECT_EQ(*parse_train_args({"--target-params", "1.5B"}).target_params, 1'500'000'000);
  EXPECT_NE(error_of({"--target-params", "ten"}).find("expects a count"), std::string::npos);
}

TEST(TrainFlags, UnknownFlagSuggestsTheClosest) {
  EXPECT_NE(error_of({"--batchsize", "16"}).find("did you mean --batch-size?"), std::string::npos);
  EXPECT_NE(error_of({"--no-rmsnrom"}).find("did you mean --no-rmsnorm?"), std::string::npos);
  EXPECT_NE(error_of({"--learning_rate", "1"}).find("did you mean --learning-rate?"), std::string::npos);
  EXPECT_NE(error_of({"--zzzzzzzzzzz"}).find("see utt train --help"), std::string::npos);
}

TEST(TrainFlags, MalformedValuesAreNamed) {
  EXPECT_NE(error_of({"--batch-size", "lots"}).find("--batch-size expects a whole number"), std::string::npos);
  EXPECT_NE(error_of({"--batch-size", "1.5"}).find("--batch-size expects a whole number"), std::string::npos);
  EXPECT_NE(error_of({"--learning-rate", "fast"}).find("--learning-rate expects a number"), std::string::npos);
  EXPECT_NE(error_of({"--batch-size"}).find("--batch-size needs a value"), std::string::npos);
  EXPECT_NE(error_of({"--use-streaming=maybe"}).find("expects true or false"), std::string::npos);
  EXPECT_NE(error_of({"stray"}).find("unexpected argument 'stray'"), std::string::npos);
  EXPECT_NE(error_of({"--device", "tpu"}).find("unknown value 'tpu' for --device"), std::string::npos);
}

TEST(TrainFlags, NegativeNumbersAreValuesNotFlags) {
  EXPECT_EQ(parse_train_args({"--seed", "-1"}).seed, -1);
}

TEST(TrainFlags, HelpListsEveryFlagWithItsDefault) {
  const std::string help = train_help();
  for (const FlagSpec& flag : train_flags()) {
    EXPECT_NE(help.find(flag.spelling()), std::string::npos) << flag.name;
  }
  EXPECT_NE(help.find("--batch-size N"), std::string::npos);
  EXPECT_NE(help.find("Training batch size (default: 32)"), std::string::npos);
  EXPECT_NE(help.find("Disable RMSNorm (use LayerNorm) (default: False)"), std::string::npos);
}

// The command printed on a stop continues the run: it neither names the old checkpoint nor
// removes the run it continues.
TEST(TrainFlags, TheResumeCommandKeepsEveryFlagButResumeAndOverwrite) {
  EXPECT_EQ(resume_command({"--dataset-id", "d/x", "--overwrite-output-dir", "--resume-from", "out/c",
                            "--batch-size=4", "--overwrite-output-dir=true", "--text-column", "a b"}),
            "utt train --dataset-id d/x --batch-size=4 --text-column 'a b'");
}

// A SAS token given on the command line is not printed back: the command names the variable.
TEST(TrainFlags, TheResumeCommandNeverShowsTheSasToken) {
  EXPECT_EQ(resume_command({"--dataset-id", "d/x", "--azure-sas-token", "sv=1&sig=SECRET", "--cloud-provider", "azure"}),
            "utt train --dataset-id d/x --azure-sas-token \"$AZURE_STORAGE_SAS_TOKEN\" --cloud-provider azure");
  EXPECT_EQ(resume_command({"--dataset-id", "d/x", "--azure-sas-token=sv=1&sig=SECRET"}),
            "utt train --dataset-id d/x --azure-sas-token \"$AZURE_STORAGE_SAS_TOKEN\"");
}

}  // namespace
}  // namespace utt
