// Uploads a run's checkpoints to an object store on a thread of its own, so training does not
// wait for the network. The trainer hands over each complete local checkpoint; its files are
// hard-linked into a snapshot folder at once (a later --keep-last prune, or a new
// best_checkpoint, may remove the checkpoint from the output directory before its upload), and
// the worker uploads the snapshots in order (cloud_checkpoints.h: manifest last), then applies
// --keep-last in the store. A failed upload is reported and the run goes on: the local
// checkpoint is intact.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/object_store.h"

namespace utt {

struct UploadReport {
  std::vector<std::string> uploaded;  // in the order they completed (a name may repeat: best_checkpoint)
  std::vector<std::string> failed;    // "NAME: reason"
  std::vector<std::string> pruned;    // removed from the store by --keep-last
  uint64_t bytes = 0;
  double seconds = 0;                 // the worker's time spent uploading
};

class CheckpointUploader {
 public:
  // `snapshots`: a folder of the output directory's file system for the hard-linked snapshots
  // (created on first use, removed by the destructor). `keep_last` 0: keep every checkpoint.
  CheckpointUploader(std::unique_ptr<ObjectStore> store, std::string prefix, int64_t keep_last,
                     std::filesystem::path snapshots);
  // Finishes the upload in flight and drops the queued ones (wait() first to upload them all).
  ~CheckpointUploader();
  CheckpointUploader(const CheckpointUploader&) = delete;
  CheckpointUploader& operator=(const CheckpointUploader&) = delete;

  // Queues the complete local checkpoint `dir` for upload as `name`. A queued, not yet started
  // upload of the same name is replaced (best_checkpoint saved twice in a row). Throws UserError
  // when the snapshot cannot be made.
  void enqueue(const std::filesystem::path& dir, const std::string& name);

  // Blocks until every queued upload has ended, calling `tick(in_flight_name, queued)` about
  // every 100 ms while it waits.
  void wait(const std::function<void(const std::string&, size_t)>& tick);

  // Uploads queued or in flight.
  size_t pending() const;
  UploadReport report() const;
  // "s3://bucket/prefix": where the checkpoints go.
  std::string location() const;

 private:
  struct Job {
    std::string name;
    std::filesystem::path snapshot;
  };
  void work();

  std::unique_ptr<ObjectStore> store_;
  std::string prefix_;
  int64_t keep_last_;
  std::filesystem::path snapshots_;
  uint64_t next_snapshot_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  std::string in_flight_;
  bool stopping_ = false;
  UploadReport report_;
  std::thread worker_;
};

}  // namespace utt
