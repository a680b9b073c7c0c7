// Paths the tests need, fixed at configure time.
#pragma once

#include <string>

namespace utt::test {

inline std::string source_dir() { return UTT_SOURCE_DIR; }
inline std::string shared_dir() { return UTT_SHARED_DIR; }
inline std::string binary_dir() { return UTT_BINARY_DIR; }
inline std::string oracle_dir() { return shared_dir() + "/oracle"; }

}  // namespace utt::test
