#include "data/utf8.h"

#include <gtest/gtest.h>

namespace utt {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsUnchangedAndCountsNothing) {
  std::string out;
  const std::string text = "plain, é, 日本語, 🙂";
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(repair_utf8(text, out), 0);
  EXPECT_EQ(out, text);
  EXPECT_EQ(count_code_points(text), 16);
}

TEST(Utf8, EachMaximalInvalidSubpartBecomesOneReplacement) {
  std::string out;
  // A stray Latin-1 byte, a truncated 3-byte sequence, an overlong '/', a surrogate.
  EXPECT_EQ(repair_utf8("caf\xE9!", out), 1);
  EXPECT_EQ(out, "caf" + kFffd + "!");
  EXPECT_EQ(repair_utf8("a\xE6\x97" "b", out), 1);
  EXPECT_EQ(out, "a" + kFffd + "b");
  EXPECT_EQ(repair_utf8("\xC0\xAF", out), 2);
  EXPECT_EQ(out, kFffd + kFffd);
  EXPECT_EQ(repair_utf8("\xED\xA0\x80", out), 3);
  EXPECT_EQ(repair_utf8("end\xF0\x9F\x99", out), 1);
  EXPECT_EQ(out, "end" + kFffd);
  EXPECT_TRUE(is_valid_utf8(out));
}

}  // namespace
}  // namespace utt
