#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "train/checkpoint_dirs.h"
#include "util/error.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

class CheckpointDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("utt_ckdirs_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

// Reads a checkpoint's step from its name, and its run from a file "run" inside (none: the
// run "A"), instead of a trainer_state.json.
CheckpointInfo info_from_name(const fs::path& path) {
  const std::string name = path.filename().string();
  CheckpointInfo info;
  info.step = name == "final_checkpoint" ? 250 : name == "best_checkpoint" ? 300 : std::stoll(name.substr(name.rfind('_') + 1));
  static const std::string kRunA = "A", kRunB = "B";
  info.run_id = fs::exists(path / "run") ? kRunB : kRunA;
  return info;
}

TEST_F(CheckpointDirs, ListsStepCheckpointsInStepOrderIgnoringLeftovers) {
  for (const char* name : {"checkpoint_step_1000", "checkpoint_step_200", "checkpoint_step_30",
                           ".checkpoint_step_40.tmp-12", "checkpoint_step_x", "best_checkpoint"}) {
    fs::create_directories(root_ / name);
  }
  const auto list = list_step_checkpoints(root_);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].step, 30);
  EXPECT_EQ(list[1].step, 200);
  EXPECT_EQ(list[2].step, 1000);
}

TEST_F(CheckpointDirs, PruneKeepsTheNewestAndNeverBestOrFinal) {
  for (int step : {10, 20, 30, 40}) fs::create_directories(root_ / step_checkpoint_name(step));
  fs::create_directories(root_ / "best_checkpoint");
  fs::create_directories(root_ / "final_checkpoint");
  prune_step_checkpoints(root_, 2);
  const auto list = list_step_checkpoints(root_);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].step, 30);
  EXPECT_TRUE(fs::exists(root_ / "best_checkpoint"));
  EXPECT_TRUE(fs::exists(root_ / "final_checkpoint"));
  prune_step_checkpoints(root_, 0);  // 0 keeps all
  EXPECT_EQ(list_step_checkpoints(root_).size(), 2u);
}

TEST_F(CheckpointDirs, LatestIsTheHighestStepOfTheOwningRunNeverBest) {
  EXPECT_THROW(resolve_resume_path("latest", root_, "A", info_from_name), UserError);
  fs::create_directories(root_ / "checkpoint_step_100");
  fs::create_directories(root_ / "checkpoint_step_200");
  fs::create_directories(root_ / "best_checkpoint");  // step 300, but never the latest
  EXPECT_EQ(resolve_resume_path("latest", root_, "A", info_from_name), root_ / "checkpoint_step_200");
  fs::create_directories(root_ / "final_checkpoint");  // step 250
  EXPECT_EQ(resolve_resume_path("latest", root_, "A", info_from_name), root_ / "final_checkpoint");
  EXPECT_EQ(resolve_resume_path((root_ / "checkpoint_step_100").string(), root_, "A", info_from_name),
            root_ / "checkpoint_step_100");
  EXPECT_THROW(resolve_resume_path((root_ / "nope").string(), root_, "A", info_from_name), UserError);
}

TEST_F(CheckpointDirs, LatestIgnoresCheckpointsOfAnotherRun) {
  fs::create_directories(root_ / "checkpoint_step_100");
  fs::create_directories(root_ / "checkpoint_step_500/run");  // run B's, newer
  EXPECT_EQ(resolve_resume_path("latest", root_, "A", info_from_name), root_ / "checkpoint_step_100");
  EXPECT_EQ(resolve_resume_path("latest", root_, "B", info_from_name), root_ / "checkpoint_step_500");
  fs::remove_all(root_ / "checkpoint_step_100");
  try {
    resolve_resume_path("latest", root_, "A", info_from_name);
    FAIL() << "resumed a checkpoint of another run";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("1 of other runs"), std::string::npos) << error.what();
  }
}

TEST(SameRun, UnknownIdsMatchAnyRun) {
  EXPECT_TRUE(same_run("a", "a"));
  EXPECT_FALSE(same_run("a", "b"));
  EXPECT_TRUE(same_run("", "b"));
  EXPECT_TRUE(same_run("a", ""));
}

}  // namespace
}  // namespace utt
