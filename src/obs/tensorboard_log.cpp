#include "obs/tensorboard_log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

constexpr const char* kEventFilePrefix = "events.out.tfevents.";

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// The SECONDS of events.out.tfevents.SECONDS.*; -1 for other names.
int64_t name_seconds(const std::string& name) {
  if (name.rfind(kEventFilePrefix, 0) != 0) return -1;
  const std::string rest = name.substr(std::char_traits<char>::length(kEventFilePrefix));
  const size_t dot = rest.find('.');
  const std::string digits = rest.substr(0, dot);
  if (digits.empty() || digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

}  // namespace

std::vector<fs::path> list_event_files(const fs::path& runs_dir) {
  std::vector<fs::path> files;
  std::error_code error;
  if (!fs::is_directory(runs_dir, error)) return files;
  for (const fs::directory_entry& entry : fs::directory_iterator(runs_dir, error)) {
    if (entry.is_regular_file(error) && entry.path().filename().string().find("tfevents") != std::string::npos) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TensorBoardLog::TensorBoardLog(const fs::path& runs_dir, int64_t first_step) {
  std::error_code error;
  fs::create_directories(runs_dir, error);
  if (error) {
    throw UserError("cannot create " + runs_dir.string() + " for TensorBoard event files: " + error.message() +
                    "; check the output directory's permissions, or turn them off with --no-tensorboard");
  }
  // Later than every file there, so TensorBoard reads this one after them (same-second restarts).
  auto seconds = static_cast<int64_t>(wall_time_now());
  for (const fs::path& file : list_event_files(runs_dir)) {
    seconds = std::max(seconds, name_seconds(file.filename().string()) + 1);
  }
  path_ = runs_dir / fmt::format("{}{:010d}.{}.{}.0", kEventFilePrefix, seconds, host_name(), ::getpid());
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) {
    throw UserError("cannot create " + path_.string() +
                    ": check that the output directory is writable, or turn TensorBoard files off with "
                    "--no-tensorboard");
  }
  write_event(encode_file_version_event(wall_time_now()));
  write_event(encode_session_start_event(wall_time_now(), first_step));
}

TensorBoardLog::~TensorBoardLog() {
  if (file_) std::fclose(file_);
}

void TensorBoardLog::write_scalars(int64_t step, const std::vector<TensorBoardScalar>& scalars) {
  write_event(encode_scalars_event(wall_time_now(), step, scalars));
}

void TensorBoardLog::write_event(const std::string& event) {
  const std::string record = frame_record(event);
  std::fwrite(record.data(), 1, record.size(), file_);
  std::fflush(file_);
}

int64_t drop_events_after(const fs::path& runs_dir, int64_t step) {
  int64_t dropped = 0;
  for (const fs::path& file : list_event_files(runs_dir)) {
    const std::string bytes = read_file(file, "TensorBoard event file");
    const FramedRecords framed = read_framed_records(bytes);
    uint64_t keep = framed.intact_bytes;
    size_t kept_events = 0;  // besides the file-version record
    for (size_t i = 0; i < framed.records.size(); ++i) {
      const std::optional<EventHeader> header = decode_event_header(framed.records[i].data);
      const bool version_only = header && header->has_file_version && !header->has_summary;
      if (!header || (!version_only && header->step > step)) {
        keep = framed.records[i].offset;
        dropped += static_cast<int64_t>(framed.records.size() - i);
        break;
      }
      if (!version_only) ++kept_events;
    }
    std::error_code error;
    if (kept_events == 0) {
      fs::remove(file, error);
    } else if (keep < bytes.size()) {
      fs::resize_file(file, keep, error);
    }
    if (error) {
      throw UserError("cannot cut " + file.string() + " back to step " + std::to_string(step) + ": " +
                      error.message() + "; check the output directory's permissions");
    }
  }
  return dropped;
}

}  // namespace utt
