#include "train/cloud_checkpoints.h"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "train/checkpoint.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStepPrefix = "checkpoint_step_";

// N of "checkpoint_step_N", -1 for other names.
int64_t step_of(const std::string& name) {
  if (name.rfind(kStepPrefix, 0) != 0) return -1;
  const std::string digits = name.substr(std::string(kStepPrefix).size());
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

std::string prefix_path(const std::string& prefix) { return prefix.empty() ? "" : prefix + "/"; }

// Every key under PREFIX/, grouped by the checkpoint folder it is in (keys deeper than
// NAME/FILE and keys directly under the prefix are not checkpoints' and are left alone).
std::map<std::string, std::vector<std::string>> keys_by_checkpoint(ObjectStore& store, const std::string& prefix) {
  std::map<std::string, std::vector<std::string>> groups;
  const std::string base = prefix_path(prefix);
  for (const std::string& key : store.list(base)) {
    const std::string rest = key.substr(base.size());
    const size_t slash = rest.find('/');
    if (slash == std::string::npos || slash == 0 || rest.find('/', slash + 1) != std::string::npos) continue;
    groups[rest.substr(0, slash)].push_back(rest.substr(slash + 1));
  }
  return groups;
}

bool has_manifest(const std::vector<std::string>& files) {
  return std::find(files.begin(), files.end(), kCloudManifestName) != files.end();
}

// Manifest first, so the checkpoint is gone at once, then its files.
void remove_checkpoint(ObjectStore& store, const std::string& prefix, const std::string& name,
                       const std::vector<std::string>& files) {
  if (has_manifest(files)) store.remove(cloud_key(prefix, name, kCloudManifestName));
  for (const std::string& file : files) {
    if (file != kCloudManifestName) store.remove(cloud_key(prefix, name, file));
  }
}

}  // namespace

std::string CheckpointManifest::to_json() const {
  nlohmann::json listed = nlohmann::json::array();
  for (const ManifestFile& file : files) {
    listed.push_back({{"name", file.name}, {"size", file.size}, {"sha256", file.sha256}});
  }
  const nlohmann::json json = {{"format", "utt-checkpoint-manifest"}, {"version", 1}, {"checkpoint", checkpoint},
                               {"step", step}, {"run_id", run_id}, {"files", listed}};
  return json.dump(2) + "\n";
}

CheckpointManifest CheckpointManifest::from_json(const std::string& text, const std::string& source) {
  CheckpointManifest manifest;
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    if (json.value("format", "") != "utt-checkpoint-manifest") throw UserError(source + " is not a utt checkpoint manifest");
    manifest.checkpoint = json.at("checkpoint").get<std::string>();
    manifest.step = json.at("step").get<int64_t>();
    manifest.run_id = json.at("run_id").get<std::string>();
    for (const nlohmann::json& file : json.at("files")) {
      ManifestFile entry{file.at("name").get<std::string>(), file.at("size").get<uint64_t>(),
                         file.at("sha256").get<std::string>()};
      // A file name is one path component: a manifest cannot send a download elsewhere.
      if (entry.name.empty() || entry.name.find('/') != std::string::npos || entry.name == "." || entry.name == "..") {
        throw UserError(source + " lists the file name '" + entry.name + "', which is not a plain file name");
      }
      manifest.files.push_back(std::move(entry));
    }
  } catch (const nlohmann::json::exception& error) {
    throw UserError(source + " is damaged (" + error.what() + "): upload that checkpoint again");
  }
  return manifest;
}

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read " + path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  UTT_CHECK(context && EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) == 1, "SHA-256 failed");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw UserError("cannot read " + path.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(context.get(), digest, &size);
  static const char* const kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xF];
  }
  return hex;
}

CheckpointManifest describe_checkpoint(const fs::path& dir, const std::string& name) {
  CheckpointManifest manifest;
  manifest.checkpoint = name;
  const TrainerState state = read_trainer_state(dir);
  manifest.step = state.step;
  manifest.run_id = state.run_id;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (!entry.is_regular_file(error)) continue;
    manifest.files.push_back({entry.path().filename().string(), static_cast<uint64_t>(entry.file_size(error)),
                              file_sha256(entry.path())});
  }
  if (error) throw UserError("cannot list " + dir.string() + ": " + error.message());
  std::sort(manifest.files.begin(), manifest.files.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.name < b.name; });
  return manifest;
}

std::string cloud_key(const std::string& prefix, const std::string& name, const std::string& file) {
  std::string key = prefix_path(prefix);
  key.append(name);
  if (!file.empty()) key.append("/").append(file);
  return key;
}

uint64_t upload_checkpoint(ObjectStore& store, const std::string& prefix, const fs::path& dir, const std::string& name) {
  const CheckpointManifest manifest = describe_checkpoint(dir, name);
  // Replacing (best_checkpoint, or a checkpoint a resumed run writes again): invisible first.
  store.remove(cloud_key(prefix, name, kCloudManifestName));
  uint64_t bytes = 0;
  for (const ManifestFile& file : manifest.files) {
    store.put_file(cloud_key(prefix, name, file.name), dir / file.name);
    bytes += file.size;
  }
  store.put(cloud_key(prefix, name, kCloudManifestName), manifest.to_json());
  return bytes;
}

std::vector<RemoteCheckpoint> list_remote_checkpoints(ObjectStore& store, const std::string& prefix) {
  std::vector<RemoteCheckpoint> steps;
  std::vector<RemoteCheckpoint> others;
  for (const auto& [name, files] : keys_by_checkpoint(store, prefix)) {
    if (!has_manifest(files)) continue;
    const int64_t step = step_of(name);
    (step >= 0 ? steps : others).push_back({name, step});
  }
  std::sort(steps.begin(), steps.end(), [](const RemoteCheckpoint& a, const RemoteCheckpoint& b) { return a.step < b.step; });
  steps.insert(steps.end(), others.begin(), others.end());
  return steps;
}

std::vector<std::string> prune_remote_checkpoints(ObjectStore& store, const std::string& prefix, int64_t keep_last) {
  std::vector<std::string> removed;
  if (keep_last <= 0) return removed;
  struct Entry {
    int64_t step;
    std::string name;
    std::vector<std::string> files;
  };
  std::vector<Entry> complete;
  std::vector<Entry> incomplete;
  for (auto& [name, files] : keys_by_checkpoint(store, prefix)) {
    const int64_t step = step_of(name);
    if (step < 0) continue;
    (has_manifest(files) ? complete : incomplete).push_back({step, name, std::move(files)});
  }
  std::sort(complete.begin(), complete.end(), [](const Entry& a, const Entry& b) { return a.step < b.step; });
  const size_t drop = complete.size() > static_cast<size_t>(keep_last) ? complete.size() - static_cast<size_t>(keep_last) : 0;
  for (size_t i = 0; i < drop; ++i) {
    remove_checkpoint(store, prefix, complete[i].name, complete[i].files);
    removed.push_back(complete[i].name);
  }
  if (drop < complete.size()) {
    const int64_t oldest_kept = complete[drop].step;
    for (const Entry& entry : incomplete) {
      if (entry.step < oldest_kept) remove_checkpoint(store, prefix, entry.name, entry.files);
    }
  }
  return removed;
}

std::optional<CheckpointManifest> read_remote_manifest(ObjectStore& store, const std::string& prefix,
                                                       const std::string& name) {
  const std::string key = cloud_key(prefix, name, kCloudManifestName);
  if (store.list(key).empty()) return std::nullopt;
  return CheckpointManifest::from_json(store.get(key), store.describe() + "/" + key);
}

std::string resolve_remote_checkpoint(ObjectStore& store, const std::string& prefix, const std::string& name) {
  const std::vector<RemoteCheckpoint> there = list_remote_checkpoints(store, prefix);
  const std::string where = store.describe() + "/" + prefix_path(prefix);
  std::string listed;
  for (const RemoteCheckpoint& checkpoint : there) listed += (listed.empty() ? "" : ", ") + checkpoint.name;
  if (name != "latest") {
    for (const RemoteCheckpoint& checkpoint : there) {
      if (checkpoint.name == name) return name;
    }
    throw UserError("no complete checkpoint " + name + " in " + where +
                    (listed.empty() ? " (it holds none)" : " (it holds " + listed + ")") +
                    ": check the URL given to --resume-from");
  }
  std::string best;
  int64_t best_step = -1;
  for (const RemoteCheckpoint& checkpoint : there) {
    int64_t step = checkpoint.step;
    if (checkpoint.name == "final_checkpoint") {
      step = read_remote_manifest(store, prefix, checkpoint.name).value_or(CheckpointManifest{}).step;
    } else if (step < 0) {
      continue;  // best_checkpoint is never `latest`
    }
    if (step >= best_step) {
      best_step = step;
      best = checkpoint.name;
    }
  }
  if (best.empty()) {
    throw UserError("no complete checkpoint to resume from in " + where +
                    (listed.empty() ? "" : " (it holds only " + listed + ")") +
                    ": check the URL given to --resume-from (bucket and prefix)");
  }
  return best;
}

void download_checkpoint(ObjectStore& store, const std::string& prefix, const std::string& name, const fs::path& into) {
  const std::optional<CheckpointManifest> manifest = read_remote_manifest(store, prefix, name);
  const std::string where = store.describe() + "/" + cloud_key(prefix, name);
  if (!manifest) throw UserError("no complete checkpoint at " + where + " (it has no " + kCloudManifestName + ")");
  std::error_code error;
  fs::create_directories(into, error);
  if (error) throw UserError("cannot create " + into.string() + " to download " + where + ": " + error.message());
  for (const ManifestFile& file : manifest->files) {
    const fs::path path = into / file.name;
    bool matches = false;
    for (int attempt = 0; attempt < 2 && !matches; ++attempt) {
      store.get_file(cloud_key(prefix, name, file.name), path);
      matches = fs::file_size(path, error) == file.size && !error && file_sha256(path) == file.sha256;
    }
    if (!matches) {
      throw UserError("the download of " + where + "/" + file.name +
                      " does not match its manifest (size or SHA-256), twice: the stored copy is damaged; resume "
                      "from another checkpoint");
    }
  }
}

}  // namespace utt
