// The GPT-2 byte alphabet, checked against the values in shared/reference/tokenizer-json.md.
#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

#include <set>

namespace utt {
namespace {

TEST(ByteLevel, PrintableBytesKeepTheirCodePointOthersMoveAbove255) {
  EXPECT_EQ(byte_symbols()['a'], "a");
  EXPECT_EQ(byte_symbols()['!'], "!");
  EXPECT_EQ(byte_symbols()[0], "\u0100");    // Ā
  EXPECT_EQ(byte_symbols()['\t'], "\u0109");  // ĉ
  EXPECT_EQ(byte_symbols()['\n'], "\u010A");  // Ċ
  EXPECT_EQ(byte_symbols()[' '], "\u0120");   // Ġ
  EXPECT_EQ(byte_symbols()[127], "\u0121");   // ġ
  EXPECT_EQ(byte_symbols()[160], "\u0142");   // ł
  EXPECT_EQ(byte_symbols()[173], "\u0143");   // Ń
  EXPECT_EQ(byte_symbols()[0xE9], "\u00E9");  // é
}

TEST(ByteLevel, TheAlphabetHas256DistinctSymbols) {
  std::set<std::string> distinct(byte_symbols().begin(), byte_symbols().end());
  EXPECT_EQ(distinct.size(), 256u);
}

TEST(ByteLevel, SymbolOrderIsGpt2IdOrder) {
  // GPT-2: '!' is id 0, '\n' is 198, ' ' is 220.
  EXPECT_EQ(bytes_in_symbol_order()[0], '!');
  EXPECT_EQ(bytes_in_symbol_order()[198], '\n');
  EXPECT_EQ(bytes_in_symbol_order()[220], ' ');
}

TEST(ByteLevel, EveryByteStringRoundTrips) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all += static_cast<char>(byte);
  EXPECT_EQ(symbols_to_bytes(bytes_to_symbols(all)), all);
  EXPECT_EQ(bytes_to_symbols("a b\n"), "a\u0120b\u010A");
}

TEST(ByteLevel, CharactersOutsideTheAlphabetStandForTheirOwnBytes) {
  EXPECT_EQ(symbols_to_bytes("<|endoftext|>"), "<|endoftext|>");
  EXPECT_EQ(symbols_to_bytes("\u6771"), "\u6771");  // 東, outside the alphabet
}

}  // namespace
}  // namespace utt
