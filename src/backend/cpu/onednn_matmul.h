// Matmuls through oneDNN's matmul primitive (its brgemm AVX-512 kernels), the CPU backend's main
// matmul path; backend/cpu/matmul.cpp says when it is used and why.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace utt::cpu {

enum class MatmulType { kFp32, kBf16 };  // element type of a and b; c is always fp32

// c (M, N) = [c +] op(a) op(b) [+ bias (N)], with Backend::matmul's shapes and transposes. For
// kBf16, a and b point at bf16 elements (uint16_t bit patterns) and products accumulate in fp32.
// The primitive for each distinct problem is created once and cached (creating one costs far more
// than running it on our shapes); results are deterministic for a given problem and thread count.
void onednn_matmul(float* c, const void* a, const void* b, const float* bias, int64_t M, int64_t N,
                   int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate,
                   MatmulType type);

}  // namespace utt::cpu
