#include "io/local_store.h"

#include <unistd.h>

#include <algorithm>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

LocalStore::LocalStore(fs::path root) : root_(std::move(root)) {}

fs::path LocalStore::path_of(const std::string& key) const {
  // Keys are relative paths inside the folder: no way out of it.
  const fs::path relative = fs::path(key).lexically_normal();
  if (key.empty() || relative.is_absolute() || relative.empty() || *relative.begin() == "..") {
    throw UserError("object key '" + key + "' is not a path inside " + root_.string());
  }
  return root_ / relative;
}

void LocalStore::put(const std::string& key, std::string_view bytes) {
  const fs::path path = path_of(key);
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  if (error) throw UserError("cannot create " + path.parent_path().string() + ": " + error.message());
  write_file_atomic(path, bytes);  // staged and renamed: never half an object
}

void LocalStore::put_file(const std::string& key, const fs::path& source) {
  const fs::path path = path_of(key);
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  // A hidden sibling renamed into place, named as write_file_atomic names its own.
  std::string name = ".";  // appended, not `+`: GCC 12's false -Wrestrict
  name.append(path.filename().string()).append(".tmp-").append(std::to_string(::getpid()));
  const fs::path staging = path.parent_path() / name;
  if (!error) fs::copy_file(source, staging, fs::copy_options::overwrite_existing, error);
  if (!error) fs::rename(staging, path, error);
  if (error) {
    fs::remove(staging, error);
    throw UserError("cannot store " + source.string() + " as " + path.string() + ": " + error.message());
  }
}

std::string LocalStore::get(const std::string& key) {
  const fs::path path = path_of(key);
  std::error_code error;
  if (!fs::is_regular_file(path, error)) throw UserError("no object " + key + " in " + root_.string());
  return read_file(path, "stored object");
}

void LocalStore::get_file(const std::string& key, const fs::path& path) {
  const fs::path source = path_of(key);
  std::error_code error;
  if (!fs::is_regular_file(source, error)) throw UserError("no object " + key + " in " + root_.string());
  fs::copy_file(source, path, fs::copy_options::overwrite_existing, error);
  if (error) throw UserError("cannot copy " + source.string() + " to " + path.string() + ": " + error.message());
}

std::vector<std::string> LocalStore::list(const std::string& prefix) {
  std::vector<std::string> keys;
  std::error_code error;
  if (!fs::is_directory(root_, error)) return keys;
  for (auto it = fs::recursive_directory_iterator(root_, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    const std::string name = it->path().filename().string();
    if (name.rfind('.', 0) == 0 && name.find(".tmp-") != std::string::npos) continue;  // a write in progress
    const std::string key = fs::relative(it->path(), root_, error).generic_string();
    if (key.rfind(prefix, 0) == 0) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

void LocalStore::remove(const std::string& key) {
  std::error_code error;
  fs::remove(path_of(key), error);
  if (error) throw UserError("cannot remove " + path_of(key).string() + ": " + error.message());
}

}  // namespace utt
