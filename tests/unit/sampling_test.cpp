#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "generate/sampling.h"
#include "util/error.h"

namespace utt {
namespace {

TEST(Sampling, GreedyPicksTheLargestLogitLowestIdOnTies) {
  std::mt19937_64 rng(1);
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(sample_token(logits, {0.0, 0, 1.0}, rng), 1);
  EXPECT_EQ(sample_token(logits, {1.0, 1, 1.0}, rng), 1);
}

TEST(Sampling, TopKNeverLeavesTheKBest) {
  std::mt19937_64 rng(7);
  const std::vector<float> logits = {5, 4, 3, 2, 1, 0};
  for (int i = 0; i < 2000; ++i) EXPECT_LT(sample_token(logits, {2.0, 3, 1.0}, rng), 3);
}

TEST(Sampling, TopPKeepsTheSmallestNucleus) {
  std::mt19937_64 rng(3);
  // softmax at T=1: ~[0.665, 0.245, 0.090]; top_p 0.6 keeps only the first.
  const std::vector<float> logits = {2, 1, 0};
  for (int i = 0; i < 500; ++i) EXPECT_EQ(sample_token(logits, {1.0, 0, 0.6}, rng), 0);
}

TEST(Sampling, FrequenciesFollowTheSoftmax) {
  std::mt19937_64 rng(11);
  const std::vector<float> logits = {std::log(1.0f), std::log(2.0f), std::log(7.0f)};
  std::map<int, int> counts;
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) ++counts[sample_token(logits, {1.0, 0, 1.0}, rng)];
  // Expected 0.1, 0.2, 0.7; 5 standard deviations of a binomial at 1e5 draws is < 0.008.
  EXPECT_NEAR(counts[0] / double(draws), 0.1, 0.008);
  EXPECT_NEAR(counts[1] / double(draws), 0.2, 0.008);
  EXPECT_NEAR(counts[2] / double(draws), 0.7, 0.008);
}

TEST(Sampling, SameSeedSameTokens) {
  const std::vector<float> logits = {0.3f, 0.1f, 0.9f, 0.5f};
  std::mt19937_64 a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sample_token(logits, {}, a), sample_token(logits, {}, b));
}

TEST(Sampling, BadOptionsAreRefused) {
  EXPECT_THROW(validate_sampling({-1.0, 50, 0.9}), UserError);
  EXPECT_THROW(validate_sampling({1.0, -5, 0.9}), UserError);
  EXPECT_THROW(validate_sampling({1.0, 50, 0.0}), UserError);
  EXPECT_THROW(validate_sampling({1.0, 50, 1.5}), UserError);
  EXPECT_NO_THROW(validate_sampling({0.0, 0, 1.0}));
}

}  // namespace
}  // namespace utt
