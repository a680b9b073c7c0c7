// GemmType::kBf16DotProduct: packing rounds fp32 operands to bf16 (vcvtne2ps2bf16: round to
// nearest, ties to even, as utt::float_to_bf16, but subnormals flushed to zero) into panels of
// k-pairs, the layout vdpbf16ps multiplies (each 32-bit lane holds elements k and k+1 of one row
// or column); the 14 x 32 microkernel then adds 2 products per lane per instruction.
#include "backend/cpu/gemm/gemm_internal.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)
#include <immintrin.h>

#include "backend/cpu/gemm/blocked_loops.h"
#include "backend/cpu/gemm/tile_store.h"
#include "backend/cpu/gemm/transpose16.h"

namespace utt::cpu::gemm_detail {
namespace {

// Rounds lo and hi (16 floats each) to bf16 and interleaves them: 32-bit lane j = (lo[j], hi[j]).
inline __m512i round_and_pair(__m512 lo, __m512 hi) {
  const __m512i words = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // lo's 16 words, then hi's
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                              23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(interleave, words);
}

struct Bf16Kernel {
  using Unit = uint32_t;  // a k-pair of bf16
  static constexpr int64_t kMR = 14, kNR = 32, kKGroup = 2;
  static constexpr int64_t kKC = 512, kMC = 14 * 12, kNC = 1024;

  // dst[kp * W + lane] = bf16 pair (source (lane, 2kp), source (lane, 2kp + 1)) for lane < lanes,
  // zeros elsewhere (lanes up to W, and k = kc when kc is odd).
  template <int64_t W>
  static void pack(uint32_t* dst, const PanelSource& src, int64_t lanes, int64_t kc) {
    const int64_t pairs = (kc + 1) / 2;
    if (!src.k_contiguous) {
      for (int64_t kp = 0; kp < pairs; ++kp) {
        const float* lo_row = src.base + 2 * kp * src.stride;
        const bool has_hi = 2 * kp + 1 < kc;
        for (int64_t l = 0; l < W; l += 16) {
          const __mmask16 m = lanes_below(lanes - l);
          const __m512 lo = _mm512_maskz_loadu_ps(m, lo_row + l);
          const __m512 hi = has_hi ? _mm512_maskz_loadu_ps(m, lo_row + src.stride + l) : _mm512_setzero_ps();
          _mm512_mask_storeu_epi32(dst + kp * W + l, lanes_below(W - l), round_and_pair(lo, hi));
        }
      }
      return;
    }
    for (int64_t l0 = 0; l0 < W; l0 += 16) {
      for (int64_t kp0 = 0; kp0 < pairs; kp0 += 16) {
        const int64_t k0 = 2 * kp0;
        const __mmask16 m0 = lanes_below(kc - k0), m1 = lanes_below(kc - k0 - 16);
        __m512 r[16];
#pragma GCC unroll 16
        for (int64_t l = 0; l < 16; ++l) {
          if (l0 + l < lanes) {
            const float* row = src.base + (l0 + l) * src.stride + k0;
            // Rounded in k order, the 32 words are already 16 k-pairs.
            const __m512 lo = _mm512_maskz_loadu_ps(m0, row), hi = _mm512_maskz_loadu_ps(m1, row + 16);
            r[l] = _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
          } else {
            r[l] = _mm512_setzero_ps();
          }
        }
        transpose16x16(r);
        const int64_t ps = std::min<int64_t>(16, pairs - kp0);
#pragma GCC unroll 16
        for (int64_t q = 0; q < 16; ++q) {
          if (q < ps) {
            _mm512_mask_storeu_epi32(dst + (kp0 + q) * W + l0, lanes_below(W - l0), _mm512_castps_si512(r[q]));
          }
        }
      }
    }
  }

  // c tile (rows x cols of a kMR x kNR tile, row stride ldc) = [c +] a_panel b_panel [+ bias].
  static void microkernel(int64_t pairs, const uint32_t* __restrict a, const uint32_t* __restrict b,
                          float* c, int64_t ldc, int rows, int cols, bool add_c, const float* bias) {
    constexpr int MR = kMR, NV = kNR / 16;
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
    for (int64_t kp = 0; kp < pairs; ++kp) {
      __m512bh bv[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + kp * kNR + 16 * v);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512bh ai = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[kp * MR + i]));
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ai, bv[v]);
      }
    }
    store_tile<MR, NV>(c, ldc, acc, rows, cols, add_c, bias);
  }
};

}  // namespace

Blocking bf16_dot_blocking() {
  return {Bf16Kernel::kMR, Bf16Kernel::kNR, Bf16Kernel::kKC, Bf16Kernel::kMC, Bf16Kernel::kNC};
}

void gemm_bf16_dot_region(const Problem& p, const Region& r) { blocked_loops<Bf16Kernel>(p, r); }

}  // namespace utt::cpu::gemm_detail
#endif
