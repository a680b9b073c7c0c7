// Checkpoints in an object store (io/object_store.h), laid out as in an output directory:
//
//   PREFIX/checkpoint_step_N/model.safetensors ... (the checkpoint's files)
//   PREFIX/checkpoint_step_N/utt_manifest.json     written last
//
// The manifest lists every file with its size and SHA-256, the step and the run id. A
// checkpoint is there only when its manifest is: an upload cut short, or one being replaced
// (best_checkpoint), has none, so `latest`, listings and downloads never see half a checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/object_store.h"

namespace utt {

inline constexpr const char* kCloudManifestName = "utt_manifest.json";

struct ManifestFile {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

struct CheckpointManifest {
  std::string checkpoint;  // "checkpoint_step_200", "final_checkpoint", "best_checkpoint"
  int64_t step = 0;
  std::string run_id;
  std::vector<ManifestFile> files;

  std::string to_json() const;
  // Throws UserError naming `source` for a malformed manifest.
  static CheckpointManifest from_json(const std::string& text, const std::string& source);
};

// The manifest of the complete local checkpoint `dir` (every regular file in it, hashed).
CheckpointManifest describe_checkpoint(const std::filesystem::path& dir, const std::string& name);

// The SHA-256 of a file, read in pieces.
std::string file_sha256(const std::filesystem::path& path);

// "PREFIX/NAME/FILE" ("NAME/FILE" with an empty prefix).
std::string cloud_key(const std::string& prefix, const std::string& name, const std::string& file = "");

// Uploads the checkpoint `dir` as PREFIX/NAME: an existing manifest removed first (a replaced
// checkpoint is invisible while its files change), then the files, then the manifest. Returns
// the bytes sent. Throws the store's UserError.
uint64_t upload_checkpoint(ObjectStore& store, const std::string& prefix, const std::filesystem::path& dir,
                           const std::string& name);

// A checkpoint that is complete in the store (its manifest is there).
struct RemoteCheckpoint {
  std::string name;
  int64_t step = -1;  // from the name for step checkpoints; -1 when unknown (read the manifest)
};

// The complete checkpoints under PREFIX, step checkpoints by step, then the others by name.
std::vector<RemoteCheckpoint> list_remote_checkpoints(ObjectStore& store, const std::string& prefix);

// Removes all but the newest `keep_last` complete step checkpoints under PREFIX (manifest first,
// so each disappears at once), and the remains of step checkpoints older than the oldest kept
// one that never completed (uploads cut short). keep_last 0: none. Returns the names removed.
std::vector<std::string> prune_remote_checkpoints(ObjectStore& store, const std::string& prefix, int64_t keep_last);

// The manifest of PREFIX/NAME; nullopt when it has none (not there, or not complete).
std::optional<CheckpointManifest> read_remote_manifest(ObjectStore& store, const std::string& prefix,
                                                       const std::string& name);

// `latest` (the complete step checkpoint or final_checkpoint with the highest step) or a
// checkpoint's name, resolved under PREFIX. Throws UserError listing what is there when
// nothing matches.
std::string resolve_remote_checkpoint(ObjectStore& store, const std::string& prefix, const std::string& name);

// Downloads PREFIX/NAME into `into` (created; must not exist), each file streamed to disk and
// checked against the manifest's size and SHA-256 (a mismatch is downloaded once more, then
// refused). Throws UserError; `into` may then hold part of the files (the caller removes it).
void download_checkpoint(ObjectStore& store, const std::string& prefix, const std::string& name,
                         const std::filesystem::path& into);

}  // namespace utt
