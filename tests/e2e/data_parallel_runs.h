// Data-parallel runs for the end-to-end tests: the flags of a small run on N ranks, and the
// worker processes of a running job.
#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {

// `args` with each flag of `flags` set to its value (replaced where present, else added).
inline std::vector<std::string> with_flags(std::vector<std::string> args,
                                           const std::vector<std::pair<std::string, std::string>>& flags) {
  for (const auto& [flag, value] : flags) {
    const auto it = std::find(args.begin(), args.end(), flag);
    if (it != args.end() && it + 1 != args.end()) {
      *(it + 1) = value;
    } else {
      args.insert(args.end(), {flag, value});
    }
  }
  return args;
}

// tiny_run without dropout (its masks are drawn per rank), a loss logged every step, and one
// thread per process: `ranks` processes of `batch` rows each.
inline std::vector<std::string> run_on(const std::string& output_dir, int64_t steps, int ranks, int batch,
                                       int accumulation = 1) {
  return with_flags(tiny_run(output_dir, steps), {{"--dropout-rate", "0"},
                                                  {"--log-every", "1"},
                                                  {"--threads", ranks == 1 ? "2" : "1"},
                                                  {"--batch-size", std::to_string(batch)},
                                                  {"--gradient-accumulation-steps", std::to_string(accumulation)},
                                                  {"--num-devices", std::to_string(ranks)}});
}

// The pid of the worker process of `rank` whose command line mentions `marker`.
inline std::optional<pid_t> find_worker(int rank, const std::string& marker) {
  const std::string rank_variable = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string command = read(entry.path() / "cmdline");
    if (command.find(marker) == std::string::npos || command.find("mpirun") != std::string::npos) continue;
    std::string environment = read(entry.path() / "environ");
    std::replace(environment.begin(), environment.end(), '\0', '\n');
    if (("\n" + environment).find("\n" + rank_variable + "\n") != std::string::npos) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return std::nullopt;
}

// True once `output`'s metrics.jsonl has a line: the ranks train (and handle SIGTERM).
inline bool wait_for_a_step(const std::string& output, BackgroundRun& run) {
  for (int i = 0; i < 3000; ++i) {
    std::error_code error;
    if (std::filesystem::exists(output + "/metrics.jsonl") && std::filesystem::file_size(output + "/metrics.jsonl", error) > 0) return true;
    if (run.wait_for(std::chrono::milliseconds(20))) return false;  // the run ended first
  }
  return false;
}

}  // namespace utt::test
