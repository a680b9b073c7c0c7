// --config FILE: TOML or JSON holding flag values, keyed by flag name with dashes or
// underscores (`batch_size = 16`, `"learning-rate": 3e-4`, `no_rope = true`).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace utt {

struct ConfigEntry {
  std::string key;    // as written in the file
  std::string value;  // as text, the way it would be typed on the command line
};

// Reads the file by its extension (.toml, .json; anything else is tried as TOML, then JSON).
// Throws UserError for an unreadable file, a syntax error (with line and column) or a value
// that is not a scalar.
std::vector<ConfigEntry> read_config_file(const std::string& path);

}  // namespace utt
