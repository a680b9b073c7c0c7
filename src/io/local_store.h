// An ObjectStore in a local folder: key "a/b" is the file FOLDER/a/b. For tests of what uses a
// store, and for keeping checkpoints on a mounted network drive.
#pragma once

#include <filesystem>

#include "io/object_store.h"

namespace utt {

class LocalStore : public ObjectStore {
 public:
  explicit LocalStore(std::filesystem::path root);
  void put(const std::string& key, std::string_view bytes) override;
  void put_file(const std::string& key, const std::filesystem::path& path) override;
  std::string get(const std::string& key) override;
  void get_file(const std::string& key, const std::filesystem::path& path) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  std::string describe() const override { return root_.string(); }

 private:
  std::filesystem::path path_of(const std::string& key) const;
  std::filesystem::path root_;
};

}  // namespace utt
