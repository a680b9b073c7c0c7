// TensorBoard event files of a run, in OUTPUT_DIR/runs/ (`tensorboard --logdir OUTPUT_DIR`
// shows the run as "runs"). Each process writes one new file; every batch of scalars is one
// whole record, flushed at once, so a running TensorBoard shows the run live and a crash
// leaves at most a record cut short at the end (which TensorBoard reads as "not written yet").
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "obs/tensorboard_events.h"

namespace utt {

inline constexpr const char* kTensorBoardDirName = "runs";

class TensorBoardLog {
 public:
  // Creates `runs_dir` if needed and a new event file in it, named as TensorBoard's own writer
  // names them (events.out.tfevents.SECONDS.HOST.PID.0) with SECONDS later than every file
  // already there: TensorBoard reads a run's files in name order and never goes back. Writes
  // the file-version event and a SessionLog START at `first_step` (the run's next step).
  // Throws UserError when the file cannot be created.
  TensorBoardLog(const std::filesystem::path& runs_dir, int64_t first_step);
  ~TensorBoardLog();
  TensorBoardLog(const TensorBoardLog&) = delete;
  TensorBoardLog& operator=(const TensorBoardLog&) = delete;

  // One event holding every scalar of `step`, flushed. A failed write does not stop training
  // (like metrics.jsonl); the checkpoints' writes report a full disk.
  void write_scalars(int64_t step, const std::vector<TensorBoardScalar>& scalars);

  const std::filesystem::path& path() const { return path_; }

 private:
  void write_event(const std::string& event);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// The event files of `runs_dir` (names containing "tfevents", TensorBoard's own test), in
// name order.
std::vector<std::filesystem::path> list_event_files(const std::filesystem::path& runs_dir);

// A run resumed from the checkpoint of step `step` logs the steps after it again, so, as for
// metrics.jsonl, what earlier processes logged past `step` goes: each event file is cut
// before its first record with a step above `step` (and before a damaged or cut-short
// record), and a file left with nothing but its file-version record is removed. Steps only
// grow within and across the files, so this drops a tail and never rewrites earlier bytes.
// Returns the events dropped (the file-version records of removed files not counted).
int64_t drop_events_after(const std::filesystem::path& runs_dir, int64_t step);

}  // namespace utt
