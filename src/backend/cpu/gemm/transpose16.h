// A 16 x 16 transpose of 32-bit elements in AVX-512 registers (in place: rows in, columns out),
// used by the packing routines to turn k-contiguous rows into k-major panels. Three shuffle
// stages: 32-bit pairs, 64-bit pairs, then 128-bit lanes twice.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

namespace utt::cpu::gemm_detail {

// g++ 12 reports its own shuffle intrinsics' deliberately undefined source operand (GCC bug
// 105593) wherever they are inlined; nothing of ours is uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 4) {
    const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
#pragma GCC unroll 16
  for (int q = 0; q < 2; ++q) {
#pragma GCC unroll 16
    for (int j = 0; j < 4; ++j) {
      t[8 * q + j] = _mm512_shuffle_f32x4(r[8 * q + j], r[8 * q + 4 + j], 0x88);
      t[8 * q + 4 + j] = _mm512_shuffle_f32x4(r[8 * q + j], r[8 * q + 4 + j], 0xDD);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
  }
}
#pragma GCC diagnostic pop

}  // namespace utt::cpu::gemm_detail
#endif
