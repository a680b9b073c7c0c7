// --auto-vocab-size: one training run, a curve over sizes, and a choice that follows the model.
#include "tokenizer/auto_vocab.h"

#include <gtest/gtest.h>

#include "unit/tokenizer/tokenizer_test_corpus.h"
#include "util/error.h"

namespace utt::test {
namespace {

ModelConfig model_of(int64_t d_model, int64_t layers) {
  ModelConfig model;
  model.d_model = d_model;
  model.num_layers = layers;
  model.num_heads = 4;
  model.num_kv_heads = 4;
  model.d_ff = 4 * d_model;
  return model;
}

AutoVocabResult choose(const ModelConfig& model, uint32_t min_size = 300, uint32_t max_size = 1200) {
  std::vector<std::string> corpus = varied_corpus();
  const std::vector<std::string> held_out(corpus.end() - 10, corpus.end());
  corpus.resize(corpus.size() - 10);
  AutoVocabOptions options;
  options.min_vocab_size = min_size;
  options.max_vocab_size = max_size;
  options.grid_points = 6;
  return choose_vocab_size(documents_from(corpus), held_out, model, options);
}

TEST(AutoVocab, CurveSpansTheRangeAndLargerVocabulariesCompressBetter) {
  const AutoVocabResult result = choose(model_of(256, 4));
  ASSERT_GE(result.curve.size(), 3u);
  EXPECT_EQ(result.curve.front().vocab_size, 300u);
  EXPECT_EQ(result.curve.back().vocab_size, 1200u);
  EXPECT_GT(result.curve.back().bytes_per_token, result.curve.front().bytes_per_token);
  for (size_t i = 1; i < result.curve.size(); ++i) {
    EXPECT_GT(result.curve[i].vocab_size, result.curve[i - 1].vocab_size);
    EXPECT_GT(result.curve[i].cost_parameters, result.curve[i - 1].cost_parameters);
  }
}

TEST(AutoVocab, TheChoiceMaximizesBytesPerParameterAndIsExplained) {
  const AutoVocabResult result = choose(model_of(256, 4));
  double best = 0;
  for (const VocabCurvePoint& point : result.curve) best = std::max(best, point.score);
  bool found = false;
  for (const VocabCurvePoint& point : result.curve) {
    if (point.vocab_size == result.chosen_vocab_size) {
      EXPECT_EQ(point.score, best);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(result.tokenizer.vocab_size(), result.chosen_vocab_size);
  EXPECT_NE(result.reason.find("vocabulary " + std::to_string(result.chosen_vocab_size)),
            std::string::npos);
  EXPECT_NE(format_vocab_curve(result).find("<- chosen"), std::string::npos);
}

TEST(AutoVocab, BigModelsAffordLargerVocabulariesThanTinyOnes) {
  const AutoVocabResult tiny = choose(model_of(64, 1));
  const AutoVocabResult big = choose(model_of(2048, 24));
  EXPECT_EQ(big.chosen_vocab_size, 1200u);
  EXPECT_LT(tiny.chosen_vocab_size, big.chosen_vocab_size);
}

TEST(AutoVocab, SameDataSameChoice) {
  const AutoVocabResult a = choose(model_of(128, 2));
  const AutoVocabResult b = choose(model_of(128, 2));
  EXPECT_EQ(a.chosen_vocab_size, b.chosen_vocab_size);
  EXPECT_EQ(a.tokenizer.fingerprint(), b.tokenizer.fingerprint());
  EXPECT_EQ(format_vocab_curve(a), format_vocab_curve(b));
}

TEST(AutoVocab, BadRangesAreUserErrors) {
  EXPECT_THROW(choose(model_of(128, 2), 800, 700), UserError);
  EXPECT_THROW(choose(model_of(128, 2), 100, 700), UserError);
  const std::vector<std::string> corpus = small_corpus();
  EXPECT_THROW(choose_vocab_size(documents_from(corpus), {}, model_of(128, 2), AutoVocabOptions{}),
               UserError);
}

}  // namespace
}  // namespace utt::test
