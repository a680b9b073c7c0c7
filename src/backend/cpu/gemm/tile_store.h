// What the AVX-512 microkernels share: lane masks for partial vectors and the epilogue that writes
// a tile of accumulators to c. Include only where __AVX512F__ is defined.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace utt::cpu::gemm_detail {

// The first n lanes of a 16-lane vector (none for n <= 0, all for n >= 16).
inline __mmask16 lanes_below(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// c tile (rows x cols of an MR x 16 NV tile, row stride ldc) = acc [+ c] [+ bias].
template <int MR, int NV>
inline void store_tile(float* c, int64_t ldc, const __m512 (&acc)[MR][NV], int rows, int cols, bool add_c,
                       const float* bias) {
  __mmask16 mask[NV];
  __m512 bias_v[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    mask[v] = lanes_below(cols - 16 * v);
    bias_v[v] = bias != nullptr ? _mm512_maskz_loadu_ps(mask[v], bias + 16 * v) : _mm512_setzero_ps();
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      float* out = c + i * ldc + 16 * v;
      __m512 x = acc[i][v];
      if (add_c) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[v], out));
      if (bias != nullptr) x = _mm512_add_ps(x, bias_v[v]);
      _mm512_mask_storeu_ps(out, mask[v], x);
    }
  }
}

}  // namespace utt::cpu::gemm_detail
