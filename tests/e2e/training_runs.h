// Small training runs shared by the end-to-end tests: the demo corpus, a model that trains in
// seconds, and readers for what a run leaves behind.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/run_utt.h"
#include "test_paths.h"

namespace utt::test {

inline std::string corpus() {
  const std::string dir = source_dir() + "/data/sotu";
  EXPECT_TRUE(std::filesystem::exists(dir + "/train.jsonl"))
      << "the demo corpus is missing: run scripts/setup --corpus (scripts/test does)";
  return dir;
}

inline std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A model small enough to train in seconds on two cores.
inline std::vector<std::string> tiny_run(const std::string& output_dir, int64_t steps) {
  return {"train", "--dataset-id", corpus(), "--val-split", "validation",
          "--max-train-examples", "12", "--max-val-examples", "3",
          "--vocab-size", "600", "--d-model", "64", "--num-layers", "2", "--num-heads", "2",
          "--d-ff", "128", "--seq-len", "32", "--batch-size", "4", "--learning-rate", "3e-3",
          "--warmup-steps", "5", "--max-steps", std::to_string(steps), "--log-every", "5",
          "--eval-every", "10", "--eval-batches", "4", "--save-every", "10", "--seed", "7",
          "--threads", "2", "--output-dir", output_dir};
}

// `utt train --dataset-id <corpus> --output-dir <dir>/out` plus each case's flags must end
// with exit code 2, the case's message on stderr, and no output directory.
struct RefusedFlags {
  std::vector<std::string> flags;
  std::string message;
};

inline void expect_refused(const std::string& dir, const std::vector<RefusedFlags>& cases) {
  for (const RefusedFlags& c : cases) {
    std::vector<std::string> args = {"train", "--dataset-id", corpus(), "--output-dir", dir + "/out"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const RunResult r = run_utt(args, dir);
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir + "/out"));
  }
}

inline std::vector<nlohmann::json> metrics(const std::filesystem::path& dir) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(read(dir / "metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// tests/tools/read_tensorboard.py's decoding of the event files in `runs` (protoc-generated
// code, crcmod's CRC-32C): {"files": [{"name", "events": [...]}]}.
inline nlohmann::json decode_tensorboard(const std::filesystem::path& runs) {
  const RunResult r = run_program("/usr/bin/python3", {source_dir() + "/tests/tools/read_tensorboard.py", runs.string()},
                                  runs.parent_path().string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {{"files", nlohmann::json::array()}};
  return nlohmann::json::parse(r.out);
}

// Every scalar of the decoded files as "STEP TAG VALUE", in file and record order, without the
// tags that measure time (they differ between any two runs).
inline std::vector<std::string> tensorboard_values(const nlohmann::json& decoded) {
  std::vector<std::string> values;
  for (const nlohmann::json& file : decoded["files"]) {
    for (const nlohmann::json& event : file["events"]) {
      if (!event.contains("scalars")) continue;
      for (const auto& [tag, value] : event["scalars"].items()) {
        if (tag == "train/tokens_per_second" || tag == "train/step_seconds" || tag == "train/flops_per_second" ||
            tag == "train/mfu") {
          continue;
        }
        values.push_back(std::to_string(event["step"].get<int64_t>()) + " " + tag + " " + value.dump());
      }
    }
  }
  return values;
}

}  // namespace utt::test
