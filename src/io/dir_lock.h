// An exclusive lock on a directory, held by one process at a time: `flock` on a lock file in
// the directory that records who holds it (host, PID, start time).
//
// The kernel releases a flock when its holder dies, however it dies, so a lock file left
// behind by a killed process is free: the next run takes it and says whose it was (the file
// still names that holder). A clean release removes the file.
//
// File systems without flock (some FUSE and SMB mounts answer ENOLCK or EOPNOTSUPP): the lock
// falls back to the file's contents. A holder named on this host whose PID is still running,
// or a holder on another host (whose PID cannot be checked from here), keeps the directory;
// a holder on this host whose process is gone is taken over. Two runs started in the same
// instant on such a file system can then both proceed, which a warning says.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace utt {

struct LockHolder {
  std::string host;
  pid_t pid = 0;
  std::string started;  // UTC, ISO 8601
  std::string what;     // what the holder is doing ("utt train")

  std::string to_text() const;  // one JSON line
  // Tolerates damaged text (a holder killed while writing it): nullopt when unreadable.
  static std::optional<LockHolder> from_text(const std::string& text);
  // "PID 1234 on host gpu-7, started 2026-12-01T10:00:00Z"
  std::string describe() const;
};

// This process as a holder: gethostname(), getpid(), now.
LockHolder this_process(const std::string& what);

// What to do with an existing lock file on a file system without flock.
enum class FallbackDecision { kTakeOver, kRefuse };
// `alive(pid)` says whether a process with that PID runs on this host.
FallbackDecision decide_without_flock(const std::optional<LockHolder>& recorded,
                                      const std::string& this_host, bool (*alive)(pid_t));

class DirectoryLock {
 public:
  // Takes the lock file `dir/name` (the directory must exist). Throws UserError naming the
  // holder when another process has it; `refusal_hint` is appended to that message (what the
  // user can do).
  DirectoryLock(const std::filesystem::path& dir, const std::string& name, const LockHolder& me,
                const std::string& refusal_hint);
  ~DirectoryLock();  // removes the lock file, then releases the lock
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

  // The holder recorded in a lock file this lock took over (left by a process that ended
  // without releasing it), if any.
  const std::optional<LockHolder>& taken_over() const { return taken_over_; }
  // False on a file system without flock (the contents-based fallback was used).
  bool flock_supported() const { return flock_supported_; }

 private:
  void hold(int fd, const LockHolder& me);  // records `me` in the locked file

  std::filesystem::path path_;
  int fd_ = -1;
  bool flock_supported_ = true;
  std::optional<LockHolder> taken_over_;
};

// The holder of `dir/name` when another process holds it now; nullopt when the directory or
// the lock file does not exist or nobody holds it. Writes nothing (for checks before a run
// writes anything, and for the dry run).
std::optional<LockHolder> current_lock_holder(const std::filesystem::path& dir, const std::string& name);

}  // namespace utt
