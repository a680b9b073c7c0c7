#include "io/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

// A process that only looks (current_lock_holder) holds a shared lock for an instant; a run
// that meets it retries this many times, this far apart, before calling the directory taken.
constexpr int kBusyRetries = 5;
constexpr auto kBusyRetryDelay = std::chrono::milliseconds(20);

// Errors with which a file system says it has no flock (rather than that the lock is taken).
bool flock_unsupported(int error) {
  return error == ENOLCK || error == EOPNOTSUPP || error == ENOSYS || error == EINVAL;
}

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  off_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
    offset += n;
    if (text.size() > 65536) break;  // a lock record is one short line
  }
  return text;
}

void write_record(int fd, const std::string& text, const fs::path& path) {
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    throw UserError("cannot write the lock file " + path.string() + ": " + std::strerror(errno) +
                    "; check that the output directory is writable");
  }
  ::fsync(fd);
}

bool process_alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

std::string holder_text(const std::string& record) {
  return LockHolder::from_text(record).value_or(LockHolder{}).describe();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

std::string LockHolder::to_text() const {
  return nlohmann::json{{"host", host}, {"pid", pid}, {"started", started}, {"what", what}}.dump() + "\n";
}

std::optional<LockHolder> LockHolder::from_text(const std::string& text) {
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    LockHolder holder;
    holder.host = json.at("host").get<std::string>();
    holder.pid = json.at("pid").get<pid_t>();
    holder.started = json.at("started").get<std::string>();
    holder.what = json.value("what", "");
    return holder;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string LockHolder::describe() const {
  if (host.empty()) return "another process (its lock record is unreadable)";
  return (what.empty() ? std::string("a process") : what) + " (PID " + std::to_string(pid) + " on host " + host +
         ", started " + started + ")";
}

LockHolder this_process(const std::string& what) {
  LockHolder me;
  me.host = host_name();
  me.pid = ::getpid();
  me.started = utc_now();
  me.what = what;
  return me;
}

FallbackDecision decide_without_flock(const std::optional<LockHolder>& recorded,
                                      const std::string& this_host, bool (*alive)(pid_t)) {
  if (!recorded) return FallbackDecision::kTakeOver;  // no record, or a damaged one
  if (recorded->host != this_host) return FallbackDecision::kRefuse;  // cannot tell from here
  return alive(recorded->pid) ? FallbackDecision::kRefuse : FallbackDecision::kTakeOver;
}

DirectoryLock::DirectoryLock(const fs::path& dir, const std::string& name, const LockHolder& me,
                             const std::string& refusal_hint)
    : path_(dir / name) {
  for (int attempt = 0;; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw UserError("cannot create the lock file " + path_.string() + ": " + std::strerror(errno) +
                      "; check that the output directory is writable");
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error == EWOULDBLOCK || error == EINTR) {
        const std::string record = read_all(fd);
        ::close(fd);
        if (attempt < kBusyRetries) {
          std::this_thread::sleep_for(kBusyRetryDelay);
          continue;
        }
        throw UserError(dir.string() + " is in use by " + holder_text(record) + refusal_hint);
      }
      if (!flock_unsupported(error)) {
        ::close(fd);
        throw UserError("cannot lock " + path_.string() + ": " + std::strerror(error));
      }
      // No flock here: the record decides (see the header).
      flock_supported_ = false;
      const std::string record = read_all(fd);
      const std::optional<LockHolder> recorded = LockHolder::from_text(record);
      if (decide_without_flock(recorded, me.host, process_alive) == FallbackDecision::kRefuse) {
        ::close(fd);
        throw UserError(dir.string() + " is in use by " + recorded->describe() + refusal_hint +
                        " (this file system has no flock: if that run has ended, remove " + path_.string() + ")");
      }
      if (!record.empty()) taken_over_ = recorded ? *recorded : LockHolder{};
      hold(fd, me);
      return;
    }
    // The file may have been removed (its holder released it) between our open and our lock:
    // then the lock is on an orphan, and the next attempt opens the file that is there now.
    struct stat held {}, named {};
    if (::fstat(fd, &held) != 0 || ::stat(path_.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
        held.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string record = read_all(fd);
    if (!record.empty()) {
      const std::optional<LockHolder> previous = LockHolder::from_text(record);
      taken_over_ = previous ? *previous : LockHolder{};
    }
    hold(fd, me);
    return;
  }
}

void DirectoryLock::hold(int fd, const LockHolder& me) {
  try {
    write_record(fd, me.to_text(), path_);
  } catch (...) {
    ::close(fd);  // releases the lock; the constructor fails, so no destructor will
    throw;
  }
  fd_ = fd;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ < 0) return;
  // Removed while still held: a process that opened the file before the removal finds, once it
  // holds the lock, that the file it holds is no longer the one named, and tries again.
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::optional<LockHolder> current_lock_holder(const fs::path& dir, const std::string& name) {
  const fs::path path = dir / name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<LockHolder> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
  } else if (errno == EWOULDBLOCK) {
    holder = LockHolder::from_text(read_all(fd));
    if (!holder) holder = LockHolder{};  // held, by a process whose record is not written yet
  } else if (flock_unsupported(errno)) {
    const std::optional<LockHolder> recorded = LockHolder::from_text(read_all(fd));
    if (decide_without_flock(recorded, this_process("").host, process_alive) == FallbackDecision::kRefuse) {
      holder = recorded;
    }
  }
  ::close(fd);
  return holder;
}

}  // namespace utt
