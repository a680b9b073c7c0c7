// bfloat16: the top 16 bits of an IEEE float (8 exponent bits, 7 mantissa bits), the element type
// of the matmul operands under --use-mixed-precision.
#pragma once

#include <bit>
#include <cstdint>

namespace utt {

// Round to the nearest bfloat16, ties to even (what hardware conversion instructions do); NaN stays
// a (quiet) NaN, infinities stay infinite, overflow past bf16's largest finite value rounds to
// infinity. Branch-free apart from the NaN select, so loops of it vectorize.
inline uint16_t float_to_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
  const bool nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
  return static_cast<uint16_t>(nan ? ((bits >> 16) | 0x40u) : (rounded >> 16));
}

inline float bf16_to_float(uint16_t x) { return std::bit_cast<float>(static_cast<uint32_t>(x) << 16); }

// The float nearest to x among those bf16 can hold.
inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

}  // namespace utt
