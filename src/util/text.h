// Small text helpers shared by the command line, the config and the logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

// 1234567 -> "1,234,567"
std::string with_thousands(int64_t value);

// (1, "epoch") -> "1 epoch", (2000, "thread") -> "2,000 threads" (nouns that take an "s").
std::string count_of(int64_t count, std::string_view noun);

// 12345678 -> "12.3M", 1500000000 -> "1.50B": for humans, never for parsing.
std::string human_count(int64_t value);

// 3221225472 -> "3.00 GiB"
std::string human_bytes(double bytes);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// Strict number parsing: the whole string must be a number. Throws UserError naming
// `what` (e.g. "--batch-size") on anything else.
int64_t parse_int(std::string_view text, std::string_view what);
double parse_float(std::string_view text, std::string_view what);

// A count with an optional K/M/B/T suffix (case-insensitive; "1.5B", "10M", "10000000").
// The result must be a whole number.
int64_t parse_count(std::string_view text, std::string_view what);

std::string to_lower(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);

}  // namespace utt
