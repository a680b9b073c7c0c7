// Durations as users type them: --time-budget 90s, 20m, 2h, 1h30m, 1.5h.
#pragma once

#include <string>

namespace utt {

// Seconds in `text`: one or more <number><unit> parts, unit s, m, h or d ("1h30m"). Throws
// UserError naming `flag` and the accepted spellings for anything else (a bare number, a
// negative or zero total, an unknown unit).
double parse_duration(const std::string& text, const std::string& flag);

}  // namespace utt
