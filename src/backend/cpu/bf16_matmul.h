// Matmuls with bfloat16 operands and fp32 accumulation (--use-mixed-precision). Weights stay fp32
// (the master copy the optimizer updates); each call rounds what it multiplies, as autocast does.
//
// Two paths, chosen by measurement (bench/matmul_paths, docs/benchmarks.md):
// - builds with AVX-512 (the default -march=native on such CPUs): backend/cpu/gemm, which rounds
//   both operands to bf16 while packing them and multiplies the rounded values with fp32 FMAs.
//   The product of two bf16 values is exact in fp32, so this is a bf16 matmul with fp32
//   accumulation; on the Xeons we measured, vdpbf16ps (the bf16 dot-product instruction that
//   oneDNN's bf16 kernels use) delivers half the flops of FMAs, and this path ran 1.3-1.6x
//   oneDNN's bf16 matmul, 1.5-2x it with the conversion pass oneDNN needs.
// - otherwise: both operands rounded to bf16 values (kept as floats) into scratch this object
//   owns (grown, then reused), then the fp32 matmul. Exact for the same reason; it runs on every
//   CPU (oneDNN 2.6's bf16 matmul needs AVX-512: on AVX2 machines it cannot be created at all),
//   and where oneDNN's bf16 matmul runs it was no faster than its fp32 one (0.5-0.6x).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace utt::cpu {

// Which kernel runs --use-mixed-precision's matmuls on this machine, chosen once per process:
// - kFmaOnRounded: gemm's GemmType::kBf16 (operands rounded while packing, fp32 FMAs);
// - kDotProduct: gemm's GemmType::kBf16DotProduct (vdpbf16ps), where this CPU runs vdpbf16ps at
//   least kDotProductMinRatio times its FMA flop rate (measured at start-up, ~0.1 s): on the
//   Xeons of docs/benchmarks.md it ran at 1.0x (so the FMA path won, 1.3-1.6x oneDNN's), on an
//   AMD EPYC at 2.0x (so vdpbf16ps doubles the step's matmul rate);
// - kRoundThenFp32: without the AVX-512 kernels, round into scratch and run the fp32 matmul.
// UTT_MATMUL=ours16 or ours16dp forces the first two, for comparisons.
enum class Bf16Kernel { kFmaOnRounded, kDotProduct, kRoundThenFp32 };

inline constexpr double kDotProductMinRatio = 1.5;

struct Bf16KernelChoice {
  Bf16Kernel kernel = Bf16Kernel::kRoundThenFp32;
  std::string reason;  // one line for the run's banner
  double dot_product_ratio = 0;  // vdpbf16ps' flop rate over the FMA's, when measured (else 0)
};

const Bf16KernelChoice& bf16_kernel_choice();

// Rounds n floats to bf16 (round to nearest even), in parallel when n is large.
void convert_to_bf16(uint16_t* dst, const float* src, int64_t n);

// Rounds n floats to the nearest bf16 values, kept as floats.
void round_to_bf16_floats(float* dst, const float* src, int64_t n);

class Bf16Matmul {
 public:
  // Backend::matmul's contract, with a and b rounded to bf16 first.
  void run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
           int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);

 private:
  // Grown to the largest operands seen, then reused: after the first step, no allocation.
  std::vector<float> a_;
  std::vector<float> b_;
};

}  // namespace utt::cpu
