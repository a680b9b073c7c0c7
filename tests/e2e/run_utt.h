// Runs the built binary as a user would, in a scratch directory, and captures what it did.
#pragma once

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

}  // namespace utt::test
