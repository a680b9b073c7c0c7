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

// What `--resume-from latest` and the output directory's checks need to know of a checkpoint
// (read from its trainer_state.json by read_checkpoint_info, train/checkpoint.h).
struct CheckpointInfo {
  int64_t step = -1;   // -1: unreadable or incomplete
  std::string run_id;  // empty for checkpoints written before run ids
};
using CheckpointInfoReader = CheckpointInfo (*)(const std::filesystem::path& checkpoint);

// A checkpoint directory of an output directory, with what its trainer state says.
struct CheckpointEntry {
  std::string name;  // "checkpoint_step_200", "final_checkpoint", "best_checkpoint"
  std::filesystem::path path;
  CheckpointInfo info;
};

std::string step_checkpoint_name(int64_t step);  // "checkpoint_step_1000"

// checkpoint_step_N directories under output_dir, oldest first. Staging leftovers
// (".checkpoint_step_N.tmp-PID") and other names are ignored.
std::vector<StepCheckpoint> list_step_checkpoints(const std::filesystem::path& output_dir);

// Every checkpoint directory under output_dir (step checkpoints oldest first, then
// final_checkpoint and best_checkpoint when present).
std::vector<CheckpointEntry> list_checkpoints(const std::filesystem::path& output_dir,
                                              CheckpointInfoReader read_info);

// Removes all but the newest `keep_last` step checkpoints (keep_last 0: keep all).
// best_checkpoint and final_checkpoint are never removed.
void prune_step_checkpoints(const std::filesystem::path& output_dir, int64_t keep_last);

// True when the run `a` and the run `b` may be the same: equal ids, or either unknown (a
// checkpoint written before run ids).
bool same_run(const std::string& a, const std::string& b);

// `--resume-from`: a checkpoint directory, or "latest" for the complete checkpoint with the
// highest step in output_dir (step checkpoints and final_checkpoint) among those of the run
// `owner_run_id` (empty: any run). Throws UserError when nothing is there to resume from.
std::filesystem::path resolve_resume_path(const std::string& resume_from,
                                          const std::filesystem::path& output_dir,
                                          const std::string& owner_run_id, CheckpointInfoReader read_info);

}  // namespace utt
