// One run, one output directory: a lock keeps a second run out, a new run never mixes with an
// earlier run's outputs, `latest` names only the owning run's checkpoints, and a refused run
// writes nothing and touches nothing.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <thread>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Every file under `dir` with its contents, to show that a refused run changed nothing.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = read(entry.path());
  }
  return files;
}

// Waits until `path` exists (polled; a loaded machine makes this slower, never wrong).
bool wait_for_file(const fs::path& path, BackgroundRun& run) {
  for (int i = 0; i < 6000 && !fs::exists(path); ++i) {
    if (run.wait_for(10ms)) return false;  // the run ended first
  }
  return fs::exists(path);
}

std::string run_id_of(const fs::path& dir) {
  return nlohmann::json::parse(read(dir / "run.json"))["run_id"].get<std::string>();
}

void expect_refused(const RunResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
}

TEST(OutputDir, ASecondRunIntoALockedDirectoryIsRefusedNamingTheHolder) {
  const std::string dir = scratch_dir("locked");
  BackgroundRun first(with(tiny_run(dir + "/out", 100000), {"--epochs", "1000"}), dir);
  ASSERT_TRUE(wait_for_file(dir + "/out/metrics.jsonl", first)) << "the first run never started training";
  const RunResult second = run_utt(with(tiny_run(dir + "/out", 10), {"--seed", "8"}), dir);
  expect_refused(second, dir + "/out is in use by utt train (PID " + std::to_string(first.pid()) + " on host ");
  EXPECT_NE(second.err.find("wait for that run to end (or stop it), or choose another --output-dir"),
            std::string::npos) << second.err;
  // A dry run does not refuse: it says who holds the directory.
  const RunResult dry = run_utt(with(tiny_run(dir + "/out", 10), {"--dry-run", "--overwrite-output-dir"}), dir);
  EXPECT_NE(dry.out.find("in use by utt train (PID " + std::to_string(first.pid())), std::string::npos)
      << dry.out << dry.err;
  const RunResult stopped = first.stop(SIGINT);
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  EXPECT_FALSE(fs::exists(dir + "/out/utt.lock")) << "a run that ended left its lock file";
}

TEST(OutputDir, ALockLeftByAKilledRunIsTakenOverSayingSo) {
  const std::string dir = scratch_dir("stale");
  BackgroundRun killed(with(tiny_run(dir + "/out", 1000), {"--epochs", "1000"}), dir);
  ASSERT_TRUE(wait_for_file(dir + "/out/checkpoint_step_10/trainer_state.json", killed));
  const pid_t pid = killed.pid();
  EXPECT_EQ(killed.stop(SIGKILL).exit_code, 128 + SIGKILL);
  ASSERT_TRUE(fs::exists(dir + "/out/utt.lock"));
  const RunResult resumed = run_utt(with(tiny_run(dir + "/out", 20), {"--resume-from", "latest"}), dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("Output directory: took over " + dir + "/out/utt.lock, left by utt train (PID " +
                             std::to_string(pid) + " on host "),
            std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("that ended without releasing it"), std::string::npos) << resumed.out;
  // The killed run's entries after the checkpoint were dropped: every step is logged once.
  std::vector<int64_t> steps;
  for (const nlohmann::json& row : metrics(dir + "/out")) {
    if (row.contains("loss")) steps.push_back(row["step"]);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{5, 10, 15, 20}));
}

TEST(OutputDir, ANewRunIntoAnEarlierRunsDirectoryIsRefusedAndTouchesNothing) {
  const std::string dir = scratch_dir("owned");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 20), dir).exit_code, 0);
  const auto before = snapshot(dir + "/out");
  const RunResult r = run_utt(with(tiny_run(dir + "/out", 20), {"--seed", "8"}), dir);
  expect_refused(r, dir + "/out already holds the outputs of an earlier run (checkpoint_step_10, "
                          "final_checkpoint, best_checkpoint, metrics.jsonl and 3 more): continue that run with "
                          "--resume-from latest, or start over with --overwrite-output-dir");
  EXPECT_EQ(snapshot(dir + "/out"), before);
  // The dry run refuses it the same way.
  expect_refused(run_utt(with(tiny_run(dir + "/out", 20), {"--dry-run"}), dir), "already holds the outputs");
}

TEST(OutputDir, OverwriteOutputDirRemovesTheEarlierRunFirstAndSaysSo) {
  const std::string dir = scratch_dir("overwrite");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 20), dir).exit_code, 0);
  const std::string earlier = run_id_of(dir + "/out");
  const RunResult r = run_utt(with(tiny_run(dir + "/out", 10), {"--overwrite-output-dir"}), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--overwrite-output-dir: removed the earlier run's outputs from " + dir +
                       "/out: checkpoint_step_10, final_checkpoint, best_checkpoint, metrics.jsonl and 3 more"),
            std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/out/checkpoint_step_10"));  // the new run's 10 steps save none
  EXPECT_NE(run_id_of(dir + "/out"), earlier);
  EXPECT_EQ(metrics(dir + "/out").back()["step"], 10);
  EXPECT_EQ(nlohmann::json::parse(read(dir + "/out/final_checkpoint/trainer_state.json"))["run_id"],
            run_id_of(dir + "/out"));
}

TEST(OutputDir, LatestNamesOnlyCheckpointsOfTheRunThatOwnsTheDirectory) {
  const std::string dir = scratch_dir("latest");
  ASSERT_EQ(run_utt(tiny_run(dir + "/a", 10), dir).exit_code, 0);
  ASSERT_EQ(run_utt(with(tiny_run(dir + "/b", 20), {"--seed", "8"}), dir).exit_code, 0);
  // Another run's newer checkpoint, copied in.
  fs::copy(dir + "/b/final_checkpoint", dir + "/a/checkpoint_step_20", fs::copy_options::recursive);
  const RunResult r = run_utt(with(tiny_run(dir + "/a", 12), {"--resume-from", "latest"}), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Resuming from " + dir + "/a/final_checkpoint at step 10 of 12"), std::string::npos) << r.out;
}

TEST(OutputDir, ResumingAnotherRunsCheckpointIntoThisDirectoryIsRefused) {
  const std::string dir = scratch_dir("foreign");
  ASSERT_EQ(run_utt(tiny_run(dir + "/a", 10), dir).exit_code, 0);
  ASSERT_EQ(run_utt(with(tiny_run(dir + "/b", 20), {"--seed", "8"}), dir).exit_code, 0);
  const auto before = snapshot(dir + "/a");
  const RunResult r =
      run_utt(with(tiny_run(dir + "/a", 30), {"--resume-from", dir + "/b/checkpoint_step_10"}), dir);
  expect_refused(r, dir + "/a holds the outputs of run " + run_id_of(dir + "/a") + ", but " + dir +
                        "/b/checkpoint_step_10 is a checkpoint of run " + run_id_of(dir + "/b") +
                        ": resume into another --output-dir");
  EXPECT_EQ(snapshot(dir + "/a"), before);
}

TEST(OutputDir, ResumingBeforeLaterCheckpointsOfTheSameRunIsRefused) {
  const std::string dir = scratch_dir("earlier");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 20), dir).exit_code, 0);
  const RunResult r =
      run_utt(with(tiny_run(dir + "/out", 20), {"--resume-from", dir + "/out/checkpoint_step_10"}), dir);
  expect_refused(r, "is at step 10, but " + dir + "/out holds later checkpoints of the same run "
                    "(final_checkpoint (step 20)): resume from those (--resume-from latest)");
  // Resumed into a directory of its own, the same checkpoint is fine.
  const RunResult elsewhere =
      run_utt(with(tiny_run(dir + "/branch", 20), {"--resume-from", dir + "/out/checkpoint_step_10"}), dir);
  EXPECT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  EXPECT_EQ(run_id_of(dir + "/branch"), run_id_of(dir + "/out"));
}

TEST(OutputDir, ADryRunShowsTheResumePointAndOverwriteCannotRemoveIt) {
  const std::string dir = scratch_dir("self");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 10), dir).exit_code, 0);
  const RunResult dry = run_utt(with(tiny_run(dir + "/out", 20), {"--resume-from", "latest", "--dry-run"}), dir);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("Output: " + dir + "/out (holds an earlier run's outputs)\n  Resume: from " + dir +
                         "/out/final_checkpoint at step 10 (its schedule: 10 steps; run " + run_id_of(dir + "/out") +
                         ")"),
            std::string::npos) << dry.out;
  const RunResult r = run_utt(
      with(tiny_run(dir + "/out", 20), {"--resume-from", "latest", "--overwrite-output-dir"}), dir);
  expect_refused(r, "--overwrite-output-dir would remove " + dir + "/out/final_checkpoint, the checkpoint "
                    "--resume-from names");
}

// Every problem that can be found before the first byte is written is found then.
TEST(OutputDir, RefusedRunsWriteNothing) {
  const std::string dir = scratch_dir("nothing");
  const std::string out = dir + "/new/out";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--resume-from", dir + "/nope"}, "--resume-from " + dir + "/nope is not a checkpoint directory"},
      {{"--resume-from", dir + "/nope", "--dry-run"}, "is not a checkpoint directory"},
      {{"--resume-from", "latest"}, "--resume-from latest: no checkpoint in " + out},
      {{"--text-column", "body"}, "body"},
      {{"--batch-size", "5000"}, "does not fill one optimizer step"},
      {{"--tokenizer-path", dir + "/none.json"}, "--tokenizer-path " + dir + "/none.json: no such file"},
  };
  for (const auto& [extra, fragment] : cases) {
    const RunResult r = run_utt(with(tiny_run(out, 10), extra), dir);
    expect_refused(r, fragment);
    EXPECT_FALSE(fs::exists(dir + "/new")) << "files were written for " << fragment;
  }
}

}  // namespace
}  // namespace utt::test
