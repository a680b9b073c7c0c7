// Helpers for the data tests: a scratch folder per test, files written byte for byte
// (compressed with zlib and zstd, independent of utt's readers), and every row of a file.
#pragma once

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "data/row_reader.h"

namespace utt::test {

// Scratch folders are removed when the test process ends.
struct ScratchDirs {
  std::vector<std::filesystem::path> dirs;
  ~ScratchDirs() {
    std::error_code ignored;
    for (const auto& dir : dirs) std::filesystem::remove_all(dir, ignored);
  }
};

inline ScratchDirs& scratch_dirs() {
  static ScratchDirs dirs;
  return dirs;
}

// Named by process too: CTest runs tests of one binary in parallel processes, and other
// checkouts may run the same tests at the same time.
inline std::string make_scratch_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("utt-data-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  scratch_dirs().dirs.push_back(dir);
  return dir.string();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string gzip_bytes(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::string zstd_bytes(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

// Every row of one file; NULL rows as nullopt.
inline std::vector<std::optional<std::string>> all_rows(const std::string& path,
                                                        const std::string& column = "text") {
  std::vector<std::optional<std::string>> rows;
  auto reader = open_row_reader(path, column);
  std::string_view text;
  bool is_null = false;
  while (reader->next(text, is_null)) {
    rows.push_back(is_null ? std::nullopt : std::optional<std::string>(std::string(text)));
  }
  return rows;
}

}  // namespace utt::test
