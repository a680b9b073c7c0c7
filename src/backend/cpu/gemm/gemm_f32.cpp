// fp32 products: packing into k-major panels and the 14 x 32 AVX-512 microkernel (28 zmm
// accumulators, two b vectors, a broadcast a element: 31 of the 32 registers).
//
// GemmType::kBf16 runs the same microkernel on operands rounded to bf16 while packing (kept in
// fp32 registers): the product of two bf16 values is exact in fp32, so each fused multiply-add
// adds the exact bf16 product to an fp32 sum, which is what a bf16 matmul with fp32 accumulation
// computes. It beats vdpbf16ps here: on this machine's cores (Sapphire Rapids, no AMX) one
// vdpbf16ps (64 flops) issues every 2 cycles while two vfmadd231ps (32 flops each) issue every
// cycle, so fp32 FMAs do twice the flops (bench/instruction_peaks, bench/matmul_paths,
// docs/benchmarks.md).
#include "backend/cpu/gemm/gemm_internal.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#include "backend/cpu/gemm/blocked_loops.h"
#include "backend/cpu/gemm/tile_store.h"
#include "backend/cpu/gemm/transpose16.h"

namespace utt::cpu::gemm_detail {
namespace {

// x rounded to the nearest bf16 (ties to even), exactly as utt::float_to_bf16 does, subnormals
// and NaNs included, and widened back to fp32. (g++ 12 warns about its own shift intrinsic's
// undefined pass-through operand, GCC bug 105593, as in transpose16.h.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline __m512 round_to_bf16(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m512i rounded =
      _mm512_and_si512(_mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), lsb)), high);
  const __m512i quiet_nan = _mm512_or_si512(_mm512_and_si512(bits, high), _mm512_set1_epi32(0x00400000));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_castsi512_ps(_mm512_mask_blend_epi32(nan, rounded, quiet_nan));
}
#pragma GCC diagnostic pop

// kRoundToBf16: GemmType::kBf16 (operands rounded while packing); otherwise kFp32.
template <bool kRoundToBf16>
struct Fp32Kernel {
  using Unit = float;
  static constexpr int64_t kMR = 14, kNR = 32, kKGroup = 1;
  static constexpr int64_t kKC = 256, kMC = 14 * 12, kNC = 1024;

  // dst[k * W + lane] = source (lane, k) for lane < lanes, 0 for lanes up to W; k < kc.
  template <int64_t W>
  static void pack(float* dst, const PanelSource& src, int64_t lanes, int64_t kc) {
    if (!src.k_contiguous) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* row = src.base + k * src.stride;
        for (int64_t l = 0; l < W; l += 16) {
          __m512 v = _mm512_maskz_loadu_ps(lanes_below(lanes - l), row + l);
          if constexpr (kRoundToBf16) v = round_to_bf16(v);
          _mm512_mask_storeu_ps(dst + k * W + l, lanes_below(W - l), v);
        }
      }
      return;
    }
    for (int64_t l0 = 0; l0 < W; l0 += 16) {
      for (int64_t k0 = 0; k0 < kc; k0 += 16) {
        const __mmask16 k_mask = lanes_below(kc - k0);
        __m512 r[16];
#pragma GCC unroll 16
        for (int64_t l = 0; l < 16; ++l) {
          r[l] = l0 + l < lanes ? _mm512_maskz_loadu_ps(k_mask, src.base + (l0 + l) * src.stride + k0)
                                : _mm512_setzero_ps();
          if constexpr (kRoundToBf16) r[l] = round_to_bf16(r[l]);
        }
        transpose16x16(r);
        const int64_t ks = std::min<int64_t>(16, kc - k0);
#pragma GCC unroll 16
        for (int64_t k = 0; k < 16; ++k) {
          if (k < ks) _mm512_mask_storeu_ps(dst + (k0 + k) * W + l0, lanes_below(W - l0), r[k]);
        }
      }
    }
  }

  // c tile (rows x cols of a kMR x kNR tile, row stride ldc) = [c +] a_panel b_panel [+ bias].
  static void microkernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                          int64_t ldc, int rows, int cols, bool add_c, const float* bias) {
    constexpr int MR = kMR, NV = kNR / 16;
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
    // The c tile is read (or, at least, its lines are owned) only after the k loop: start fetching
    // it now, into L2 (rows a power-of-two apart would thrash one L1 set), so the epilogue does not
    // wait on memory when kc is short (K = 128 on our smallest layers).
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i < rows) {
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T1);
      }
    }
    for (int64_t k = 0; k < kc; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + k * kNR + 16 * v);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 ai = _mm512_set1_ps(a[k * MR + i]);
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
      }
    }
    store_tile<MR, NV>(c, ldc, acc, rows, cols, add_c, bias);
  }
};

}  // namespace

Blocking fp32_blocking() {
  using K = Fp32Kernel<false>;
  return {K::kMR, K::kNR, K::kKC, K::kMC, K::kNC};
}

void gemm_fp32_region(const Problem& p, const Region& r) { blocked_loops<Fp32Kernel<false>>(p, r); }
void gemm_bf16_region(const Problem& p, const Region& r) { blocked_loops<Fp32Kernel<true>>(p, r); }

}  // namespace utt::cpu::gemm_detail
#endif
