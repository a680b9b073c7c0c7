#include "train/output_dir.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

// Files and folders of a run's results: a new run must not mix its own with them.
constexpr const char* kResultFiles[] = {"metrics.jsonl", "training_summary.json", "training_curves.svg", "runs"};

std::string read_run_record(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_regular_file(dir / kRunRecordName, error)) return "";
  try {
    const nlohmann::json json = nlohmann::json::parse(read_file(dir / kRunRecordName, "run record"));
    return json.value("run_id", "");
  } catch (const std::exception&) {
    return "";  // damaged: the checkpoints' own ids decide
  }
}

// "a, b, c and 4 more"
std::string list_names(const std::vector<std::string>& names) {
  constexpr size_t kShown = 4;
  std::string text;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > kShown) text += fmt::format(" and {} more", names.size() - kShown);
  return text;
}

bool is_inside(const fs::path& path, const fs::path& dir) {
  std::error_code error;
  const fs::path a = fs::weakly_canonical(path, error);
  const fs::path b = fs::weakly_canonical(dir, error);
  const auto mismatch = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return mismatch.first == b.end();
}

std::string run_label(const std::string& run_id) {
  return run_id.empty() ? std::string("a run from before run ids") : "run " + run_id;
}

// Creates `dir` and its missing parents one by one, returning those this call created
// (outermost first): a folder another process created at the same moment is not ours.
std::vector<fs::path> create_folders(const fs::path& dir) {
  std::error_code error;
  std::vector<fs::path> missing;
  for (fs::path p = fs::absolute(dir, error); !p.empty() && !fs::exists(p, error); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::vector<fs::path> created;
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (fs::create_directory(*it, error)) created.push_back(*it);
    if (error) {
      throw UserError("cannot create the output directory " + dir.string() + ": " + error.message() +
                      "; check the path and its permissions, or choose another --output-dir");
    }
  }
  return created;
}

}  // namespace

OutputDirState inspect_output_dir(const fs::path& dir, bool look_at_lock) {
  OutputDirState state;
  state.dir = dir;
  std::error_code error;
  state.exists = fs::exists(dir, error);
  if (!state.exists) return state;
  if (!fs::is_directory(dir, error)) {
    throw UserError("--output-dir " + dir.string() + " is a file, not a directory: choose another --output-dir");
  }
  if (look_at_lock) state.busy = current_lock_holder(dir, kLockFileName);
  state.checkpoints = list_checkpoints(dir, read_checkpoint_info);
  for (const CheckpointEntry& entry : state.checkpoints) state.earlier_outputs.push_back(entry.name);
  for (const char* name : kResultFiles) {
    if (fs::exists(dir / name, error)) state.earlier_outputs.emplace_back(name);
  }
  state.owner_run_id = read_run_record(dir);
  if (state.owner_run_id.empty()) {
    // A directory from before run.json: its checkpoints name the run, when they agree.
    std::set<std::string> ids;
    for (const CheckpointEntry& entry : state.checkpoints) {
      if (entry.info.step >= 0 && !entry.info.run_id.empty()) ids.insert(entry.info.run_id);
    }
    if (ids.size() == 1) state.owner_run_id = *ids.begin();
  }
  return state;
}

std::optional<ResumePoint> find_resume_point(const TrainConfig& c, const OutputDirState& output) {
  if (!c.resume_from) return std::nullopt;
  ResumePoint point;
  point.dir = resolve_resume_path(*c.resume_from, output.dir, output.owner_run_id, read_checkpoint_info);
  if (const std::optional<std::string> missing = missing_checkpoint_file(point.dir)) {
    throw UserError("cannot resume from " + point.dir.string() + ": it lacks " + *missing +
                    " (not a checkpoint directory, or an incomplete copy of one)");
  }
  point.state = read_trainer_state(point.dir);
  point.model = read_checkpoint_model_config(point.dir);
  return point;
}

void refuse_if_busy(const OutputDirState& output) {
  if (!output.busy) return;
  throw UserError(output.dir.string() + " is in use by " + output.busy->describe() +
                  ": wait for that run to end (or stop it), or choose another --output-dir");
}

void check_output_dir(const TrainConfig& c, const OutputDirState& output, const ResumePoint* resume) {
  const std::string dir = output.dir.string();
  if (resume && c.overwrite_output_dir && is_inside(resume->dir, output.dir)) {
    throw UserError("--overwrite-output-dir would remove " + resume->dir.string() +
                    ", the checkpoint --resume-from names: drop --overwrite-output-dir to continue "
                    "that run, or resume into another --output-dir");
  }
  if (c.overwrite_output_dir) return;
  if (!resume) {
    if (output.earlier_outputs.empty()) return;
    bool resumable = false;
    for (const CheckpointEntry& entry : output.checkpoints) {
      resumable |= entry.info.step >= 0 && entry.name != "best_checkpoint";
    }
    throw UserError(dir + " already holds the outputs of an earlier run (" + list_names(output.earlier_outputs) +
                    (resumable ? "): continue that run with --resume-from latest, or start over with "
                                 "--overwrite-output-dir (removes them first), or choose another --output-dir"
                               : "; no checkpoint to resume from): start over with --overwrite-output-dir "
                                 "(removes them first), or choose another --output-dir"));
  }
  if (!output.earlier_outputs.empty() && !same_run(output.owner_run_id, resume->state.run_id)) {
    throw UserError(dir + " holds the outputs of " + run_label(output.owner_run_id) + ", but " +
                    resume->dir.string() + " is a checkpoint of " + run_label(resume->state.run_id) +
                    ": resume into another --output-dir, or replace that run's outputs with "
                    "--overwrite-output-dir");
  }
  // Resuming before checkpoints that the same run already wrote here would leave them beside
  // the new ones, and `latest` would name them.
  std::vector<std::string> later;
  for (const CheckpointEntry& entry : output.checkpoints) {
    if (entry.name == "best_checkpoint" || entry.info.step <= resume->state.step) continue;
    if (!same_run(entry.info.run_id, resume->state.run_id)) continue;
    later.push_back(fmt::format("{} (step {})", entry.name, entry.info.step));
  }
  if (!later.empty()) {
    throw UserError(fmt::format("--resume-from {} is at step {}, but {} holds later checkpoints of the same run "
                                "({}): resume from those (--resume-from latest), or resume into another "
                                "--output-dir",
                                resume->dir.string(), resume->state.step, dir, list_names(later)));
  }
}

std::string new_run_id() {
  std::random_device random;
  const uint64_t high = random();
  const uint64_t low = random();
  return fmt::format("{:016x}", (high << 32) ^ low);
}

RunDirectory::RunDirectory(const TrainConfig& c, const ResumePoint* resume, const std::string& run_id)
    : dir_(c.output_dir) {
  created_folders_ = create_folders(dir_);
  std::error_code error;
  try {
    lock_ = std::make_unique<DirectoryLock>(dir_, kLockFileName, this_process("utt train"),
                                            ": wait for that run to end (or stop it), or choose another --output-dir");
    if (lock_->taken_over()) {
      fmt::print("Output directory: took over {}/{}, left by {} that ended without releasing it\n",
                 dir_.string(), kLockFileName, lock_->taken_over()->describe());
    }
    if (!lock_->flock_supported()) {
      fmt::print(stderr, "utt: warning: the file system of {} has no flock: {} keeps out runs on this host "
                 "while it names a live process, but two runs started at the same instant could both "
                 "write here\n", dir_.string(), kLockFileName);
    }
    // Under the lock, the directory is ours: check it again (another run may have written it
    // since the first look) and repair what a killed run's writes left.
    check_output_dir(c, inspect_output_dir(dir_, false), resume);
    const RecoveredWrites recovered = recover_interrupted_writes(dir_);
    if (!recovered.removed.empty() || !recovered.restored.empty()) {
      fmt::print("Output directory: cleaned up after an interrupted run ({} unfinished write{} removed{})\n",
                 recovered.removed.size(), recovered.removed.size() == 1 ? "" : "s",
                 recovered.restored.empty() ? "" : ", " + list_names(recovered.restored) + " put back");
    }
    if (c.overwrite_output_dir) {
      const OutputDirState earlier = inspect_output_dir(dir_, false);
      std::vector<std::string> removed = earlier.earlier_outputs;
      for (const char* name : {"model_config.json", kRunRecordName}) {
        if (fs::exists(dir_ / name, error)) removed.emplace_back(name);
      }
      for (const std::string& name : removed) {
        if (fs::is_directory(dir_ / name, error)) {
          remove_directory(dir_ / name);
        } else {
          fs::remove(dir_ / name, error);
        }
      }
      if (!earlier.earlier_outputs.empty()) {
        fmt::print("--overwrite-output-dir: removed the earlier run's outputs from {}: {}\n", dir_.string(),
                   list_names(earlier.earlier_outputs));
      }
    }
    if (read_run_record(dir_) != run_id) {
      const nlohmann::json record = {{"format", "utt-run"}, {"run_id", run_id}};
      write_file(kRunRecordName, record.dump(2) + "\n");
    }
  } catch (...) {
    release();
    throw;
  }
}

RunDirectory::~RunDirectory() { release(); }

void RunDirectory::release() {
  if (!started_) {
    std::error_code ignored;
    for (const fs::path& file : created_files_) fs::remove(file, ignored);
    created_files_.clear();
  }
  lock_.reset();  // removes the lock file
  if (!started_) {
    // Innermost first, and only while empty: a folder is never taken from under another run.
    std::error_code ignored;
    for (auto it = created_folders_.rbegin(); it != created_folders_.rend(); ++it) fs::remove(*it, ignored);
    created_folders_.clear();
  }
}

void RunDirectory::write_file(const std::string& name, std::string_view bytes) {
  const fs::path path = dir_ / name;
  std::error_code error;
  const bool existed = fs::exists(path, error);
  write_file_atomic(path, bytes);
  if (!existed) created_files_.push_back(path);
}

}  // namespace utt
