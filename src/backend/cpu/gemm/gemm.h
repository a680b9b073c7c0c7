// Matrix multiplication kernels of our own: GotoBLAS-style cache blocking (packed panels of a and
// b, a register-blocked AVX-512 microkernel), fp32 or bf16 products with fp32 accumulation, on the
// OpenMP threads. bf16 rounds the fp32 operands while packing them, so no separate conversion
// pass and no bf16 copy of the operands exist.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace utt::cpu {

enum class GemmType {
  kFp32,  // fp32 products (vfmadd231ps)
  // Operands rounded to bf16 exactly as utt::float_to_bf16 does (ties to even), exact products,
  // fp32 accumulation: --use-mixed-precision's matmul. Runs the fp32 microkernel on the rounded
  // operands, twice vdpbf16ps's speed on our cores (gemm_f32.cpp says why).
  kBf16,
  // The same product through vdpbf16ps on bf16 k-pairs; the hardware conversion flushes fp32
  // subnormals (|x| < 2^-126) to zero, where utt::float_to_bf16 keeps them. Kept for comparison
  // (bench/matmul_paths) and for CPUs whose vdpbf16ps runs at full rate.
  kBf16DotProduct,
};

// Backend::matmul's contract: c (M, N) = [c +] op(a) op(b) [+ bias (N)], row-major, fp32 in and
// out; a is stored (M, K), or (K, M) when transposed; b is stored (K, N), or (N, K) when
// transposed. Runs on up to omp_get_max_threads() threads (call it from outside a parallel
// region); every element of c is summed in the same order whatever the thread count, so results
// are bit-for-bit reproducible. Scratch is per thread, grown on demand and then reused.
void gemm(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
          int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate,
          GemmType type);

// Whether gemm runs the AVX-512 kernels for this type (compiled in: needs -march with AVX512F, and
// AVX512_BF16 for kBf16DotProduct). Otherwise gemm is a plain, slow loop (correct, for builds with
// -DUTT_CPU_NATIVE=OFF): callers should then prefer a library.
bool gemm_is_fast(GemmType type);

}  // namespace utt::cpu
