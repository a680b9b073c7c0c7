// libFuzzer target: the Parquet reader on arbitrary bytes must end in rows or a UserError,
// never a crash, a hang or a sanitizer report. Build with -DUTT_FUZZ=ON (fuzz/CMakeLists.txt).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "data/row_reader.h"
#include "util/error.h"

namespace {

// The reader maps files, so each input goes through a file in memory-backed /dev/shm.
const std::string& input_path() {
  static const std::string path = "/dev/shm/utt-fuzz-" + std::to_string(::getpid()) + ".parquet";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::FILE* file = std::fopen(input_path().c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  try {
    auto reader = utt::open_parquet_rows(input_path(), "text");
    std::string_view text;
    bool is_null = false;
    size_t total = 0;
    while (reader->next(text, is_null)) total += text.size();
    (void)total;
  } catch (const utt::UserError&) {
  }
  return 0;
}
