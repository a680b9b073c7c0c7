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

}  // namespace
}  // namespace utt
