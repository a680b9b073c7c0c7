// Math that the compiler can vectorize: no library calls, no branches.
#pragma once

#include <bit>
#include <cstdint>

namespace utt::cpu {

// exp(x) in float, relative error below 3e-7 (a few ulp) over the normal range; x is clamped to
// [-87.3, 88.7], so results never underflow to 0 or overflow to infinity. Range reduction x = n ln2 + r with |r| <= ln2/2 (ln2 split in two parts so that
// n ln2 is exact), then Cephes' degree-5 minimax polynomial for exp(r), then 2^n through the
// exponent bits. glibc's expf is scalar (a call per element): this loop vectorizes, and it made
// exp-heavy kernels (cross-entropy, attention, SwiGLU) several times faster.
inline float fast_exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  constexpr float kRoundingShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  x = x < -87.3365448f ? -87.3365448f : x;
  x = x > 88.7228394f ? 88.7228394f : x;
  const float n = (x * kLog2e + kRoundingShift) - kRoundingShift;
  float r = x - n * kLn2High;
  r = r - n * kLn2Low;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float exp_r = p * r * r + r + 1.0f;
  // 2^n as 2^(n/2) * 2^(n - n/2): n reaches 128 near the top of the range, past float's largest
  // exponent, though the product exp(r) 2^n does not overflow.
  const int32_t n_int = static_cast<int32_t>(n);
  const int32_t half = n_int >> 1;
  const float scale_a = std::bit_cast<float>((half + 127) << 23);
  const float scale_b = std::bit_cast<float>((n_int - half + 127) << 23);
  return exp_r * scale_a * scale_b;
}

inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// tanh(x) = 1 - 2 / (exp(2x) + 1), exact at the clamps (exp(2x) saturates to 0 or a huge value).
inline float fast_tanh(float x) { return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f); }

}  // namespace utt::cpu
