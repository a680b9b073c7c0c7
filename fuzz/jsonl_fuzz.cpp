// libFuzzer target: the JSON Lines / JSON reader (through DocumentStream, so UTF-8 repair
// runs too) on arbitrary bytes must end in documents or a UserError, never a crash or a
// sanitizer report. Build with -DUTT_FUZZ=ON (fuzz/CMakeLists.txt).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "data/document_stream.h"
#include "util/error.h"

namespace {

const std::string& input_path() {
  static const std::string path = "/dev/shm/utt-fuzz-" + std::to_string(::getpid()) + ".jsonl";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::FILE* file = std::fopen(input_path().c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  try {
    utt::DocumentStream stream({input_path()}, "text");
    std::string_view text;
    while (stream.next(text)) {
    }
  } catch (const utt::UserError&) {
  }
  return 0;
}
