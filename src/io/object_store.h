// Where checkpoints can be kept beyond the machine that trains: a store of objects (whole files)
// under keys ("run/checkpoint_step_1000/model.safetensors"). LocalStore (a folder), S3Store (S3,
// S3-compatible servers, and GCS through its XML API) and AzureStore implement it; every failure
// is a UserError that names the store and the fix, and never carries a secret.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores `bytes` under `key`; a reader sees the old object or the new one, never part of one.
  virtual void put(const std::string& key, std::string_view bytes) = 0;
  // Stores the file at `path` under `key`, never holding all of a large file in memory (S3: a
  // multipart upload). Same visibility rule as put.
  virtual void put_file(const std::string& key, const std::filesystem::path& path) = 0;
  // The object's bytes, checked against the store's checksum where it keeps one. Throws
  // UserError when there is no such object.
  virtual std::string get(const std::string& key) = 0;
  // Writes the object into the file at `path` (created or replaced), streamed: never all of it
  // in memory. Throws UserError when there is no such object. The caller checks the bytes (a
  // checkpoint's manifest lists their SHA-256).
  virtual void get_file(const std::string& key, const std::filesystem::path& path) = 0;
  // Every key that starts with `prefix`, sorted.
  virtual std::vector<std::string> list(const std::string& prefix) = 0;
  // Removes the object; a missing one is not an error.
  virtual void remove(const std::string& key) = 0;
  // "s3://bucket/prefix", "/path/to/folder": for messages.
  virtual std::string describe() const = 0;
};

}  // namespace utt
