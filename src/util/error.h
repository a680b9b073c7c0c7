// Errors, in two kinds.
//
// UserError: a problem with what the user asked for or gave us (a flag, a file, a
// dataset). Its message names the problem and the fix. It is caught once, in main,
// printed as one line, and the program exits with kExitUserError.
//
// UTT_CHECK: an internal invariant. Failing one is a bug in utt, so the message says
// where (file and line) rather than how to fix the input.
#pragma once

#include <stdexcept>
#include <string>

namespace utt {

inline constexpr int kExitUserError = 2;

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

[[noreturn]] void fail_check(const char* condition, const char* file, int line,
                             const std::string& message);

}  // namespace utt

#define UTT_CHECK(cond, message)                                     \
  do {                                                               \
    if (!(cond)) ::utt::fail_check(#cond, __FILE__, __LINE__, (message)); \
  } while (0)
