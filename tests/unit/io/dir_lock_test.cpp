// The output directory's lock: one holder at a time, the holder named to whoever is refused,
// a lock left by a dead holder taken over, and the contents-based rule for file systems
// without flock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/dir_lock.h"
#include "util/error.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

class DirLock : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("utt_lock_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(DirLock, ASecondHolderIsRefusedNamingTheFirst) {
  // flock belongs to an open file, so a second lock from this same process conflicts as one
  // from another process would.
  DirectoryLock first(root_, "utt.lock", this_process("utt train"), ": choose another directory");
  EXPECT_FALSE(first.taken_over());
  EXPECT_TRUE(first.flock_supported());
  try {
    DirectoryLock second(root_, "utt.lock", this_process("utt train"), ": choose another directory");
    FAIL() << "two holders at once";
  } catch (const UserError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(root_.string() + " is in use by utt train (PID " + std::to_string(::getpid()) +
                           " on host "),
              std::string::npos) << message;
    EXPECT_NE(message.find(": choose another directory"), std::string::npos) << message;
  }
  const std::optional<LockHolder> holder = current_lock_holder(root_, "utt.lock");
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->pid, ::getpid());
}

TEST_F(DirLock, ReleasingRemovesTheLockFileAndFreesTheDirectory) {
  { DirectoryLock lock(root_, "utt.lock", this_process("utt train"), ""); }
  EXPECT_FALSE(fs::exists(root_ / "utt.lock"));
  EXPECT_FALSE(current_lock_holder(root_, "utt.lock"));
  DirectoryLock again(root_, "utt.lock", this_process("utt train"), "");
  EXPECT_FALSE(again.taken_over());
}

// A killed holder cannot remove its file; the kernel has released its flock, so the next run
// takes the lock and reports whose it was.
TEST_F(DirLock, ALockFileLeftByADeadHolderIsTakenOverAndReported) {
  LockHolder dead;
  dead.host = "node-7";
  dead.pid = 424242;
  dead.started = "2026-12-01T10:00:00Z";
  dead.what = "utt train";
  std::ofstream(root_ / "utt.lock") << dead.to_text();
  EXPECT_FALSE(current_lock_holder(root_, "utt.lock")) << "an unheld lock file is no holder";
  DirectoryLock lock(root_, "utt.lock", this_process("utt train"), "");
  ASSERT_TRUE(lock.taken_over());
  EXPECT_EQ(lock.taken_over()->describe(), "utt train (PID 424242 on host node-7, started 2026-12-01T10:00:00Z)");
  const std::optional<LockHolder> now = LockHolder::from_text(
      std::string(std::istreambuf_iterator<char>(std::ifstream(root_ / "utt.lock").rdbuf()), {}));
  ASSERT_TRUE(now);
  EXPECT_EQ(now->pid, ::getpid());
}

TEST_F(DirLock, ADamagedRecordIsTakenOverToo) {
  std::ofstream(root_ / "utt.lock") << "{\"host\": \"node";  // killed while writing it
  DirectoryLock lock(root_, "utt.lock", this_process("utt train"), "");
  ASSERT_TRUE(lock.taken_over());
  EXPECT_EQ(lock.taken_over()->describe(), "another process (its lock record is unreadable)");
}

bool alive(pid_t pid) { return pid == 1000; }

TEST(LockWithoutFlock, TheRecordDecides) {
  const LockHolder here{"here", 1000, "t", "utt train"};
  const LockHolder gone{"here", 2000, "t", "utt train"};
  const LockHolder elsewhere{"there", 2000, "t", "utt train"};
  EXPECT_EQ(decide_without_flock(std::nullopt, "here", alive), FallbackDecision::kTakeOver);
  EXPECT_EQ(decide_without_flock(here, "here", alive), FallbackDecision::kRefuse);
  EXPECT_EQ(decide_without_flock(gone, "here", alive), FallbackDecision::kTakeOver);
  // Another host's process cannot be checked from here: its record keeps the directory.
  EXPECT_EQ(decide_without_flock(elsewhere, "here", alive), FallbackDecision::kRefuse);
}

}  // namespace
}  // namespace utt
