#include "backend/cpu/bf16_matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/bf16.h"
#include "backend/cpu/fma_peak.h"
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

namespace {

Bf16KernelChoice choose_bf16_kernel() {
  const bool fma_fast = gemm_is_fast(GemmType::kBf16);
  const bool dot_fast = gemm_is_fast(GemmType::kBf16DotProduct) && __builtin_cpu_supports("avx512bf16");
  if (const char* forced = std::getenv("UTT_MATMUL")) {
    if (std::strcmp(forced, "ours16") == 0 && fma_fast) {
      return {Bf16Kernel::kFmaOnRounded, "bf16 matmuls: FMAs on rounded operands (UTT_MATMUL=ours16)"};
    }
    if (std::strcmp(forced, "ours16dp") == 0 && dot_fast) {
      return {Bf16Kernel::kDotProduct, "bf16 matmuls: vdpbf16ps (UTT_MATMUL=ours16dp)"};
    }
  }
  if (!fma_fast) {
    return {Bf16Kernel::kRoundThenFp32,
            "bf16 matmuls: operands rounded, then the fp32 matmul (this build has no AVX-512 kernels)"};
  }
  if (!dot_fast) {
    return {Bf16Kernel::kFmaOnRounded, "bf16 matmuls: FMAs on rounded operands (this CPU has no vdpbf16ps)"};
  }
  const double fma = measure_fma_flops_per_second(widest_fma());
  const double dot = measure_dpbf16_flops_per_second();
  const double ratio = fma > 0 ? dot / fma : 0;
  if (ratio >= kDotProductMinRatio) {
    return {Bf16Kernel::kDotProduct,
            fmt::format("bf16 matmuls: vdpbf16ps, measured at {:.2f}x the FMA flop rate here (FMAs on rounded "
                        "operands below {:.1f}x)", ratio, kDotProductMinRatio),
            ratio};
  }
  return {Bf16Kernel::kFmaOnRounded,
          fmt::format("bf16 matmuls: FMAs on rounded operands; vdpbf16ps measured at {:.2f}x the FMA flop rate "
                      "here (it takes over from {:.1f}x)", ratio, kDotProductMinRatio),
          ratio};
}

}  // namespace

const Bf16KernelChoice& bf16_kernel_choice() {
  static const Bf16KernelChoice choice = choose_bf16_kernel();
  return choice;
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
  const Bf16Kernel kernel = bf16_kernel_choice().kernel;
  if (kernel != Bf16Kernel::kRoundThenFp32) {
    // Our kernels round while packing: no conversion pass, no bf16 copies (see the header).
    gemm(c, a, b, bias, M, N, K, transpose_a, transpose_b, accumulate,
         kernel == Bf16Kernel::kDotProduct ? GemmType::kBf16DotProduct : GemmType::kBf16);
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
