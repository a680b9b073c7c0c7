// Writing a directory so that a crash never leaves a half-written one under its real name.
//
// Files go into a temporary sibling (`.NAME.tmp-PID`); commit() fsyncs every file and the
// directory, then renames it into place (an existing directory of that name is moved aside
// first and removed only after the rename succeeded). A failure at any point (disk full, I/O
// error) removes the temporary sibling and leaves every earlier directory intact.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

class StagedDirectory {
 public:
  explicit StagedDirectory(std::filesystem::path final_path);
  ~StagedDirectory();  // removes the staging directory unless committed
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  // Where to write files before commit().
  const std::filesystem::path& staging_path() const { return staging_; }

  // Writes `bytes` to staging_path()/name (flushed and fsynced).
  void write_file(const std::string& name, std::string_view bytes);
  // The same with the contents given as pieces written one after another (large files written
  // from where their parts already live, never assembled in memory).
  void write_file(const std::string& name, const std::vector<std::string_view>& pieces);

  // Copies an existing file into the staging directory.
  void copy_file(const std::filesystem::path& source, const std::string& name);

  // fsync and rename into place. Throws UserError (naming the directory and the cause) on
  // failure; the previous directory of that name, if any, is then still there.
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

// Removes a directory so that no half-removed one is ever seen under its name: it is renamed to
// a hidden sibling (".NAME.del-PID") first, then removed. Missing: nothing to do.
void remove_directory(const std::filesystem::path& path);

// What a process killed while writing left in `dir` (its direct entries): staging siblings
// (".NAME.tmp-PID", from StagedDirectory and write_file_atomic) and directories being removed
// (".NAME.del-PID", from remove_directory) are removed, and a directory
// moved aside for replacement (".NAME.old-PID") is put back when NAME itself is missing (the
// kill fell between the two renames of commit()), else removed. Call it only while no other
// process writes into `dir` (under its lock). Returns the names removed or restored.
struct RecoveredWrites {
  std::vector<std::string> removed;
  std::vector<std::string> restored;
};
RecoveredWrites recover_interrupted_writes(const std::filesystem::path& dir);

// Writes one file atomically: a temporary sibling, fsync, rename.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
// The same with the contents given as pieces written one after another.
void write_file_atomic(const std::filesystem::path& path, const std::vector<std::string_view>& pieces);

// Reads a whole file; throws UserError naming `what` when it cannot.
std::string read_file(const std::filesystem::path& path, const std::string& what);

}  // namespace utt
