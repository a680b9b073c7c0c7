#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

class StagedDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("utt_staged_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(StagedDir, NothingAppearsUnderTheRealNameBeforeCommit) {
  const fs::path target = root_ / "checkpoint_step_10";
  {
    StagedDirectory staged(target);
    staged.write_file("a.txt", "hello");
    EXPECT_FALSE(fs::exists(target));
    staged.commit();
  }
  EXPECT_EQ(read_file(target / "a.txt", "test file"), "hello");
  EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), 1);
}

TEST_F(StagedDir, AnAbandonedWriteLeavesThePreviousDirectoryIntact) {
  const fs::path target = root_ / "best_checkpoint";
  {
    StagedDirectory first(target);
    first.write_file("weights", "old");
    first.commit();
  }
  {
    StagedDirectory second(target);
    second.write_file("weights", "new, never committed");
    // destroyed without commit(), as when a write throws half way
  }
  EXPECT_EQ(read_file(target / "weights", "test file"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), 1);
}

TEST_F(StagedDir, CommitReplacesAnExistingDirectory) {
  const fs::path target = root_ / "final_checkpoint";
  for (const char* content : {"one", "two"}) {
    StagedDirectory staged(target);
    staged.write_file("f", content);
    staged.commit();
  }
  EXPECT_EQ(read_file(target / "f", "test file"), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), 1);
}

TEST_F(StagedDir, WriteFileAtomic) {
  write_file_atomic(root_ / "summary.json", "{}");
  write_file_atomic(root_ / "summary.json", "{\"a\":1}");
  EXPECT_EQ(read_file(root_ / "summary.json", "test file"), "{\"a\":1}");
  EXPECT_THROW(read_file(root_ / "missing", "test file"), UserError);
}

TEST_F(StagedDir, AFullDiskIsReportedAndLeavesNoStagingBehind) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  const fs::path target = root_ / "ckpt";
  try {
    StagedDirectory staged(target);
    // A symlink to /dev/full makes the write fail with ENOSPC, as a full disk does.
    fs::create_symlink("/dev/full", staged.staging_path() / "weights");
    staged.write_file("weights", std::string(1 << 16, 'x'));
    FAIL() << "expected the write to fail";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("the disk is full"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(target));
  EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), 0);
}

// What a killed writer leaves: staging folders and temporary files are removed; a directory
// moved aside for replacement comes back when the new one never arrived, and goes when it did.
TEST_F(StagedDir, InterruptedWritesAreRepaired) {
  for (const char* name : {".checkpoint_step_8.tmp-123", ".best_checkpoint.old-123", ".final_checkpoint.old-77",
                           "final_checkpoint", ".checkpoint_step_4.del-9", "checkpoint_step_12"}) {
    fs::create_directories(root_ / name);
  }
  std::ofstream(root_ / ".best_checkpoint.old-123" / "model.safetensors") << "previous best";
  std::ofstream(root_ / ".metrics.jsonl.tmp-55") << "half";
  std::ofstream(root_ / ".hidden-notes") << "not ours";
  const RecoveredWrites recovered = recover_interrupted_writes(root_);
  EXPECT_EQ(recovered.restored, std::vector<std::string>{"best_checkpoint"});
  EXPECT_EQ(recovered.removed.size(), 4u);
  EXPECT_EQ(read_file(root_ / "best_checkpoint" / "model.safetensors", "test file"), "previous best");
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(root_)) left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".hidden-notes", "best_checkpoint", "checkpoint_step_12",
                                            "final_checkpoint"}));
}

TEST_F(StagedDir, RemoveDirectoryNeverLeavesAHalfRemovedOneUnderItsName) {
  fs::create_directories(root_ / "checkpoint_step_4");
  std::ofstream(root_ / "checkpoint_step_4" / "model.safetensors") << "weights";
  remove_directory(root_ / "checkpoint_step_4");
  EXPECT_TRUE(fs::is_empty(root_));
  remove_directory(root_ / "checkpoint_step_4");  // already gone: nothing to do
}

}  // namespace
}  // namespace utt
