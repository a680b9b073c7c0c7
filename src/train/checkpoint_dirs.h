// The checkpoint directories of an output directory (the guide's layout):
//   best_checkpoint/  final_checkpoint/  checkpoint_step_N/
// Listing, pruning to the last K, and resolving `--resume-from latest`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace utt {

struct StepCheckpoint {
  int64_t step = 0;
  std::filesystem::path path;
};

std::string step_checkpoint_name(int64_t step);  // "checkpoint_step_1000"

// checkpoint_step_N directories under output_dir, oldest first. Staging leftovers
// (".checkpoint_step_N.tmp-PID") and other names are ignored.
std::vector<StepCheckpoint> list_step_checkpoints(const std::filesystem::path& output_dir);

// Removes all but the newest `keep_last` step checkpoints (keep_last 0: keep all).
// best_checkpoint and final_checkpoint are never removed.
void prune_step_checkpoints(const std::filesystem::path& output_dir, int64_t keep_last);

// `--resume-from`: a checkpoint directory, or "latest" for the checkpoint with the highest step
// in output_dir (step checkpoints and final_checkpoint; `step_of` reads a checkpoint's step).
// Throws UserError when nothing is there to resume from.
std::filesystem::path resolve_resume_path(
    const std::string& resume_from, const std::filesystem::path& output_dir,
    int64_t (*step_of)(const std::filesystem::path& checkpoint));

}  // namespace utt
