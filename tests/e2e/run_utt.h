// Runs the built binary as a user would, in a scratch directory, and captures what it did.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace utt::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string utt_binary();

// Runs `program args...` with the working directory `cwd` (created if missing).
RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::string& cwd);

// Runs build/utt in a fresh scratch directory that the caller can inspect afterwards.
RunResult run_utt(const std::vector<std::string>& args, const std::string& cwd = "");

// A new empty directory for one test.
std::string scratch_dir(const std::string& name);

// True when `dir` holds no entries.
bool is_empty_dir(const std::string& dir);

// build/utt running in the background in `cwd`, its stdout and stderr going to files there.
class BackgroundRun {
 public:
  BackgroundRun(const std::vector<std::string>& args, const std::string& cwd);
  ~BackgroundRun();  // SIGKILL if still running
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  pid_t pid() const { return pid_; }
  // The result once the process has ended by itself within `timeout`; nullopt while it runs.
  std::optional<RunResult> wait_for(std::chrono::milliseconds timeout);
  // Sends `signal` and waits for the end (exit code 128 + signal when it killed the process).
  RunResult stop(int signal);
  // What it has written to stdout so far.
  std::string output_so_far() const;

 private:
  RunResult collect(int status);

  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
};

}  // namespace utt::test
