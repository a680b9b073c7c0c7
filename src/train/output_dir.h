// One run, one output directory: nothing of two runs ever mixes in it.
//
// - A run holds `utt.lock` in its output directory (io/dir_lock.h) from before its first write
//   to its end; a second run into it is refused, naming the holder.
// - `run.json` names the run that owns the directory (a random run id, carried by every
//   checkpoint's trainer_state.json and kept by resumed runs). A new run (no --resume-from)
//   into a directory that holds an earlier run's outputs is refused unless
//   --overwrite-output-dir, which removes them first; `--resume-from latest` only names
//   checkpoints of the owning run.
// - Everything here that only looks (inspect_output_dir, find_resume_point,
//   check_output_dir) writes nothing, so a refused run leaves no trace; RunDirectory is the
//   first writer.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/train_config.h"
#include "io/dir_lock.h"
#include "train/checkpoint.h"

namespace utt {

inline constexpr const char* kLockFileName = "utt.lock";
inline constexpr const char* kRunRecordName = "run.json";

struct OutputDirState {
  std::filesystem::path dir;
  bool exists = false;
  std::optional<LockHolder> busy;  // another process holds the directory now
  std::string owner_run_id;        // run.json's, else the one run id of its checkpoints; "" unknown
  std::vector<CheckpointEntry> checkpoints;
  // What a new run would mix with: checkpoint directories, metrics.jsonl, training_summary.json,
  // training_curves.svg, runs/ (TensorBoard).
  std::vector<std::string> earlier_outputs;
};

// Looks at the directory without writing. `look_at_lock` false: the caller holds the lock.
OutputDirState inspect_output_dir(const std::filesystem::path& dir, bool look_at_lock = true);

// The checkpoint a run resumes from, as read before anything is written.
struct ResumePoint {
  std::filesystem::path dir;
  TrainerState state;
  ModelConfig model;  // its model_config.json
};

// --resume-from, resolved (`latest`: the owning run's newest complete checkpoint) and read.
// nullopt without --resume-from. Throws UserError for a missing or damaged checkpoint.
std::optional<ResumePoint> find_resume_point(const TrainConfig& config, const OutputDirState& output);

// Refuses (UserError, with the ways forward) a run that would mix with another run's outputs:
// a new run into a directory holding an earlier run's outputs without --overwrite-output-dir;
// a resume into a directory owned by another run, or from a checkpoint older than checkpoints
// of the same run there; --overwrite-output-dir removing the checkpoint it resumes from. Does
// not look at the lock (see refuse_if_busy).
void check_output_dir(const TrainConfig& config, const OutputDirState& output, const ResumePoint* resume);

// Throws UserError naming the process that holds the directory, if one does.
void refuse_if_busy(const OutputDirState& output);

// A new run id: 16 hex digits from the system's random source.
std::string new_run_id();

// The output directory of a run that passed every check: the first writer.
class RunDirectory {
 public:
  // Creates the directory if missing, takes its lock (saying so when it takes over a lock left
  // by a killed run), checks it again under the lock, repairs what interrupted writes left
  // (io/staged_dir.h), removes an earlier run's outputs with --overwrite-output-dir (listing
  // them), and records `run_id` in run.json.
  RunDirectory(const TrainConfig& config, const ResumePoint* resume, const std::string& run_id);
  // Before started(): removes what this run created (files it wrote, the folders it made while
  // they are empty). Always: releases the lock.
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::filesystem::path& path() const { return dir_; }
  // Writes dir/name atomically (a new file is removed again if the run fails before started()).
  void write_file(const std::string& name, std::string_view bytes);
  // Training begins: from here on, what the run writes stays, whatever happens.
  void started() { started_ = true; }

 private:
  void release();  // what the destructor does; safe to call twice

  std::filesystem::path dir_;
  std::vector<std::filesystem::path> created_folders_;  // by this run, outermost first
  std::vector<std::filesystem::path> created_files_;
  std::unique_ptr<DirectoryLock> lock_;
  bool started_ = false;
};

}  // namespace utt
