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
// - otherwise: both operands rounded into scratch this object owns (grown, then reused), then
//   oneDNN's bf16 matmul.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace utt::cpu {

// Rounds n floats to bf16 (round to nearest even), in parallel when n is large.
void convert_to_bf16(uint16_t* dst, const float* src, int64_t n);

class Bf16Matmul {
 public:
  // Backend::matmul's contract, with a and b rounded to bf16 first.
  void run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
           int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);

 private:
  // Grown to the largest operands seen, then reused: after the first step, no allocation.
  std::vector<uint16_t> a_;
  std::vector<uint16_t> b_;
};

}  // namespace utt::cpu
