// Checkpoints in an object store: the manifest written last, --keep-last there, `latest`,
// downloads checked against the manifest, and the background uploader. Over a LocalStore (a
// folder), whose files show exactly what was stored; the servers' tests are in
// tests/e2e/cloud_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/local_store.h"
#include "train/checkpoint.h"
#include "train/checkpoint_uploader.h"
#include "train/cloud_checkpoints.h"
#include "util/error.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("utt_cloud_ckpt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A checkpoint folder as the trainer writes one (the weights are stand-in bytes: the cloud layer
// moves files, it does not read weights).
fs::path make_checkpoint(const fs::path& dir, int64_t step, const std::string& run_id = "run-a") {
  fs::create_directories(dir);
  TrainerState state;
  state.run_id = run_id;
  state.step = step;
  state.total_steps = 100;
  std::ofstream(dir / "trainer_state.json") << state.to_json().dump(2);
  std::string weights(5000 + static_cast<size_t>(step), '\0');
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>((i * 31 + static_cast<size_t>(step)) % 251);
  std::ofstream(dir / "model.safetensors", std::ios::binary) << weights;
  std::ofstream(dir / "model_config.json") << "{\"d_model\": 64}";
  return dir;
}

TEST(CloudCheckpoints, AnUploadListsEveryFileWithSizeAndChecksumInAManifestWrittenLast) {
  const fs::path dir = scratch("manifest");
  LocalStore store(dir / "bucket");
  const fs::path checkpoint = make_checkpoint(dir / "checkpoint_step_10", 10);
  const uint64_t bytes = upload_checkpoint(store, "runs/a", checkpoint, "checkpoint_step_10");
  EXPECT_EQ(bytes, fs::file_size(checkpoint / "model.safetensors") + fs::file_size(checkpoint / "trainer_state.json") +
                       fs::file_size(checkpoint / "model_config.json"));
  const CheckpointManifest manifest = CheckpointManifest::from_json(
      read_all(dir / "bucket/runs/a/checkpoint_step_10" / kCloudManifestName), "manifest");
  EXPECT_EQ(manifest.checkpoint, "checkpoint_step_10");
  EXPECT_EQ(manifest.step, 10);
  EXPECT_EQ(manifest.run_id, "run-a");
  ASSERT_EQ(manifest.files.size(), 3u);
  for (const ManifestFile& file : manifest.files) {
    EXPECT_EQ(read_all(dir / "bucket/runs/a/checkpoint_step_10" / file.name), read_all(checkpoint / file.name));
    EXPECT_EQ(file.size, fs::file_size(checkpoint / file.name));
    EXPECT_EQ(file.sha256, file_sha256(checkpoint / file.name));
  }
  // The SHA-256 of "abc" (FIPS 180-2's example).
  std::ofstream(dir / "abc") << "abc";
  EXPECT_EQ(file_sha256(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  fs::remove_all(dir);
}

TEST(CloudCheckpoints, ACheckpointWithoutItsManifestIsNotThere) {
  const fs::path dir = scratch("invisible");
  LocalStore store(dir / "bucket");
  upload_checkpoint(store, "p", make_checkpoint(dir / "c10", 10), "checkpoint_step_10");
  // An upload cut short after its files: no manifest.
  store.put_file("p/checkpoint_step_20/model.safetensors", make_checkpoint(dir / "c20", 20) / "model.safetensors");
  const std::vector<RemoteCheckpoint> there = list_remote_checkpoints(store, "p");
  ASSERT_EQ(there.size(), 1u);
  EXPECT_EQ(there[0].name, "checkpoint_step_10");
  EXPECT_EQ(resolve_remote_checkpoint(store, "p", "latest"), "checkpoint_step_10");
  EXPECT_FALSE(read_remote_manifest(store, "p", "checkpoint_step_20"));
  try {
    resolve_remote_checkpoint(store, "p", "checkpoint_step_20");
    FAIL() << "an incomplete checkpoint was resolved";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("no complete checkpoint checkpoint_step_20 in " + store.describe() +
                                             "/p/ (it holds checkpoint_step_10)"),
              std::string::npos) << error.what();
  }
  fs::remove_all(dir);
}

TEST(CloudCheckpoints, LatestIsTheHighestStepAmongStepCheckpointsAndTheFinalOneNeverTheBest) {
  const fs::path dir = scratch("latest");
  LocalStore store(dir / "bucket");
  upload_checkpoint(store, "", make_checkpoint(dir / "c4", 4), "checkpoint_step_4");
  upload_checkpoint(store, "", make_checkpoint(dir / "c8", 8), "checkpoint_step_8");
  upload_checkpoint(store, "", make_checkpoint(dir / "best", 12), "best_checkpoint");
  EXPECT_EQ(resolve_remote_checkpoint(store, "", "latest"), "checkpoint_step_8");
  upload_checkpoint(store, "", make_checkpoint(dir / "final", 10), "final_checkpoint");
  EXPECT_EQ(resolve_remote_checkpoint(store, "", "latest"), "final_checkpoint");
  EXPECT_EQ(resolve_remote_checkpoint(store, "", "checkpoint_step_4"), "checkpoint_step_4");
  LocalStore empty(dir / "empty");
  EXPECT_THROW(resolve_remote_checkpoint(empty, "p", "latest"), UserError);
  fs::remove_all(dir);
}

TEST(CloudCheckpoints, KeepLastRemovesTheOldestStepCheckpointsAndTheRemainsOfAbandonedOnes) {
  const fs::path dir = scratch("keep_last");
  LocalStore store(dir / "bucket");
  for (int64_t step : {2, 4, 6, 8}) {
    upload_checkpoint(store, "p", make_checkpoint(dir / std::to_string(step), step), "checkpoint_step_" + std::to_string(step));
  }
  upload_checkpoint(store, "p", make_checkpoint(dir / "best", 2), "best_checkpoint");
  store.put("p/checkpoint_step_1/model.safetensors", "cut short");  // older, never completed
  store.put("p/notes.txt", "not a checkpoint's");
  EXPECT_EQ(prune_remote_checkpoints(store, "p", 2), (std::vector<std::string>{"checkpoint_step_2", "checkpoint_step_4"}));
  std::vector<std::string> names;
  for (const RemoteCheckpoint& checkpoint : list_remote_checkpoints(store, "p")) names.push_back(checkpoint.name);
  EXPECT_EQ(names, (std::vector<std::string>{"checkpoint_step_6", "checkpoint_step_8", "best_checkpoint"}));
  EXPECT_FALSE(fs::exists(dir / "bucket/p/checkpoint_step_1/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "bucket/p/checkpoint_step_2/model.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "bucket/p/notes.txt"));
  EXPECT_TRUE(prune_remote_checkpoints(store, "p", 0).empty());  // 0: keep all
  fs::remove_all(dir);
}

TEST(CloudCheckpoints, ADownloadIsCheckedAgainstTheManifest) {
  const fs::path dir = scratch("download");
  LocalStore store(dir / "bucket");
  const fs::path checkpoint = make_checkpoint(dir / "c6", 6);
  upload_checkpoint(store, "p", checkpoint, "checkpoint_step_6");
  download_checkpoint(store, "p", "checkpoint_step_6", dir / "down");
  for (const char* file : {"model.safetensors", "trainer_state.json", "model_config.json"}) {
    EXPECT_EQ(read_all(dir / "down" / file), read_all(checkpoint / file)) << file;
  }
  // The stored copy damaged (same size, one byte changed): refused, naming the file.
  std::string damaged = read_all(dir / "bucket/p/checkpoint_step_6/model.safetensors");
  damaged[100] ^= 1;
  std::ofstream(dir / "bucket/p/checkpoint_step_6/model.safetensors", std::ios::binary) << damaged;
  try {
    download_checkpoint(store, "p", "checkpoint_step_6", dir / "again");
    FAIL() << "a damaged download was accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("checkpoint_step_6/model.safetensors does not match its manifest"),
              std::string::npos) << error.what();
  }
  fs::remove_all(dir);
}

TEST(CloudCheckpoints, AManifestCannotNameAFileOutsideItsCheckpoint) {
  const std::string manifest =
      R"({"format": "utt-checkpoint-manifest", "version": 1, "checkpoint": "c", "step": 1, "run_id": "r",
          "files": [{"name": "../../etc/x", "size": 1, "sha256": "00"}]})";
  EXPECT_THROW(CheckpointManifest::from_json(manifest, "m"), UserError);
  EXPECT_THROW(CheckpointManifest::from_json("{\"format\": \"utt-checkpoint-manifest\"", "m"), UserError);
}

TEST(CheckpointUploader, UploadsEveryCheckpointInOrderEvenOnceTheLocalOneIsPruned) {
  const fs::path dir = scratch("uploader");
  auto store = std::make_unique<LocalStore>(dir / "bucket");
  {
    CheckpointUploader uploader(std::move(store), "runs/x", 2, dir / "out/.cloud_upload.tmp-1");
    for (int64_t step : {5, 10, 15}) {
      const fs::path local = make_checkpoint(dir / "out" / ("checkpoint_step_" + std::to_string(step)), step);
      uploader.enqueue(local, local.filename().string());
      fs::remove_all(local);  // --keep-last removed it locally before its upload
    }
    const fs::path best = make_checkpoint(dir / "out/best_checkpoint", 10);
    uploader.enqueue(best, "best_checkpoint");
    uploader.enqueue(best, "best_checkpoint");  // replaces the queued one, if still queued
    uploader.wait([](const std::string&, size_t) {});
    EXPECT_EQ(uploader.pending(), 0u);
    const UploadReport report = uploader.report();
    EXPECT_TRUE(report.failed.empty());
    ASSERT_GE(report.uploaded.size(), 4u);
    EXPECT_EQ(std::vector<std::string>(report.uploaded.begin(), report.uploaded.begin() + 3),
              (std::vector<std::string>{"checkpoint_step_5", "checkpoint_step_10", "checkpoint_step_15"}));
    EXPECT_EQ(report.pruned, (std::vector<std::string>{"checkpoint_step_5"}));
    EXPECT_EQ(uploader.location(), (dir / "bucket").string() + "/runs/x");
  }
  LocalStore check(dir / "bucket");
  std::vector<std::string> names;
  for (const RemoteCheckpoint& checkpoint : list_remote_checkpoints(check, "runs/x")) names.push_back(checkpoint.name);
  EXPECT_EQ(names, (std::vector<std::string>{"checkpoint_step_10", "checkpoint_step_15", "best_checkpoint"}));
  EXPECT_FALSE(fs::exists(dir / "out/.cloud_upload.tmp-1"));  // the snapshots are gone
  fs::remove_all(dir);
}

TEST(CheckpointUploader, AFailedUploadIsReportedAndTheNextOneStillGoes) {
  const fs::path dir = scratch("uploader_fail");
  // A store root that is a file: every put fails.
  std::ofstream(dir / "not_a_folder") << "x";
  CheckpointUploader uploader(std::make_unique<LocalStore>(dir / "not_a_folder"), "p", 0, dir / "snapshots");
  uploader.enqueue(make_checkpoint(dir / "c1", 1), "checkpoint_step_1");
  uploader.wait([](const std::string&, size_t) {});
  const UploadReport report = uploader.report();
  EXPECT_TRUE(report.uploaded.empty());
  ASSERT_EQ(report.failed.size(), 1u);
  EXPECT_EQ(report.failed[0].rfind("checkpoint_step_1: ", 0), 0u) << report.failed[0];
  fs::remove_all(dir);
}

}  // namespace
}  // namespace utt
