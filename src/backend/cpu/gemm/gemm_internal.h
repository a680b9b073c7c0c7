// What gemm.cpp (problem checks, thread split) shares with the blocked kernels of each element
// type (gemm_f32.cpp, gemm_bf16.cpp).
#pragma once

#include <cstdint>

namespace utt::cpu::gemm_detail {

struct Problem {
  float* c;
  const float* a;
  const float* b;
  const float* bias;
  int64_t M, N, K;
  bool transpose_a, transpose_b, accumulate;
};

// The part of c one thread computes: rows [m0, m1), columns [n0, n1).
struct Region {
  int64_t m0, m1, n0, n1;
};

// Cache blocking: a microkernel computes an mr x nr tile of c; kc (a multiple of the k-group) is
// the depth of one packed panel; mc rows of a (an L2-resident block) and nc columns of b (an
// L3-resident block) are packed at a time.
struct Blocking {
  int64_t mr, nr, kc, mc, nc;
};

#if defined(__AVX512F__)
inline constexpr bool kHaveFp32Kernels = true;
#else
inline constexpr bool kHaveFp32Kernels = false;
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)
inline constexpr bool kHaveBf16DotKernels = true;
#else
inline constexpr bool kHaveBf16DotKernels = false;
#endif

// Defined only when the kernels are compiled in.
Blocking fp32_blocking();  // also that of kBf16, which runs the fp32 microkernel
Blocking bf16_dot_blocking();
void gemm_fp32_region(const Problem& p, const Region& r);
void gemm_bf16_region(const Problem& p, const Region& r);
void gemm_bf16_dot_region(const Problem& p, const Region& r);

}  // namespace utt::cpu::gemm_detail
