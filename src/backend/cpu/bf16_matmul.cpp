#include "backend/cpu/bf16_matmul.h"

#include <algorithm>

#include "backend/bf16.h"
#include "backend/cpu/gemm/gemm.h"
#include "backend/cpu/ops.h"

namespace utt::cpu {

void convert_to_bf16(uint16_t* dst, const float* src, int64_t n) {
  constexpr int64_t kChunk = 1 << 14;
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork * 4)
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = std::min(n, begin + kChunk);
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) dst[i] = float_to_bf16(src[i]);
  }
}

void round_to_bf16_floats(float* dst, const float* src, int64_t n) {
  constexpr int64_t kChunk = 1 << 14;
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork * 4)
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = std::min(n, begin + kChunk);
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) dst[i] = round_to_bf16(src[i]);
  }
}

void Bf16Matmul::run(float* c, const float* a, const float* b, const float* bias, int64_t M,
                     int64_t N, int64_t K, Transpose transpose_a, Transpose transpose_b,
                     Accumulate accumulate) {
  if (gemm_is_fast(GemmType::kBf16)) {
    // Our kernel rounds while packing: no conversion pass, no bf16 copies (see the header).
    gemm(c, a, b, bias, M, N, K, transpose_a, transpose_b, accumulate, GemmType::kBf16);
    return;
  }
  // Nothing to multiply (an empty sum leaves c = [c +] bias): the fp32 matmul handles it.
  if (M == 0 || N == 0 || K == 0) {
    return matmul(c, a, b, bias, M, N, K, transpose_a, transpose_b, accumulate);
  }
  const auto size_a = static_cast<size_t>(M * K);
  const auto size_b = static_cast<size_t>(K * N);
  if (a_.size() < size_a) a_.resize(size_a);
  if (b_.size() < size_b) b_.resize(size_b);
  // Layout is kept: a transposed operand is rounded in its stored order. The rounded values are
  // stored as floats and multiplied by the fp32 matmul: products of bf16 values are exact in
  // fp32, so this is a bf16 matmul with fp32 accumulation, on any CPU (oneDNN 2.6's own bf16
  // matmul needs AVX-512 and refuses AVX2 machines).
  round_to_bf16_floats(a_.data(), a, M * K);
  round_to_bf16_floats(b_.data(), b, K * N);
  matmul(c, a_.data(), b_.data(), bias, M, N, K, transpose_a, transpose_b, accumulate);
}

}  // namespace utt::cpu
