#include "backend/cpu/bf16_matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/bf16.h"
#include "backend/cpu/fma_peak.h"
#include "backend/cpu/gemm/gemm.h"
#include "backend/cpu/onednn_matmul.h"
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

// vdpbf16ps' flop rate over the widest FMA's, measured now on this thread (~0.1 s).
double measure_dot_product_ratio() {
  const double fma = measure_fma_flops_per_second(widest_fma());
  return fma > 0 ? measure_dpbf16_flops_per_second() / fma : 0;
}

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
    if (std::strcmp(forced, "onednn16") == 0 && onednn_runs_bf16()) {
      // Without AMX oneDNN runs vdpbf16ps: its rate is the peak an MFU is taken against.
      const bool amx = onednn_uses_amx();
      const double ratio = amx || !dot_fast ? 0 : measure_dot_product_ratio();
      return {Bf16Kernel::kOneDnn,
              std::string("bf16 matmuls: oneDNN's bf16 kernels") + (amx ? " on AMX tiles" : "") + " (UTT_MATMUL=onednn16)",
              ratio};
    }
  }
  if (onednn_uses_amx()) {
    return {Bf16Kernel::kOneDnn, "bf16 matmuls: oneDNN's AMX kernels (this CPU has AMX-BF16 tiles)"};
  }
  if (!fma_fast) {
    return {Bf16Kernel::kRoundThenFp32,
            "bf16 matmuls: operands rounded, then the fp32 matmul (this build has no AVX-512 kernels)"};
  }
  if (!dot_fast) {
    return {Bf16Kernel::kFmaOnRounded, "bf16 matmuls: FMAs on rounded operands (this CPU has no vdpbf16ps)"};
  }
  const double ratio = measure_dot_product_ratio();
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
  const Bf16Kernel kernel = kernel_.value_or(bf16_kernel_choice().kernel);
  if (kernel == Bf16Kernel::kOneDnn && K > 0 && M > 1 && M * N * K >= kMinOneDnnMatmulWork) {
    const auto size_a = static_cast<size_t>(M * K);
    const auto size_b = static_cast<size_t>(K * N);
    if (a16_.size() < size_a) a16_.resize(size_a);
    if (b16_.size() < size_b) b16_.resize(size_b);
    convert_to_bf16(a16_.data(), a, M * K);  // in stored order: a transposed operand stays so
    convert_to_bf16(b16_.data(), b, K * N);
    onednn_matmul(c, a16_.data(), b16_.data(), bias, M, N, K, transpose_a, transpose_b, accumulate,
                  MatmulType::kBf16);
    return;
  }
  if (kernel == Bf16Kernel::kFmaOnRounded || kernel == Bf16Kernel::kDotProduct) {
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
