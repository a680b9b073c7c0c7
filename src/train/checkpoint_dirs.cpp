#include "train/checkpoint_dirs.h"

#include <algorithm>
#include <charconv>

#include "io/staged_dir.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;

namespace {
constexpr std::string_view kStepPrefix = "checkpoint_step_";
}

std::string step_checkpoint_name(int64_t step) {
  return std::string(kStepPrefix) + std::to_string(step);
}

std::vector<StepCheckpoint> list_step_checkpoints(const fs::path& output_dir) {
  std::vector<StepCheckpoint> found;
  std::error_code error;
  if (!fs::is_directory(output_dir, error)) return found;
  for (const auto& entry : fs::directory_iterator(output_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || !starts_with(name, kStepPrefix)) continue;
    const std::string_view digits = std::string_view(name).substr(kStepPrefix.size());
    int64_t step = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
    if (ec != std::errc() || end != digits.data() + digits.size()) continue;
    found.push_back({step, entry.path()});
  }
  std::sort(found.begin(), found.end(),
            [](const StepCheckpoint& a, const StepCheckpoint& b) { return a.step < b.step; });
  return found;
}

std::vector<CheckpointEntry> list_checkpoints(const fs::path& output_dir, CheckpointInfoReader read_info) {
  std::vector<CheckpointEntry> found;
  for (const StepCheckpoint& checkpoint : list_step_checkpoints(output_dir)) {
    found.push_back({checkpoint.path.filename().string(), checkpoint.path, read_info(checkpoint.path)});
  }
  std::error_code error;
  for (const char* name : {"final_checkpoint", "best_checkpoint"}) {
    if (fs::is_directory(output_dir / name, error)) {
      found.push_back({name, output_dir / name, read_info(output_dir / name)});
    }
  }
  return found;
}

void prune_step_checkpoints(const fs::path& output_dir, int64_t keep_last) {
  if (keep_last <= 0) return;
  const std::vector<StepCheckpoint> all = list_step_checkpoints(output_dir);
  const int64_t excess = static_cast<int64_t>(all.size()) - keep_last;
  for (int64_t i = 0; i < excess; ++i) {
    try {
      remove_directory(all[static_cast<size_t>(i)].path);
    } catch (const UserError&) {
      // An old checkpoint that cannot be removed stays; the run goes on.
    }
  }
}

bool same_run(const std::string& a, const std::string& b) { return a.empty() || b.empty() || a == b; }

fs::path resolve_resume_path(const std::string& resume_from, const fs::path& output_dir,
                             const std::string& owner_run_id, CheckpointInfoReader read_info) {
  if (resume_from != "latest") {
    std::error_code error;
    if (!fs::is_directory(resume_from, error)) {
      throw UserError("--resume-from " + resume_from +
                      " is not a checkpoint directory: give a checkpoint_step_N, best_checkpoint "
                      "or final_checkpoint directory, or 'latest'");
    }
    return resume_from;
  }
  fs::path best;
  int64_t best_step = -1;
  int64_t other_runs = 0;
  for (const CheckpointEntry& entry : list_checkpoints(output_dir, read_info)) {
    if (entry.name == "best_checkpoint" || entry.info.step < 0) continue;  // best is not the latest
    if (!same_run(entry.info.run_id, owner_run_id)) {
      ++other_runs;
      continue;
    }
    if (entry.info.step > best_step) {
      best_step = entry.info.step;
      best = entry.path;
    }
  }
  if (best_step < 0) {
    throw UserError("--resume-from latest: no checkpoint " +
                    (other_runs > 0 ? "of the run that wrote " + output_dir.string() + " (it holds " +
                                          std::to_string(other_runs) + " of other runs)"
                                    : "in " + output_dir.string()) +
                    " to resume from (expected checkpoint_step_N or final_checkpoint); check --output-dir, "
                    "or drop --resume-from to start a new run");
  }
  return best;
}

}  // namespace utt
