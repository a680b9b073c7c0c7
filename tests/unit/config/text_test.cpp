#include <gtest/gtest.h>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

TEST(Text, ThousandsSeparators) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_EQ(with_thousands(1000), "1,000");
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
  EXPECT_EQ(with_thousands(-45678), "-45,678");
}

TEST(Text, CountsTakeTheirNounsPlural) {
  EXPECT_EQ(count_of(1, "thread"), "1 thread");
  EXPECT_EQ(count_of(2, "epoch"), "2 epochs");
  EXPECT_EQ(count_of(0, "epoch"), "0 epochs");
  EXPECT_EQ(count_of(12000, "step"), "12,000 steps");
}

TEST(Text, EditDistanceAndClosestMatch) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_match("--bach-size", {"--batch-size", "--epochs"}), "--batch-size");
  EXPECT_FALSE(closest_match("--completely-different", {"--epochs"}).has_value());
}

TEST(Text, StrictNumbers) {
  EXPECT_EQ(parse_int(" 42 ", "x"), 42);
  EXPECT_THROW(parse_int("42abc", "x"), UserError);
  EXPECT_THROW(parse_int("", "x"), UserError);
  EXPECT_DOUBLE_EQ(parse_float("5e-4", "x"), 5e-4);
  EXPECT_THROW(parse_float("nan", "x"), UserError);
  EXPECT_THROW(parse_float("1e999", "x"), UserError);
}

TEST(Text, CountsWithSuffixes) {
  EXPECT_EQ(parse_count("10M", "x"), 10'000'000);
  EXPECT_EQ(parse_count("1.5b", "x"), 1'500'000'000);
  EXPECT_EQ(parse_count("250k", "x"), 250'000);
  EXPECT_EQ(parse_count("1e7", "x"), 10'000'000);
  EXPECT_THROW(parse_count("1.5", "x"), UserError);
  EXPECT_THROW(parse_count("M", "x"), UserError);
  EXPECT_THROW(parse_count("10Q", "x"), UserError);
}

}  // namespace
}  // namespace utt
