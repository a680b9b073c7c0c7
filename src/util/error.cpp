#include "util/error.h"

namespace utt {

void fail_check(const char* condition, const char* file, int line, const std::string& message) {
  throw InternalError(std::string("internal error at ") + file + ":" + std::to_string(line) +
                      ": check `" + condition + "` failed: " + message +
                      " (this is a bug in utt; please report it with the command you ran)");
}

}  // namespace utt
