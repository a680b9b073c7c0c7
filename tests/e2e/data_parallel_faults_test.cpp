// Faults of a data-parallel job outside its steps: a rank that hangs or dies while the job
// starts, SIGTERM to mpirun itself or to a single rank, a worker that crashes. Every case ends
// the whole job within a bounded time, with a message that names the rank or the reason.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "e2e/data_parallel_runs.h"
#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A long 2-rank run whose ranks wait at most `rank_timeout` seconds for each other.
std::vector<std::string> long_run(const std::string& output, const std::string& rank_timeout = "600") {
  return with_flags(run_on(output, 100000, 2, 2), {{"--epochs", "50"}, {"--rank-timeout", rank_timeout}});
}

// The worker of `rank` as soon as it exists (within 30 s).
std::optional<pid_t> first_sight_of_worker(int rank, const std::string& output, BackgroundRun& run) {
  for (int i = 0; i < 3000; ++i) {
    if (std::optional<pid_t> worker = find_worker(rank, output)) return worker;
    if (run.wait_for(10ms)) return std::nullopt;
  }
  return std::nullopt;
}

// True once rank 0 has printed `text`: both ranks are past MPI's start, which waits for all.
bool wait_for_output(const std::string& text, BackgroundRun& run) {
  for (int i = 0; i < 3000; ++i) {
    if (run.output_so_far().find(text) != std::string::npos) return true;
    if (run.wait_for(10ms)) return false;
  }
  return false;
}

// mpirun, the launcher's child.
std::optional<pid_t> find_mpirun(pid_t launcher) {
  const std::string path = "/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children";
  long pid = 0;
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (!file) return std::nullopt;
  const bool found = std::fscanf(file, "%ld", &pid) == 1;
  std::fclose(file);
  if (!found) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// Waits for the job's end (at most `limit`), then checks that no worker outlived it.
RunResult expect_end_within(BackgroundRun& run, std::chrono::seconds limit, const std::string& output,
                            const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<RunResult> ended = run.wait_for(limit);
  if (!ended) {
    for (int rank : {0, 1}) {
      if (std::optional<pid_t> left = find_worker(rank, output)) ::kill(*left, SIGKILL);
    }
    ADD_FAILURE() << "the job did not end within " << limit.count() << " s of " << what;
    return run.stop(SIGKILL);
  }
  std::cout << "the job ended " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s after " << what << "\n";
  for (int i = 0; i < 500 && (find_worker(0, output) || find_worker(1, output)); ++i) std::this_thread::sleep_for(10ms);
  for (int rank : {0, 1}) {
    if (std::optional<pid_t> left = find_worker(rank, output)) {
      ::kill(*left, SIGKILL);
      ADD_FAILURE() << "worker " << rank << " outlived the job";
    }
  }
  return *ended;
}

TEST(DataParallelFaults, ARankStoppedAsTheJobStartsEndsItWithinTheRankTimeout) {
  const std::string dir = scratch_dir("dp-start-hang");
  const std::string output = dir + "/out";
  BackgroundRun run(long_run(output, "3"), dir);
  const std::optional<pid_t> worker = first_sight_of_worker(1, output, run);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGSTOP), 0);
  const RunResult ended = expect_end_within(run, 60s, output, "rank 1 stopped as it started");
  EXPECT_NE(ended.exit_code, 0);
  // Stopped before MPI's start (which waits for every rank), rank 0 cannot tell which rank is
  // missing; stopped after it, rank 1 is named at the next meeting.
  const bool at_start = ended.err.find("utt: error: rank 0: the job's other ranks did not all join it within 3 s") !=
                        std::string::npos;
  const bool named = ended.err.find("utt: error: rank 1 did not reach the ") != std::string::npos;
  EXPECT_TRUE(at_start || named) << ended.err;
  EXPECT_NE(ended.err.find("--rank-timeout sets how long ranks wait"), std::string::npos) << ended.err;
  EXPECT_NE(ended.err.find("; the other workers were stopped"), std::string::npos) << ended.err;
  EXPECT_FALSE(fs::exists(output + "/metrics.jsonl"));
}

TEST(DataParallelFaults, ARankStoppedDuringTheSetUpIsNamedWithinTheRankTimeout) {
  const std::string dir = scratch_dir("dp-setup-hang");
  const std::string output = dir + "/out";
  BackgroundRun run(long_run(output, "3"), dir);
  ASSERT_TRUE(wait_for_output("Dataset:", run)) << "the ranks never started";
  const std::optional<pid_t> worker = find_worker(1, output);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGSTOP), 0);  // while it trains its tokenizer, or just after
  const RunResult ended = expect_end_within(run, 60s, output, "rank 1 stopped during the set-up");
  EXPECT_NE(ended.exit_code, 0);
  // A fast machine may be past the tokenizer check when the signal lands: the next meeting of
  // the set-up names the rank then.
  const std::string tail = " within 3 s (hung, stopped, or much slower than the others): stopping the job; "
                           "--rank-timeout sets how long ranks wait";
  const bool at_tokenizer = ended.err.find("utt: error: rank 1 did not reach the tokenizer check" + tail) !=
                            std::string::npos;
  const bool at_start = ended.err.find("utt: error: rank 1 did not reach the start of the run" + tail) !=
                        std::string::npos;
  EXPECT_TRUE(at_tokenizer || at_start) << ended.err;
  EXPECT_NE(ended.err.find("; the other workers were stopped"), std::string::npos) << ended.err;
}

TEST(DataParallelFaults, ARankKilledDuringTheSetUpEndsTheJobNamingIt) {
  const std::string dir = scratch_dir("dp-setup-kill");
  const std::string output = dir + "/out";
  BackgroundRun run(long_run(output), dir);
  ASSERT_TRUE(wait_for_output("Dataset:", run)) << "the ranks never started";
  const std::optional<pid_t> worker = find_worker(1, output);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGKILL), 0);
  const RunResult ended = expect_end_within(run, 60s, output, "rank 1 was killed during the set-up");
  EXPECT_NE(ended.exit_code, 0);
  EXPECT_NE(ended.err.find("utt: error: worker rank 1 (on "), std::string::npos) << ended.err;
  EXPECT_NE(ended.err.find("was killed by signal 9 (Killed); the other workers were stopped"), std::string::npos)
      << ended.err;
}

TEST(DataParallelFaults, ACrashingWorkerMakesTheLauncherExitNonZeroWithItsMessage) {
  const std::string dir = scratch_dir("dp-crash");
  const std::string output = dir + "/out";
  BackgroundRun run(long_run(output), dir);
  ASSERT_TRUE(wait_for_a_step(output, run)) << "training never started";
  const std::optional<pid_t> worker = find_worker(1, output);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGSEGV), 0);
  const RunResult ended = expect_end_within(run, 60s, output, "rank 1 crashed");
  EXPECT_NE(ended.exit_code, 0);
  EXPECT_NE(ended.err.find("utt: error: worker rank 1 (on "), std::string::npos) << ended.err;
  EXPECT_NE(ended.err.find("was killed by signal 11 (Segmentation fault); the other workers were stopped"),
            std::string::npos)
      << ended.err;
}

// The step after which the job stopped, from rank 0's "Stopped by ... after step N" line.
int64_t stopped_after_step(const RunResult& result) {
  const size_t at = result.out.find(" after step ", result.out.find("Stopped by "));
  if (at == std::string::npos) return -1;
  return std::stoll(result.out.substr(at + std::string(" after step ").size()));
}

TEST(DataParallelFaults, SigtermToOneRankStopsEveryRankAfterOneCheckpoint) {
  const std::string dir = scratch_dir("dp-rank-sigterm");
  const std::string output = dir + "/out";
  BackgroundRun run(long_run(output), dir);
  ASSERT_TRUE(wait_for_a_step(output, run)) << "training never started";
  const std::optional<pid_t> worker = find_worker(1, output);
  ASSERT_TRUE(worker) << "no worker of rank 1";
  ASSERT_EQ(::kill(*worker, SIGTERM), 0);
  const RunResult ended = expect_end_within(run, 60s, output, "SIGTERM to rank 1");
  EXPECT_EQ(ended.exit_code, 128 + SIGTERM) << ended.out << ended.err;
  EXPECT_NE(ended.out.find("Stopped by a signal to another rank after step "), std::string::npos) << ended.out;
  const int64_t step = stopped_after_step(ended);
  ASSERT_GT(step, 0) << ended.out;
  EXPECT_TRUE(fs::exists(output + "/checkpoint_step_" + std::to_string(step) + "/optimizer.safetensors"));
  EXPECT_EQ(ended.err.find("error"), std::string::npos) << ended.err;
}

TEST(DataParallelFaults, SigtermToMpirunStopsEveryRankAfterOneCheckpointAndSaysWhy) {
  const std::string dir = scratch_dir("dp-mpirun-sigterm");
  const std::string output = dir + "/out";
  // mpirun waits OMPI_MCA_odls_base_sigkill_timeout seconds before it passes SIGTERM on, and
  // as long again before SIGKILL: the launcher's 5 s, which leave a loaded machine time for a
  // step and a checkpoint (3 s did not always). Little output: once signalled, mpirun stops
  // relaying the workers' output, and a rank that fills its stdout pipe (64 KiB) in the
  // meantime blocks until SIGKILL (a loss every step did, now and then).
  BackgroundRun run(with_flags(long_run(output), {{"--log-every", "100"}, {"--eval-every", "1000"}}), dir);
  ASSERT_TRUE(wait_for_a_step(output, run)) << "training never started";
  const std::optional<pid_t> mpirun = find_mpirun(run.pid());
  ASSERT_TRUE(mpirun) << "no mpirun under the launcher";
  ASSERT_EQ(::kill(*mpirun, SIGTERM), 0);
  const RunResult ended = expect_end_within(run, 60s, output, "SIGTERM to mpirun");
  EXPECT_EQ(ended.exit_code, 128 + SIGTERM) << ended.out << ended.err;
  EXPECT_NE(ended.out.find("Stopped by SIGTERM after step "), std::string::npos) << ended.out << ended.err;
  const int64_t step = stopped_after_step(ended);
  ASSERT_GT(step, 0) << ended.out;
  EXPECT_TRUE(fs::exists(output + "/checkpoint_step_" + std::to_string(step) + "/optimizer.safetensors"));
  // Exactly one checkpoint written by the stop (save-every 10 may have written earlier ones).
  EXPECT_EQ(ended.out.find("Stopped by"), ended.out.rfind("Stopped by")) << ended.out;
}

}  // namespace
}  // namespace utt::test
