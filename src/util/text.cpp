#include "util/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/error.h"

namespace utt {

std::string count_of(int64_t count, std::string_view noun) {
  std::string text = with_thousands(count) + " ";
  text.append(noun);
  if (count != 1) text.push_back('s');
  return text;
}

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count > 0 && count % 3 == 0) out.push_back(',');
    out.push_back(*it);
    ++count;
  }
  if (value < 0) out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

std::string human_count(int64_t value) {
  char buffer[32];
  const double v = static_cast<double>(value);
  if (v >= 1e9) {
    std::snprintf(buffer, sizeof buffer, "%.2fB", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buffer, sizeof buffer, "%.1fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buffer, sizeof buffer, "%.1fK", v / 1e3);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(value));
  }
  return buffer;
}

std::string human_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.2f %s", bytes, kUnits[unit]);
  return buffer;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  for (const auto& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  // A third of the word's length (at least 2 edits) catches typos and dash/underscore
  // slips without suggesting unrelated flags.
  const size_t allowed = std::max<size_t>(2, word.size() / 3);
  if (!best || best_distance > allowed) return std::nullopt;
  return best;
}

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

}  // namespace

int64_t parse_int(std::string_view text, std::string_view what) {
  const std::string_view t = trim(text);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || error != std::errc() || end != t.data() + t.size()) {
    throw UserError(std::string(what) + " expects a whole number, got '" + std::string(text) +
                    "'");
  }
  return value;
}

double parse_float(std::string_view text, std::string_view what) {
  const std::string_view t = trim(text);
  double value = 0;
  const auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || error != std::errc() || end != t.data() + t.size() || !std::isfinite(value)) {
    throw UserError(std::string(what) + " expects a number (such as 0.1 or 5e-4), got '" +
                    std::string(text) + "'");
  }
  return value;
}

int64_t parse_count(std::string_view text, std::string_view what) {
  std::string_view t = trim(text);
  double multiplier = 1;
  if (!t.empty()) {
    switch (std::tolower(static_cast<unsigned char>(t.back()))) {
      case 'k': multiplier = 1e3; break;
      case 'm': multiplier = 1e6; break;
      case 'b': case 'g': multiplier = 1e9; break;
      case 't': multiplier = 1e12; break;
      default: break;
    }
    if (multiplier != 1) t.remove_suffix(1);
  }
  double value = 0;
  const auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), value);
  const double scaled = value * multiplier;
  if (t.empty() || error != std::errc() || end != t.data() + t.size() || !std::isfinite(scaled) ||
      scaled != std::floor(scaled) || std::fabs(scaled) > 9e18) {
    throw UserError(std::string(what) + " expects a count such as 10000000, 10M or 1.5B, got '" +
                    std::string(text) + "'");
  }
  return static_cast<int64_t>(scaled);
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace utt
