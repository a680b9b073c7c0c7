// --batch-size auto: the largest micro-batch that fits, accumulation for the rest.
#include "config/batch_size.h"

#include <gtest/gtest.h>

#include "config/memory_estimate.h"
#include "config/presets.h"
#include "util/error.h"

namespace utt {
namespace {

ModelConfig preset_model(const std::string& name) {
  const ModelPreset& preset = find_preset(name);
  ModelConfig m;
  m.vocab_size = 8000;
  m.d_model = preset.d_model;
  m.num_layers = preset.num_layers;
  m.num_heads = preset.num_heads;
  m.num_kv_heads = preset.num_heads;
  m.d_ff = preset.d_ff;
  m.seq_len = 256;
  return m;
}

double need(const ModelConfig& m, int64_t rows) { return estimate_training_memory(m, rows, false).total_bytes(); }

TEST(AutoBatch, TakesTheLargestMicroBatchThatFitsAndAccumulatesTheRest) {
  const ModelConfig m = preset_model("small");
  const double memory = need(m, 10) / kAutoBatchMemoryShare;  // exactly 10 rows fit
  const BatchChoice choice = choose_batch_size(m, 64 * 256, memory, false, 1, "test");
  EXPECT_EQ(choice.largest_fitting, 10);
  EXPECT_LE(choice.micro_batch, 10);
  EXPECT_GE(choice.micro_batch * choice.accumulation, 64);
  EXPECT_EQ(choice.accumulation, 7);  // 64 rows in micro-batches of at most 10
  EXPECT_EQ(choice.micro_batch, 10);  // ceil(64 / 7)
  EXPECT_NE(choice.reason.find("at most 10 would fit"), std::string::npos) << choice.reason;
}

TEST(AutoBatch, NeedsNoAccumulationWhenTheTargetFits) {
  const ModelConfig m = preset_model("nano");
  const BatchChoice choice = choose_batch_size(m, 16 * 256, 1e12, false, 1, "test");
  EXPECT_EQ(choice.micro_batch, 16);
  EXPECT_EQ(choice.accumulation, 1);
  EXPECT_NE(choice.reason.find("the target needs no more rows"), std::string::npos) << choice.reason;
}

TEST(AutoBatch, SplitsTheTargetOverRanks) {
  const ModelConfig m = preset_model("nano");
  const BatchChoice choice = choose_batch_size(m, 64 * 256, 1e12, false, 4, "test");
  EXPECT_EQ(choice.micro_batch * choice.accumulation, 16);
}

TEST(AutoBatch, RefusesWhenNotEvenOneRowFits) {
  const ModelConfig m = preset_model("small");
  try {
    choose_batch_size(m, 64 * 256, need(m, 1) / 2, false, 1, "test");
    FAIL() << "accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("not even one row"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("--use-mixed-precision"), std::string::npos) << error.what();
  }
}

TEST(AutoBatch, DefaultTargetGrowsWithTheModel) {
  const int64_t nano = default_effective_batch_tokens(preset_model("nano"));
  const int64_t small = default_effective_batch_tokens(preset_model("small"));
  const int64_t large = default_effective_batch_tokens(preset_model("large"));
  EXPECT_LT(nano, small);
  EXPECT_LT(small, large);
  for (int64_t tokens : {nano, small, large}) EXPECT_EQ(tokens & (tokens - 1), 0) << tokens;  // a power of two
  // DeepSeek LLM's fit at ~125M parameters trained on 20 tokens each: ~0.25M tokens.
  ModelConfig m = preset_model("small");
  EXPECT_GE(default_effective_batch_tokens(m), 8192);
}

TEST(AutoBatch, KnowsThisMachinesMemory) { EXPECT_GT(available_host_memory_bytes(), 1e8); }

}  // namespace
}  // namespace utt
