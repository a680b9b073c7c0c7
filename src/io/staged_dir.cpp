#include "io/staged_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;
namespace {

std::string errno_text(int error) {
  if (error == ENOSPC) return "the disk is full";
  if (error == EDQUOT) return "the disk quota is exceeded";
  return std::strerror(error);
}

void write_all(const fs::path& path, const std::vector<std::string_view>& pieces) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw UserError("cannot write " + path.string() + ": " + errno_text(errno));
  for (std::string_view bytes : pieces) {
    size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        ::close(fd);
        throw UserError("cannot write " + path.string() + ": " + errno_text(error));
      }
      written += static_cast<size_t>(n);
    }
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    throw UserError("cannot write " + path.string() + ": " + errno_text(error));
  }
  if (::close(fd) != 0) throw UserError("cannot write " + path.string() + ": " + errno_text(errno));
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some filesystems refuse; the rename is still atomic
  ::fsync(fd);
  ::close(fd);
}

fs::path sibling(const fs::path& path, const std::string& tag) {
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on a chain of string `+`.
  std::string name = ".";
  name.append(path.filename().string()).append(".").append(tag).append("-");
  name.append(std::to_string(::getpid()));
  return path.parent_path() / name;
}

}  // namespace

StagedDirectory::StagedDirectory(fs::path final_path)
    : final_(std::move(final_path)), staging_(sibling(final_, "tmp")) {
  std::error_code error;
  if (!final_.parent_path().empty()) fs::create_directories(final_.parent_path(), error);
  fs::remove_all(staging_, error);
  if (!fs::create_directories(staging_, error) || error) {
    throw UserError("cannot create " + staging_.string() + ": " + error.message() +
                    "; check that the output directory is writable");
  }
}

StagedDirectory::~StagedDirectory() {
  if (committed_) return;
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
}

void StagedDirectory::write_file(const std::string& name, std::string_view bytes) {
  write_all(staging_ / name, {bytes});
}

void StagedDirectory::write_file(const std::string& name, const std::vector<std::string_view>& pieces) {
  write_all(staging_ / name, pieces);
}

void StagedDirectory::copy_file(const fs::path& source, const std::string& name) {
  write_all(staging_ / name, {read_file(source, "file to copy into " + final_.string())});
}

void StagedDirectory::commit() {
  fsync_directory(staging_);
  std::error_code error;
  const fs::path old = sibling(final_, "old");
  const bool replacing = fs::exists(final_, error);
  if (replacing) {
    fs::remove_all(old, error);
    fs::rename(final_, old, error);
    if (error) throw UserError("cannot replace " + final_.string() + ": " + error.message());
  }
  fs::rename(staging_, final_, error);
  if (error) {
    std::error_code ignored;
    if (replacing) fs::rename(old, final_, ignored);  // put the previous one back
    throw UserError("cannot move " + staging_.string() + " into place: " + error.message());
  }
  committed_ = true;
  if (!final_.parent_path().empty()) fsync_directory(final_.parent_path());
  if (replacing) fs::remove_all(old, error);
}

void remove_directory(const fs::path& path) {
  std::error_code error;
  if (!fs::exists(path, error)) return;
  const fs::path doomed = sibling(path, "del");
  fs::remove_all(doomed, error);
  fs::rename(path, doomed, error);
  if (error) throw UserError("cannot remove " + path.string() + ": " + error.message());
  fs::remove_all(doomed, error);
}

RecoveredWrites recover_interrupted_writes(const fs::path& dir) {
  RecoveredWrites result;
  std::error_code error;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(dir, error)) entries.push_back(entry.path());
  for (const fs::path& path : entries) {
    const std::string name = path.filename().string();
    if (name.size() < 2 || name[0] != '.') continue;
    // ".NAME.tmp-PID" or ".NAME.old-PID", as sibling() makes them.
    const size_t dash = name.rfind('-');
    if (dash == std::string::npos || dash < 5 ||
        name.find_first_not_of("0123456789", dash + 1) != std::string::npos || dash + 1 == name.size()) {
      continue;
    }
    const std::string tag = name.substr(dash - 4, 4);
    if (tag != ".tmp" && tag != ".old" && tag != ".del") continue;
    const std::string original = name.substr(1, dash - 5);
    if (original.empty()) continue;
    if (tag == ".old" && !fs::exists(dir / original, error)) {
      fs::rename(path, dir / original, error);
      if (!error) {
        result.restored.push_back(original);
        continue;
      }
    }
    fs::remove_all(path, error);
    result.removed.push_back(name);
  }
  if (!result.removed.empty() || !result.restored.empty()) fsync_directory(dir);
  return result;
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  write_file_atomic(path, std::vector<std::string_view>{bytes});
}

void write_file_atomic(const fs::path& path, const std::vector<std::string_view>& pieces) {
  const fs::path temporary = sibling(path, "tmp");
  try {
    write_all(temporary, pieces);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    fs::remove(temporary, error);
    throw UserError("cannot write " + path.string() + ": " + error.message());
  }
  if (!path.parent_path().empty()) fsync_directory(path.parent_path());
}

std::string read_file(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read " + what + " " + path.string() + ": no such file or unreadable");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UserError("cannot read " + what + " " + path.string() + ": read error");
  return text.str();
}

}  // namespace utt
