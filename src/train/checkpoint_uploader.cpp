#include "train/checkpoint_uploader.h"

#include <fmt/format.h>

#include <chrono>

#include "train/cloud_checkpoints.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

CheckpointUploader::CheckpointUploader(std::unique_ptr<ObjectStore> store, std::string prefix, int64_t keep_last,
                                       fs::path snapshots)
    : store_(std::move(store)), prefix_(std::move(prefix)), keep_last_(keep_last), snapshots_(std::move(snapshots)) {
  worker_ = std::thread([this] { work(); });
}

CheckpointUploader::~CheckpointUploader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
  std::error_code ignored;
  fs::remove_all(snapshots_, ignored);
}

void CheckpointUploader::enqueue(const fs::path& dir, const std::string& name) {
  // The files of a checkpoint are never rewritten in place (a new save is a new folder renamed
  // over the old one), so links keep exactly these bytes.
  const fs::path snapshot = snapshots_ / fmt::format("{}.{}", name, next_snapshot_++);
  std::error_code error;
  fs::create_directories(snapshot, error);
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file()) continue;
    const fs::path link = snapshot / it->path().filename();
    fs::create_hard_link(it->path(), link, error);
    if (error) {  // a file system without hard links: a copy
      error.clear();
      fs::copy_file(it->path(), link, error);
    }
  }
  if (error) {
    fs::remove_all(snapshot, error);
    throw UserError("cannot prepare " + dir.string() + " for its upload to " + location() + ": " + error.message());
  }
  std::vector<fs::path> replaced;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->name == name) {
        replaced.push_back(it->snapshot);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    queue_.push_back({name, snapshot});
  }
  changed_.notify_all();
  for (const fs::path& old : replaced) fs::remove_all(old, error);
}

void CheckpointUploader::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      in_flight_ = job.name;
    }
    const auto start = std::chrono::steady_clock::now();
    uint64_t bytes = 0;
    std::vector<std::string> pruned;
    std::string failure;
    try {
      bytes = upload_checkpoint(*store_, prefix_, job.snapshot, job.name);
      pruned = prune_remote_checkpoints(*store_, prefix_, keep_last_);
    } catch (const std::exception& error) {
      failure = error.what();
      fmt::print(stderr, "utt: warning: {} was not uploaded to {}: {} (training goes on; the local checkpoint is intact)\n",
                 job.name, location(), failure);
    }
    std::error_code ignored;
    fs::remove_all(job.snapshot, ignored);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      report_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (failure.empty()) {
        report_.uploaded.push_back(job.name);
        report_.bytes += bytes;
        report_.pruned.insert(report_.pruned.end(), pruned.begin(), pruned.end());
      } else {
        report_.failed.push_back(job.name + ": " + failure);
      }
      in_flight_.clear();
    }
    changed_.notify_all();
  }
}

void CheckpointUploader::wait(const std::function<void(const std::string&, size_t)>& tick) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!queue_.empty() || !in_flight_.empty()) {
    const std::string in_flight = in_flight_;
    const size_t queued = queue_.size();
    lock.unlock();
    tick(in_flight, queued);
    lock.lock();
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

size_t CheckpointUploader::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size() + (in_flight_.empty() ? 0 : 1);
}

UploadReport CheckpointUploader::report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return report_;
}

std::string CheckpointUploader::location() const {
  return store_->describe() + (prefix_.empty() ? "" : "/" + prefix_);
}

}  // namespace utt
