// Pre-tokenization with both built-in patterns.
#include "tokenizer/pretokenize.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/error.h"

namespace utt {
namespace {

std::vector<std::string> pieces(PretokenizerKind kind, std::string_view text) {
  const PretokenizerRegex regex{std::string(pretokenizer_pattern(kind))};
  std::vector<std::string> out;
  regex.for_each_piece(text, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}

using Pieces = std::vector<std::string>;

TEST(Pretokenize, Cl100kSplitsWordsNumbersInThreesAndKeepsNewlineRuns) {
  EXPECT_EQ(pieces(PretokenizerKind::kCl100k, "Hello world's 1234567 ok!!\n\n  x"),
            (Pieces{"Hello", " world", "'s", " ", "123", "456", "7", " ok", "!!\n\n", " ", " x"}));
  EXPECT_EQ(pieces(PretokenizerKind::kCl100k, "IT'S"), (Pieces{"IT", "'S"}));
}

TEST(Pretokenize, Gpt2KeepsDigitRunsAndCaseSensitiveContractions) {
  EXPECT_EQ(pieces(PretokenizerKind::kGpt2, "Hello world's 1234567 ok!!\n\n  x"),
            (Pieces{"Hello", " world", "'s", " 1234567", " ok", "!!", "\n\n ", " x"}));
  EXPECT_EQ(pieces(PretokenizerKind::kGpt2, "IT'S"), (Pieces{"IT", "'", "S"}));
}

TEST(Pretokenize, UnicodeLettersAreLetters) {
  EXPECT_EQ(pieces(PretokenizerKind::kCl100k, "naïve 東京"), (Pieces{"naïve", " 東京"}));
}

TEST(Pretokenize, InvalidUtf8BecomesPiecesOfItsOwnAndNothingIsLost) {
  const std::string text = "ab\xff\xfe cd\xc3";
  const Pieces split = pieces(PretokenizerKind::kCl100k, text);
  std::string joined;
  for (const std::string& piece : split) joined += piece;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(split, (Pieces{"ab", "\xff\xfe", " cd", "\xc3"}));
}

TEST(Pretokenize, UnknownNameIsAUserError) {
  EXPECT_THROW(parse_pretokenizer_kind("llama"), UserError);
  EXPECT_EQ(parse_pretokenizer_kind("gpt2"), PretokenizerKind::kGpt2);
}

TEST(Pretokenize, BadPatternIsAUserError) {
  EXPECT_THROW(PretokenizerRegex("(unclosed"), UserError);
}

}  // namespace
}  // namespace utt
