#include "train/checkpoint_dirs.h"

#include <algorithm>
#include <charconv>

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

void prune_step_checkpoints(const fs::path& output_dir, int64_t keep_last) {
  if (keep_last <= 0) return;
  const std::vector<StepCheckpoint> all = list_step_checkpoints(output_dir);
  const int64_t excess = static_cast<int64_t>(all.size()) - keep_last;
  for (int64_t i = 0; i < excess; ++i) {
    std::error_code ignored;
    fs::remove_all(all[static_cast<size_t>(i)].path, ignored);
  }
}

fs::path resolve_resume_path(const std::string& resume_from, const fs::path& output_dir,
                             int64_t (*step_of)(const fs::path&)) {
  if (resume_from != "latest") {
    std::error_code error;
    if (!fs::is_directory(resume_from, error)) {
      throw UserError("--resume-from " + resume_from +
                      " is not a checkpoint directory: give a checkpoint_step_N, best_checkpoint "
                      "or final_checkpoint directory, or 'latest'");
    }
    return resume_from;
  }
  std::vector<fs::path> candidates;
  for (const StepCheckpoint& checkpoint : list_step_checkpoints(output_dir)) {
    candidates.push_back(checkpoint.path);
  }
  if (fs::is_directory(output_dir / "final_checkpoint")) candidates.push_back(output_dir / "final_checkpoint");
  if (candidates.empty()) {
    throw UserError("--resume-from latest: no checkpoint in " + output_dir.string() +
                    " (expected checkpoint_step_N or final_checkpoint); check --output-dir");
  }
  fs::path best;
  int64_t best_step = -1;
  for (const fs::path& candidate : candidates) {
    const int64_t step = step_of(candidate);
    if (step > best_step) {
      best_step = step;
      best = candidate;
    }
  }
  return best;
}

}  // namespace utt
