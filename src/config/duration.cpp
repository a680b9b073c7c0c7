#include "config/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "util/error.h"

namespace utt {
namespace {

double unit_seconds(char unit) {
  switch (unit) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    default: return 0;
  }
}

[[noreturn]] void bad_duration(const std::string& text, const std::string& flag, const std::string& why) {
  throw UserError(flag + " " + text + ": " + why + "; give a duration such as 90s, 20m, 2h or 1h30m");
}

}  // namespace

double parse_duration(const std::string& text, const std::string& flag) {
  if (text.empty()) bad_duration("''", flag, "it is empty");
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t number_start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == number_start) bad_duration(text, flag, "expected a number at '" + text.substr(i) + "'");
    const std::string number = text.substr(number_start, i - number_start);
    char* end = nullptr;
    const double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) bad_duration(text, flag, "'" + number + "' is not a number");
    if (i == text.size()) bad_duration(text, flag, "'" + number + "' has no unit (s, m, h or d)");
    const double unit = unit_seconds(text[i]);
    if (unit == 0) bad_duration(text, flag, std::string("unknown unit '") + text[i] + "' (s, m, h or d)");
    total += value * unit;
    ++i;
  }
  if (!(total > 0) || !std::isfinite(total)) bad_duration(text, flag, "it must be longer than zero");
  return total;
}

}  // namespace utt
