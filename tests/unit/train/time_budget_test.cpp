// --time-budget's pieces: durations, the scaling law, the choice among measured candidates.
#include "train/time_budget.h"

#include <gtest/gtest.h>

#include <cmath>

#include "config/duration.h"
#include "util/error.h"

namespace utt {
namespace {

TEST(Duration, ParsesSecondsMinutesHoursAndCombinations) {
  EXPECT_DOUBLE_EQ(parse_duration("90s", "--time-budget"), 90);
  EXPECT_DOUBLE_EQ(parse_duration("20m", "--time-budget"), 1200);
  EXPECT_DOUBLE_EQ(parse_duration("2h", "--time-budget"), 7200);
  EXPECT_DOUBLE_EQ(parse_duration("1h30m", "--time-budget"), 5400);
  EXPECT_DOUBLE_EQ(parse_duration("1.5h", "--time-budget"), 5400);
  EXPECT_DOUBLE_EQ(parse_duration("1d", "--time-budget"), 86400);
}

TEST(Duration, RefusesWhatIsNotADuration) {
  for (const char* bad : {"", "90", "0s", "5x", "-5m", "m", "1h30", "1..5h", "0.0m"}) {
    try {
      parse_duration(bad, "--time-budget");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find("such as 90s, 20m, 2h"), std::string::npos) << error.what();
    }
  }
}

TEST(ScalingLaw, GivesChinchillasLossAndTradeOff) {
  // Hoffmann et al. 2022: Chinchilla, 70B parameters on 1.4T tokens.
  EXPECT_NEAR(expected_loss(70e9, 1.4e12), 1.937, 0.001);
  // At small compute the fit's optimum lies near 20-25 tokens per parameter.
  const double compute = 1e18;
  double best_loss = 1e9, best_parameters = 0;
  for (double parameters = 1e5; parameters < 1e10; parameters *= 1.05) {
    const double loss = expected_loss(parameters, compute / (6 * parameters));
    if (loss < best_loss) best_loss = loss, best_parameters = parameters;
  }
  const double tokens_per_parameter = compute / (6 * best_parameters) / best_parameters;
  EXPECT_GT(tokens_per_parameter, 15);
  EXPECT_LT(tokens_per_parameter, 35);
}

TEST(ScalingLaw, RepeatedDataCountsLess) {
  const double unique = 1e6;
  EXPECT_DOUBLE_EQ(effective_tokens(5e5, unique), 5e5);
  EXPECT_DOUBLE_EQ(effective_tokens(unique, unique), unique);
  // A second epoch is worth nearly a fresh one; many more approach U (1 + 15.4).
  EXPECT_NEAR(effective_tokens(2 * unique, unique), unique * (1 + 15.4 * (1 - std::exp(-1 / 15.4))), 1e-6);
  EXPECT_GT(effective_tokens(2 * unique, unique), 1.96 * unique);
  EXPECT_NEAR(effective_tokens(1000 * unique, unique), 16.4 * unique, 1.0);  // the limit U (1 + R*)
  EXPECT_LT(effective_tokens(4 * unique, unique), 4 * unique);
}

ModelConfig tiny_model(int64_t d_model, int64_t layers) {
  ModelConfig m;
  m.vocab_size = 1000;
  m.d_model = d_model;
  m.num_layers = layers;
  m.num_heads = d_model / 64 > 0 ? d_model / 64 : 1;
  m.num_kv_heads = m.num_heads;
  m.d_ff = 4 * d_model;
  m.seq_len = 128;
  return m;
}

ThroughputProbe probe(const ModelConfig& model, double step_seconds) {
  ThroughputProbe p;
  p.model = model;
  p.step_seconds = step_seconds;
  p.forward_seconds = step_seconds / 3;
  p.batch_size = 4;
  return p;
}

BudgetInputs budget(double seconds) {
  BudgetInputs in;
  in.seconds = seconds;
  in.eval_every = 100;
  in.eval_batches = 5;
  in.save_every = 1000;
  return in;
}

TEST(BudgetChoice, FillsTheTimeWithSteps) {
  const std::vector<BudgetOption> options = budget_options({probe(tiny_model(64, 2), 0.01)}, budget(100));
  ASSERT_EQ(options.size(), 1u);
  EXPECT_TRUE(options[0].fits);
  EXPECT_LE(options[0].expected_seconds, 100);
  EXPECT_GT(options[0].expected_seconds, 95);  // nearly all of it
  EXPECT_GT(options[0].steps, 8000);
  EXPECT_LT(options[0].steps, 10000);
}

TEST(BudgetChoice, PrefersALargerModelWhenTimeAllowsAndASmallerOneWhenItDoesNot) {
  const std::vector<ThroughputProbe> probes = {probe(tiny_model(64, 2), 0.002), probe(tiny_model(256, 4), 0.02),
                                               probe(tiny_model(1024, 16), 2.0)};
  const std::optional<BudgetOption> short_budget = best_budget_option(budget_options(probes, budget(10)));
  const std::optional<BudgetOption> long_budget = best_budget_option(budget_options(probes, budget(1e8)));
  ASSERT_TRUE(short_budget && long_budget);
  EXPECT_LT(short_budget->candidate, long_budget->candidate);
  EXPECT_EQ(long_budget->candidate, 2u);  // 268M parameters on 26B tokens: the law prefers it
}

TEST(BudgetChoice, RepeatsDataAtMostSixteenEpochs) {
  BudgetInputs in = budget(100000);
  in.unique_tokens = 1e5;
  const std::vector<BudgetOption> options = budget_options({probe(tiny_model(64, 2), 0.001)}, in);
  EXPECT_LE(options[0].epochs, kMaxBudgetEpochs);
  EXPECT_GT(options[0].epochs, kMaxBudgetEpochs - 0.1);
  EXPECT_LT(options[0].expected_seconds, 1000);  // the rest of the time would be wasted
}

TEST(BudgetChoice, FixedStepsChooseTheModelThatFinishesThem) {
  BudgetInputs in = budget(100);
  in.fixed_steps = 1000;
  const std::vector<ThroughputProbe> probes = {probe(tiny_model(64, 2), 0.01), probe(tiny_model(256, 4), 0.05),
                                               probe(tiny_model(512, 8), 0.2)};
  const std::vector<BudgetOption> options = budget_options(probes, in);
  for (const BudgetOption& option : options) EXPECT_EQ(option.steps, 1000);
  const std::optional<BudgetOption> best = best_budget_option(options);
  ASSERT_TRUE(best);
  EXPECT_EQ(best->candidate, 1u);  // the largest that finishes 1000 steps in 100 s
  EXPECT_FALSE(options[2].fits);
  EXPECT_NE(options[2].why_not.find("1,000 steps take"), std::string::npos) << options[2].why_not;
}

TEST(BudgetChoice, EachCandidateCountsTheTokensOfItsOwnBatch) {
  // --batch-size auto gives each size its own batch: a step of the larger one here holds
  // 16 x 3 rows on each of 2 ranks, and the same time buys it fewer steps of more tokens.
  ThroughputProbe small = probe(tiny_model(64, 2), 0.01);
  ThroughputProbe large = probe(tiny_model(256, 4), 0.05);
  large.batch_size = 16;
  large.accumulation = 3;
  large.ranks = 2;
  EXPECT_EQ(probe_tokens_per_step(small), 4 * 128);
  EXPECT_EQ(probe_tokens_per_step(large), 16 * 3 * 2 * 128);
  const std::vector<BudgetOption> options = budget_options({small, large}, budget(100));
  ASSERT_EQ(options.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const ThroughputProbe& p = i == 0 ? small : large;
    EXPECT_EQ(options[i].tokens, static_cast<double>(options[i].steps * probe_tokens_per_step(p)));
  }
  EXPECT_GT(options[1].tokens / static_cast<double>(options[1].steps),
            options[0].tokens / static_cast<double>(options[0].steps));
}

TEST(BudgetChoice, NothingFitsWhenEvenTheSmallestIsTooSlow) {
  const std::vector<BudgetOption> options = budget_options({probe(tiny_model(64, 2), 1.0)}, budget(5));
  EXPECT_FALSE(options[0].fits);
  EXPECT_FALSE(best_budget_option(options));
}

TEST(BudgetCandidates, GrowFromTheSmallestThatFitsTheVocabulary) {
  ModelConfig base = tiny_model(64, 2);
  base.vocab_size = 8000;
  const std::vector<ModelConfig> candidates = budget_candidates(base, false);
  ASSERT_GE(candidates.size(), 5u);
  for (size_t i = 1; i < candidates.size(); ++i) {
    EXPECT_GT(count_parameters(candidates[i]).total, count_parameters(candidates[i - 1]).total);
    EXPECT_EQ(candidates[i].vocab_size, 8000);
    EXPECT_EQ(candidates[i].seq_len, 128);
  }
}

TEST(BudgetPlanParts, WarmupAndTheStepLimitFollowTheSteps) {
  TrainConfig c;
  EXPECT_EQ(budget_warmup_steps(c, 300), 30);
  EXPECT_EQ(budget_warmup_steps(c, 100000), 500);  // never longer than --warmup-steps' default
  EXPECT_EQ(budget_warmup_steps(c, 5), 1);
  c.warmup_steps = 50;
  c.explicitly_set.insert("warmup-steps");
  EXPECT_EQ(budget_warmup_steps(c, 300), 50);
  EXPECT_EQ(budget_step_limit(1000, 1e6), 16000);  // 16 epochs
  EXPECT_EQ(budget_step_limit(1000, 10), 1);
}

}  // namespace
}  // namespace utt
