// The schedule against shared/oracle/lr_schedule.json, computed independently.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "train/lr_schedule.h"

namespace utt {
namespace {

TEST(LrSchedule, MatchesTheOracle) {
  std::ifstream in(test::oracle_dir() + "/lr_schedule.json");
  ASSERT_TRUE(in.good()) << "missing " << test::oracle_dir() << "/lr_schedule.json";
  const nlohmann::json oracle = nlohmann::json::parse(in);
  const LrSchedule schedule{oracle["peak_lr"], oracle["warmup"], oracle["total"], oracle["floor"]};
  ASSERT_GE(oracle["points"].size(), 5u);
  for (const auto& point : oracle["points"]) {
    const int64_t step = point["step"];
    const double expected = point["lr"];
    EXPECT_NEAR(learning_rate_at(schedule, step), expected, 1e-15 + 1e-12 * expected) << "step " << step;
  }
}

TEST(LrSchedule, EndsAtTheFloorAndStaysThere) {
  const LrSchedule schedule{1e-3, 10, 100, 0.1};
  EXPECT_NEAR(learning_rate_at(schedule, 100), 1e-4, 1e-15);
  EXPECT_NEAR(learning_rate_at(schedule, 1000), 1e-4, 1e-15);
}

// A run resumed at step 50 of 100 with 200 steps: the rate at the resume point is the one the
// old schedule gives, and a new cosine takes it from there to the floor at step 200.
TEST(LrSchedule, AResumedRunWithMoreStepsContinuesFromWhereItStands) {
  const LrSchedule old{1e-3, 10, 100, 0.1};
  const LrSchedule next = replan_schedule(old, 50, 200);
  EXPECT_EQ(next.restart_step, 50);
  EXPECT_EQ(learning_rate_at(next, 50), learning_rate_at(old, 50));
  for (int64_t step = 51; step <= 200; ++step) {
    EXPECT_LT(learning_rate_at(next, step), learning_rate_at(next, step - 1) + 1e-18) << step;
  }
  EXPECT_GT(learning_rate_at(next, 100), learning_rate_at(old, 100)) << "the decay was not stretched";
  EXPECT_NEAR(learning_rate_at(next, 200), 1e-4, 1e-15);
  // Halfway along the new cosine: halfway between the rate at the resume point and the floor.
  EXPECT_NEAR(learning_rate_at(next, 125), 1e-4 + 0.5 * (learning_rate_at(old, 50) - 1e-4), 1e-15);
  // Extended again later: it continues from where the re-planned schedule stands.
  const LrSchedule again = replan_schedule(next, 150, 300);
  EXPECT_EQ(learning_rate_at(again, 150), learning_rate_at(next, 150));
  EXPECT_NEAR(learning_rate_at(again, 300), 1e-4, 1e-15);
}

TEST(LrSchedule, AResumeInWarmupKeepsThePlainScheduleWithTheNewLength) {
  const LrSchedule next = replan_schedule({1e-3, 10, 100, 0.1}, 5, 200);
  EXPECT_EQ(next.restart_step, 0);
  const LrSchedule plain{1e-3, 10, 200, 0.1};
  for (int64_t step : {0, 5, 9, 10, 100, 199}) EXPECT_EQ(learning_rate_at(next, step), learning_rate_at(plain, step));
}

}  // namespace
}  // namespace utt
