// --target-params sizing over the whole promised range, 1M to 2B parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/sizing.h"
#include "config/train_config.h"
#include "util/error.h"

namespace utt {
namespace {

std::vector<int64_t> budgets_1m_to_2b() {
  std::vector<int64_t> budgets;
  // 48 points per decade would be slow to read in a failure; 12 per decade, log-spaced, plus
  // the endpoints exactly.
  for (double n = 1e6; n <= 2e9 * 1.0001; n *= std::pow(10.0, 1.0 / 12)) {
    budgets.push_back(static_cast<int64_t>(n));
  }
  budgets.push_back(2'000'000'000);
  return budgets;
}

std::vector<ModelConfig> architectures(int64_t vocab) {
  ModelConfig llama;
  llama.vocab_size = vocab;
  ModelConfig gpt = llama;
  gpt.rmsnorm = false;
  gpt.swiglu = false;
  gpt.rope = false;
  gpt.seq_len = 1024;
  ModelConfig untied_gqa = llama;
  untied_gqa.tie_embeddings = false;
  untied_gqa.num_kv_heads = 1;
  return {llama, gpt, untied_gqa};
}

void expect_sane(const ModelConfig& m, int64_t target, const std::string& where) {
  const int64_t total = count_parameters(m).total;
  EXPECT_LE(std::fabs(static_cast<double>(total - target)), kSizingTolerance * target)
      << where << ": got " << total;
  EXPECT_EQ(m.d_model % 64, 0) << where;
  EXPECT_EQ(m.head_dim(), 64) << where;
  EXPECT_EQ(m.num_heads % m.num_kv_heads, 0) << where;
  EXPECT_GE(m.d_ff, 2 * m.d_model) << where;
  EXPECT_LE(m.d_ff, 6 * m.d_model) << where;
  validate_model(m);
}

TEST(Sizing, LandsWithinFivePercentFrom1MTo2BOrExplainsTheVocabulary) {
  int sized = 0;
  for (int64_t vocab : {4096, 16000, 32000}) {
    for (const ModelConfig& base : architectures(vocab)) {
      for (int64_t target : budgets_1m_to_2b()) {
        const std::string where = "target " + std::to_string(target) + ", vocab " +
                                  std::to_string(vocab) + ", " + describe_architecture(base);
        try {
          expect_sane(size_for_target_params(target, false, base), target, where);
          ++sized;
        } catch (const UserError& error) {
          // Only allowed when even the smallest model (width 64, one layer) is too big.
          ModelConfig smallest = base;
          smallest.d_model = 64;
          smallest.num_heads = 1;
          smallest.num_kv_heads = 1;
          smallest.num_layers = 1;
          smallest.d_ff = 128;
          EXPECT_GT(count_parameters(smallest).total, target) << where << ": " << error.what();
          EXPECT_NE(std::string(error.what()).find("--vocab-size"), std::string::npos) << where;
          ModelConfig suggested = base;
          suggested.vocab_size = suggested_vocab_size(target, base);
          expect_sane(size_for_target_params(target, false, suggested), target,
                      where + " with the suggested vocabulary");
        }
      }
    }
  }
  EXPECT_GT(sized, 200);
}

TEST(Sizing, PreferDepthGivesMoreLayers) {
  for (int64_t vocab : {4096, 16000}) {
    for (const ModelConfig& base : architectures(vocab)) {
      for (int64_t target : budgets_1m_to_2b()) {
        if (target < 40 * vocab * 64 / 10) continue;  // too small to size at all for this vocab
        const std::string where = "target " + std::to_string(target) + ", vocab " + std::to_string(vocab);
        const ModelConfig wide = size_for_target_params(target, false, base);
        const ModelConfig deep = size_for_target_params(target, true, base);
        EXPECT_GT(deep.num_layers, wide.num_layers) << where;
        expect_sane(deep, target, where + " (prefer depth)");
      }
    }
  }
}

TEST(Sizing, TheGuidesTenMillionExample) {
  ModelConfig base;  // vocabulary 16000, the guide's default
  const ModelConfig m = size_for_target_params(10'000'000, true, base);
  expect_sane(m, 10'000'000, "10M prefer depth");
}

TEST(Sizing, VocabularyLargerThanTheBudgetIsExplained) {
  ModelConfig base;  // 16000 tokens x 64 = 1.02M embedding parameters already
  try {
    size_for_target_params(1'000'000, false, base);
    FAIL() << "expected UserError";
  } catch (const UserError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("vocabulary"), std::string::npos) << message;
    EXPECT_NE(message.find("--vocab-size 7680"), std::string::npos) << message;
  }
}

TEST(Sizing, HonorsKvHeadsThatDivideTheChosenHeads) {
  ModelConfig base;
  base.num_kv_heads = 2;
  const ModelConfig m = size_for_target_params(100'000'000, false, base);
  EXPECT_EQ(m.num_kv_heads, 2);
}

}  // namespace
}  // namespace utt
