// Matmuls with bfloat16 operands and fp32 accumulation (--use-mixed-precision): both operands are
// rounded to bf16 into scratch this object owns, then multiplied by oneDNN's bf16 kernels into an
// fp32 result. Weights stay fp32 (the master copy the optimizer updates); each call rounds what it
// multiplies, as autocast does.
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
