// What a run does with the cloud flags: the checkpoint a --resume-from URL names, downloaded
// before anything is written; the store checked (credentials, bucket, write access, whose
// checkpoints its prefix holds) before step 1; the uploads started, and at the end waited for
// and reported.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/train_config.h"
#include "io/cloud_store.h"
#include "train/checkpoint_uploader.h"

namespace utt {

// The store settings of the cloud flags (--cloud-provider and the rest). For a --resume-from
// URL, the URL's provider and bucket (and Azure account) with the other flags.
CloudSettings cloud_settings(const TrainConfig& config);
CloudSettings cloud_settings(const TrainConfig& config, const CloudUrl& url);

// A checkpoint downloaded for --resume-from URL, in a hidden folder beside the output
// directory (its file system, outside its rules), removed again when this goes out of scope.
class DownloadedCheckpoint {
 public:
  DownloadedCheckpoint(std::filesystem::path folder, std::filesystem::path checkpoint, std::string url)
      : folder_(std::move(folder)), checkpoint_(std::move(checkpoint)), url_(std::move(url)) {}
  ~DownloadedCheckpoint();
  DownloadedCheckpoint(const DownloadedCheckpoint&) = delete;
  DownloadedCheckpoint& operator=(const DownloadedCheckpoint&) = delete;
  const std::filesystem::path& path() const { return checkpoint_; }
  const std::string& url() const { return url_; }  // s3://bucket/prefix/checkpoint_step_N

 private:
  std::filesystem::path folder_;
  std::filesystem::path checkpoint_;
  std::string url_;
};

// With --resume-from s3://, gs:// or az://: downloads the checkpoint it names (`latest` or a
// checkpoint's name as the URL's last part) and says so. nullptr for a local --resume-from.
std::unique_ptr<DownloadedCheckpoint> download_resume_checkpoint(const TrainConfig& config);

// With --cloud-provider: opens the store and checks that it can be listed and written under
// --cloud-prefix (one message for wrong credentials or a missing bucket). nullptr without.
struct CloudTarget {
  std::unique_ptr<ObjectStore> store;
  std::string prefix;
};
std::optional<CloudTarget> open_cloud_target(const TrainConfig& config);

// Refuses a prefix that holds complete checkpoints of another run, or later checkpoints of this
// run than the step it resumes from (they would stand beside the new ones, and `latest` would
// name them).
void check_cloud_prefix(CloudTarget& target, const std::string& run_id, int64_t resume_step);

// The uploader of a run (snapshots in a hidden folder of `output_dir`).
std::unique_ptr<CheckpointUploader> start_uploads(CloudTarget target, int64_t keep_last,
                                                  const std::filesystem::path& output_dir);

// Waits for the queued uploads, saying what it waits for (and, after a Ctrl-C, that another
// abandons them), then prints what was uploaded. Returns the report for training_summary.json.
UploadReport finish_uploads(CheckpointUploader& uploader);

// The checkpoints this run uploaded that are still in the store (not removed by --keep-last):
// step checkpoints by step, then best_checkpoint and final_checkpoint.
std::vector<std::string> checkpoints_left_in_store(const UploadReport& report);

// training_summary.json's "cloud" entry: where, what was uploaded, what failed (no secrets).
nlohmann::json upload_summary(const std::string& location, const UploadReport& report);

}  // namespace utt
