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

int64_t step_from_name(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name == "final_checkpoint") return 250;
  return std::stoll(name.substr(name.rfind('_') + 1));
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

TEST_F(CheckpointDirs, LatestIsTheHighestStep) {
  EXPECT_THROW(resolve_resume_path("latest", root_, step_from_name), UserError);
  fs::create_directories(root_ / "checkpoint_step_100");
  fs::create_directories(root_ / "checkpoint_step_200");
  EXPECT_EQ(resolve_resume_path("latest", root_, step_from_name), root_ / "checkpoint_step_200");
  fs::create_directories(root_ / "final_checkpoint");  // step 250
  EXPECT_EQ(resolve_resume_path("latest", root_, step_from_name), root_ / "final_checkpoint");
  EXPECT_EQ(resolve_resume_path((root_ / "checkpoint_step_100").string(), root_, step_from_name),
            root_ / "checkpoint_step_100");
  EXPECT_THROW(resolve_resume_path((root_ / "nope").string(), root_, step_from_name), UserError);
}

}  // namespace
}  // namespace utt
