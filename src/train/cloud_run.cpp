#include "train/cloud_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "train/cloud_checkpoints.h"
#include "train/stop_signal.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace

CloudSettings cloud_settings(const TrainConfig& c) {
  CloudSettings settings;
  settings.provider = c.cloud_provider.value_or("");
  settings.bucket = c.cloud_bucket.value_or("");
  settings.region = c.cloud_region;
  settings.endpoint = c.cloud_endpoint;
  settings.azure_account_name = c.azure_account_name;
  settings.azure_sas_token = c.azure_sas_token;
  return settings;
}

CloudSettings cloud_settings(const TrainConfig& c, const CloudUrl& url) {
  CloudSettings settings = cloud_settings(c);
  // The flags describe the upload target; they apply to the URL only for the same provider
  // (--cloud-endpoint and --cloud-region also without --cloud-provider).
  if (c.cloud_provider && *c.cloud_provider != url.provider) {
    settings = CloudSettings{};
  }
  settings.provider = url.provider;
  settings.bucket = url.bucket;
  if (url.provider == "azure") settings.azure_account_name = url.account;
  return settings;
}

DownloadedCheckpoint::~DownloadedCheckpoint() {
  std::error_code ignored;
  fs::remove_all(folder_, ignored);
}

std::unique_ptr<DownloadedCheckpoint> download_resume_checkpoint(const TrainConfig& c) {
  if (!c.resume_from) return nullptr;
  const std::optional<CloudUrl> url = parse_cloud_url(*c.resume_from);
  if (!url) return nullptr;
  // The URL's last part names the checkpoint (or `latest`); the rest is the prefix.
  const size_t slash = url->path.rfind('/');
  const std::string wanted = slash == std::string::npos ? url->path : url->path.substr(slash + 1);
  const std::string prefix = slash == std::string::npos ? "" : url->path.substr(0, slash);
  if (wanted.empty()) {
    throw UserError("--resume-from " + *c.resume_from + " names no checkpoint: end it with /latest or /checkpoint_step_N");
  }
  std::unique_ptr<ObjectStore> store = open_cloud_store(cloud_settings(c, *url));
  const std::string name = resolve_remote_checkpoint(*store, prefix, wanted);
  const std::string where = store->describe() + "/" + cloud_key(prefix, name);
  // Beside the output directory: its file system, but none of its checkpoints.
  const fs::path output = fs::absolute(fs::path(c.output_dir)).lexically_normal();
  const fs::path parent = output.has_filename() ? output.parent_path() : output.parent_path().parent_path();
  const std::string base = output.has_filename() ? output.filename().string() : output.parent_path().filename().string();
  const fs::path folder = parent / fmt::format(".{}.cloud-resume-{}", base, ::getpid());
  auto downloaded = std::make_unique<DownloadedCheckpoint>(folder, folder / name, where);
  const auto start = std::chrono::steady_clock::now();
  download_checkpoint(*store, prefix, name, folder / name);
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder / name, error)) bytes += entry.file_size(error);
  fmt::print("Downloaded {} ({}, checksums verified) in {:.1f}s\n", where, megabytes(bytes),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return downloaded;
}

std::optional<CloudTarget> open_cloud_target(const TrainConfig& c) {
  if (!c.cloud_provider) return std::nullopt;
  CloudTarget target{open_cloud_store(cloud_settings(c)), normalize_cloud_prefix(c.cloud_prefix)};
  check_cloud_access(*target.store, target.prefix);
  return target;
}

void check_cloud_prefix(CloudTarget& target, const std::string& run_id, int64_t resume_step) {
  const std::string where = target.store->describe() + (target.prefix.empty() ? "" : "/" + target.prefix);
  std::vector<std::string> later;
  for (const RemoteCheckpoint& checkpoint : list_remote_checkpoints(*target.store, target.prefix)) {
    const std::optional<CheckpointManifest> manifest = read_remote_manifest(*target.store, target.prefix, checkpoint.name);
    if (!manifest) continue;  // removed meanwhile
    if (!manifest->run_id.empty() && !run_id.empty() && manifest->run_id != run_id) {
      throw UserError(fmt::format("{} already holds checkpoints of another run (run {}, e.g. {}): choose another "
                                  "--cloud-prefix, or continue that run with --resume-from {}/latest",
                                  where, manifest->run_id, checkpoint.name, where));
    }
    if (checkpoint.name != "best_checkpoint" && manifest->step > resume_step) {
      later.push_back(fmt::format("{} (step {})", checkpoint.name, manifest->step));
    }
  }
  if (!later.empty()) {
    throw UserError(fmt::format("{} holds later checkpoints of this run than step {} ({}): resume from those "
                                "(--resume-from {}/latest), or choose another --cloud-prefix",
                                where, resume_step, join(later), where));
  }
}

std::unique_ptr<CheckpointUploader> start_uploads(CloudTarget target, int64_t keep_last, const fs::path& output_dir) {
  // A hidden ".NAME.tmp-PID" folder: a later run removes it when this one was killed.
  const fs::path snapshots = output_dir / fmt::format(".cloud_upload.tmp-{}", ::getpid());
  auto uploader = std::make_unique<CheckpointUploader>(std::move(target.store), target.prefix, keep_last, snapshots);
  fmt::print("Cloud: checkpoints are uploaded to {} as they are saved{}\n", uploader->location(),
             keep_last > 0 ? fmt::format(" (the newest {} step checkpoints kept there)", keep_last) : "");
  set_second_interrupt_note(fmt::format(
      "\nutt: upload to {} abandoned (second Ctrl-C): checkpoints not uploaded completely have no manifest there and "
      "are not visible; the local checkpoints are complete\n",
      uploader->location()));
  return uploader;
}

UploadReport finish_uploads(CheckpointUploader& uploader) {
  bool said = false;
  bool said_interrupt = false;
  uploader.wait([&](const std::string& in_flight, size_t queued) {
    if (!said) {
      fmt::print("Cloud: waiting for the upload of {} to {}{} (Ctrl-C {} abandons it)\n",
                 in_flight.empty() ? "the queued checkpoints" : in_flight, uploader.location(),
                 queued > 0 ? fmt::format(", {} more queued", queued) : "", stop_requested() ? "again" : "twice");
      std::fflush(stdout);
      said = true;
      said_interrupt = stop_requested();
    }
    if (stop_requested() && !said_interrupt) {
      fmt::print("Cloud: still uploading {} (Ctrl-C again abandons it)\n",
                 in_flight.empty() ? "the queued checkpoints" : in_flight);
      std::fflush(stdout);
      said_interrupt = true;
    }
  });
  set_second_interrupt_note("");
  const UploadReport report = uploader.report();
  if (!report.uploaded.empty()) {
    fmt::print("Cloud: uploaded {} to {} ({} in {:.1f}s): {}{}\n", count_of(static_cast<int64_t>(report.uploaded.size()), "checkpoint"),
               uploader.location(), megabytes(report.bytes), report.seconds, join(report.uploaded),
               report.pruned.empty() ? "" : "; removed there by --keep-last: " + join(report.pruned));
  }
  for (const std::string& failure : report.failed) {
    fmt::print(stderr, "utt: warning: not uploaded to {}: {}\n", uploader.location(), failure);
  }
  return report;
}

std::vector<std::string> checkpoints_left_in_store(const UploadReport& report) {
  std::vector<std::string> names;
  for (const std::string& name : report.uploaded) {
    const bool pruned = std::find(report.pruned.begin(), report.pruned.end(), name) != report.pruned.end();
    if (!pruned && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  // checkpoint_step_N by N, then the others by name.
  const auto step = [](const std::string& name) -> int64_t {
    const std::string prefix = "checkpoint_step_";
    if (name.rfind(prefix, 0) != 0) return INT64_MAX;
    return std::stoll(name.substr(prefix.size()));
  };
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return std::pair(step(a), a) < std::pair(step(b), b);
  });
  return names;
}

nlohmann::json upload_summary(const std::string& location, const UploadReport& report) {
  return {{"location", location}, {"uploaded", report.uploaded}, {"failed", report.failed},
          {"removed_by_keep_last", report.pruned}, {"bytes", report.bytes}, {"upload_seconds", report.seconds}};
}

}  // namespace utt
