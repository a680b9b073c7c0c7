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
#include <optional>
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
// - kOneDnn: oneDNN's bf16 matmul on bf16 copies of the operands, where oneDNN runs it on AMX
//   tiles (a Sapphire Rapids or later Xeon whose kernel grants AMX): tile multiplies outrun both
//   of the above. Small products (below the size the fp32 path sends to oneDNN) are rounded and
//   run in fp32, as kRoundThenFp32. Not yet measured on an AMX machine.
// - kRoundThenFp32: without the AVX-512 kernels, round into scratch and run the fp32 matmul.
// UTT_MATMUL=ours16, ours16dp or onednn16 forces the first three, for comparisons.
enum class Bf16Kernel { kFmaOnRounded, kDotProduct, kOneDnn, kRoundThenFp32 };

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
  // `kernel`: this machine's choice (bf16_kernel_choice) unless given (tests of every kernel).
  explicit Bf16Matmul(std::optional<Bf16Kernel> kernel = std::nullopt) : kernel_(kernel) {}

  // Backend::matmul's contract, with a and b rounded to bf16 first.
  void run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
           int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);

 private:
  std::optional<Bf16Kernel> kernel_;
  // Grown to the largest operands seen, then reused: after the first step, no allocation.
  std::vector<float> a_;
  std::vector<float> b_;
  std::vector<uint16_t> a16_;  // kOneDnn's bf16 copies
  std::vector<uint16_t> b16_;
};

}  // namespace utt::cpu
