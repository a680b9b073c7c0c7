// kill -9 at random moments (seeded), resumed from `latest` after each: every checkpoint on
// disk is complete after every kill, and the run ends with the weights, optimizer state,
// metrics.jsonl and TensorBoard values of the same run never interrupted.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;

constexpr int kKills = 30;
constexpr uint32_t kKillSeed = 20261203;
// Fields that measure time, not training: they differ between any two runs.
const char* const kTimingFields[] = {"tokens_per_sec", "elapsed_seconds", "flops_per_sec", "mfu"};

// Small and quick (about a millisecond a step): the kills land in startup, training steps,
// validation, checkpoint writes and the final files alike.
std::vector<std::string> kill_run(const std::string& output_dir) {
  return {"train", "--dataset-id", corpus(), "--val-split", "validation",
          "--max-train-examples", "3", "--max-val-examples", "1", "--tokenizer-train-examples", "3",
          "--vocab-size", "300", "--d-model", "32", "--num-layers", "1", "--num-heads", "2",
          "--d-ff", "64", "--seq-len", "16", "--batch-size", "2", "--learning-rate", "3e-3",
          "--warmup-steps", "3", "--max-steps", "150", "--log-every", "1", "--eval-every", "10",
          "--eval-batches", "2", "--save-every", "4", "--seed", "3", "--threads", "1",
          "--output-dir", output_dir};
}

// A safetensors file whose header and data sizes agree with its length.
bool complete_safetensors(const fs::path& path) {
  const std::string bytes = read(path);
  if (bytes.size() < 8) return false;
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > bytes.size() - 8) return false;
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_size), nullptr, false);
  if (!header.is_object()) return false;
  uint64_t data_end = 0;
  for (const auto& [name, tensor] : header.items()) {
    if (name != "__metadata__") data_end = std::max(data_end, tensor["data_offsets"][1].get<uint64_t>());
  }
  return 8 + header_size + data_end == bytes.size();
}

// Every checkpoint under its real name is whole: a crash may leave hidden staging folders,
// never half a checkpoint.
void expect_checkpoints_complete(const fs::path& out, int kill) {
  if (!fs::exists(out)) return;
  for (const auto& entry : fs::directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    const bool checkpoint = name.rfind("checkpoint_step_", 0) == 0 || name == "best_checkpoint" ||
                            name == "final_checkpoint";
    if (!checkpoint) continue;
    const fs::path c = entry.path();
    EXPECT_TRUE(complete_safetensors(c / "model.safetensors")) << name << " after kill " << kill;
    EXPECT_TRUE(complete_safetensors(c / "optimizer.safetensors")) << name << " after kill " << kill;
    for (const char* json : {"trainer_state.json", "model_config.json", "tokenizer.json"}) {
      EXPECT_FALSE(nlohmann::json::parse(read(c / json), nullptr, false).is_discarded())
          << name << "/" << json << " after kill " << kill;
    }
  }
}

bool has_checkpoint(const fs::path& out) {
  if (fs::exists(out / "final_checkpoint")) return true;
  if (!fs::exists(out)) return false;
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().filename().string().rfind("checkpoint_step_", 0) == 0) return true;
  }
  return false;
}

// Waits until `run` holds the output directory's lock (it has passed every check and trains),
// or has ended.
std::optional<RunResult> wait_until_training(BackgroundRun& run, const fs::path& out) {
  const std::string holder = "\"pid\":" + std::to_string(run.pid()) + ",";
  while (read(out / "utt.lock").find(holder) == std::string::npos) {
    if (std::optional<RunResult> ended = run.wait_for(std::chrono::milliseconds(2))) return ended;
  }
  return std::nullopt;
}

// The last step metrics.jsonl lists (0: none), read leniently: a kill may cut its last line.
int64_t last_logged_step(const fs::path& out) {
  std::istringstream lines(read(out / "metrics.jsonl"));
  std::string line;
  int64_t step = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_object() && row.contains("step")) step = row["step"];
  }
  return step;
}

std::vector<nlohmann::json> metrics_without_timing(const fs::path& out) {
  std::vector<nlohmann::json> rows = metrics(out);
  for (nlohmann::json& row : rows) {
    for (const char* field : kTimingFields) row.erase(field);
  }
  return rows;
}

TEST(KillTest, RandomKillsAndResumesEndWhereTheUninterruptedRunEnds) {
  const std::string dir = scratch_dir("kill");
  const auto start = std::chrono::steady_clock::now();
  const RunResult full = run_utt(kill_run(dir + "/full"), dir);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const double run_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // The training part of the run (from its first step to the end of the last), as it logged it;
  // the rest is the start-up (tokenizer, data, model, the lock) and the exit.
  double train_ms = 0;
  for (const nlohmann::json& row : metrics(dir + "/full")) {
    train_ms = std::max(train_ms, 1000 * row.value("elapsed_seconds", 0.0));
  }
  const double startup_ms = std::max(20.0, run_ms - train_ms);

  // Seeded kill moments, scaled to this machine's run: a third counted from the start of the
  // process, within its start-up (the tokenizer, the checks, the lock, the first writes); two
  // thirds from the moment it holds the lock and trains (steps, validation, checkpoint writes,
  // the final files), within a quarter of the training part, so that a restart gets past a
  // few checkpoints and the run ends about half-way through the 20 kills (the rest meet the final
  // files or a finished run). (Fixed windows of 300 ms from the
  // start and a third of the run after the lock let a fast machine's 0.2 s run finish after the
  // first few kills; the rest all met a finished run.)
  std::mt19937 random(kKillSeed);
  std::bernoulli_distribution from_start(1.0 / 3);
  std::uniform_int_distribution<int64_t> startup_kill_ms(0, static_cast<int64_t>(startup_ms));
  std::uniform_int_distribution<int64_t> training_kill_ms(0, std::max<int64_t>(10, static_cast<int64_t>(train_ms / 4)));
  const fs::path out = dir + "/killed";
  int kills = 0;
  int kills_while_training = 0;  // the run had logged a step and not the last
  int kills_after_the_end = 0;    // it had logged the last step
  bool took_over_a_lock = false;
  for (int attempt = 0; kills < kKills && attempt < 10 * kKills; ++attempt) {
    std::vector<std::string> args = kill_run(out.string());
    if (has_checkpoint(out)) {
      args.insert(args.end(), {"--resume-from", "latest"});
    } else if (fs::exists(out / "metrics.jsonl") || fs::exists(out / "training_summary.json")) {
      args.push_back("--overwrite-output-dir");  // killed before its first checkpoint
    }
    const bool early = from_start(random);
    const auto moment = std::chrono::milliseconds(early ? startup_kill_ms(random) : training_kill_ms(random));
    BackgroundRun run(args, dir);
    std::optional<RunResult> ended;
    if (!early) ended = wait_until_training(run, out);
    if (!ended) ended = run.wait_for(moment);
    if (ended) {
      ASSERT_EQ(ended->exit_code, 0) << "attempt " << attempt << ": " << ended->err;
      took_over_a_lock |= ended->out.find("Output directory: took over") != std::string::npos;
      continue;
    }
    const RunResult killed = run.stop(SIGKILL);
    took_over_a_lock |= killed.out.find("Output directory: took over") != std::string::npos;
    ++kills;
    const int64_t step = last_logged_step(out);
    kills_while_training += step > 0 && step < 150;
    kills_after_the_end += step == 150;
    expect_checkpoints_complete(out, kills);
  }
  EXPECT_EQ(kills, kKills);
  // A sanity check of the moments, not of utt: with windows scaled to the run, 18 of 30 landed
  // between the first and the last logged step on a quiet AVX-512 machine, 11 after the last
  // (the final files, a finished run). At least 3 must have.
  EXPECT_GE(kills_while_training, 3) << "the kills missed the training loop";
  std::printf("%d kills, %d of them while training, %d after its last step (training %.0f ms)\n", kills,
              kills_while_training, kills_after_the_end, train_ms);
  std::vector<std::string> last = kill_run(out.string());
  if (has_checkpoint(out)) last.insert(last.end(), {"--resume-from", "latest"});
  else if (fs::exists(out)) last.push_back("--overwrite-output-dir");
  const RunResult finished = run_utt(last, dir);
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  took_over_a_lock |= finished.out.find("Output directory: took over") != std::string::npos;
  EXPECT_TRUE(took_over_a_lock) << "no run reported taking over a killed run's lock";
  expect_checkpoints_complete(out, kills);

  for (const char* file : {"final_checkpoint/model.safetensors", "final_checkpoint/optimizer.safetensors",
                           "best_checkpoint/model.safetensors"}) {
    EXPECT_TRUE(read(dir + "/full/" + file) == read(out / file)) << file << " differs from the uninterrupted run's";
  }
  const std::vector<nlohmann::json> expected = metrics_without_timing(dir + "/full");
  const std::vector<nlohmann::json> actual = metrics_without_timing(out);
  ASSERT_EQ(actual.size(), expected.size()) << "metrics.jsonl has another number of lines";
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(actual[i], expected[i]) << "line " << i + 1;
  // The event files of all the processes, read in TensorBoard's order: each value once, as the
  // uninterrupted run wrote it.
  const std::vector<std::string> expected_events = tensorboard_values(decode_tensorboard(dir + "/full/runs"));
  EXPECT_FALSE(expected_events.empty());
  EXPECT_EQ(tensorboard_values(decode_tensorboard(out / "runs")), expected_events);
  const nlohmann::json summary = nlohmann::json::parse(read(out / "training_summary.json"));
  EXPECT_EQ(summary["steps"], 150);
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_FALSE(fs::exists(out / "utt.lock"));
}

}  // namespace
}  // namespace utt::test
