// Half-precision conversion for exports: every half value survives a round trip, and values
// between two halves round to the nearer one, ties to even (what PyTorch's .half() does).
#include <gtest/gtest.h>

#include <cmath>

#include "export/export_dtype.h"

namespace utt {
namespace {

// IEEE binary16 decoded independently: sign, 5-bit exponent (bias 15), 10-bit mantissa.
double half_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(ExportDtype, EveryHalfValueRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const double value = half_value(static_cast<uint16_t>(h));
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(half_value(float_to_f16(static_cast<float>(value)))));
      continue;
    }
    EXPECT_EQ(float_to_f16(static_cast<float>(value)), h) << h;
  }
}

TEST(ExportDtype, BetweenTwoHalvesRoundsToTheNearerTiesToEven) {
  for (uint32_t h = 0; h < 0x7BFF; ++h) {  // positive finite halves below the largest
    const double low = half_value(static_cast<uint16_t>(h)), high = half_value(static_cast<uint16_t>(h + 1));
    const double middle = (low + high) / 2;  // exact in float: halves have 11 significant bits
    EXPECT_EQ(float_to_f16(static_cast<float>(middle)), (h % 2 == 0) ? h : h + 1) << h;
    EXPECT_EQ(float_to_f16(std::nextafter(static_cast<float>(middle), 0.0f)), h) << h;
    EXPECT_EQ(float_to_f16(std::nextafter(static_cast<float>(middle), 1e9f)), h + 1) << h;
  }
  EXPECT_EQ(float_to_f16(65519.0f), 0x7BFF);  // rounds down to 65504
  EXPECT_EQ(float_to_f16(65520.0f), 0x7C00);  // the tie goes to infinity (even)
  EXPECT_EQ(float_to_f16(-1e-9f), 0x8000);    // underflow keeps the sign
}

}  // namespace
}  // namespace utt
