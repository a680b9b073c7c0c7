// Matmuls through oneDNN's matmul primitive (its brgemm AVX-512 kernels), the CPU backend's main
// matmul path; backend/cpu/matmul.cpp says when it is used and why.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace utt::cpu {

enum class MatmulType { kFp32, kBf16 };  // element type of a and b; c is always fp32

// The smallest product (multiply-adds) worth a oneDNN primitive: below it, one created for each
// new shape (generation's growing prompts, tests' odd sizes) costs more than it saves.
inline constexpr int64_t kMinOneDnnMatmulWork = int64_t{1} << 21;

// c (M, N) = [c +] op(a) op(b) [+ bias (N)], with Backend::matmul's shapes and transposes. For
// kBf16, a and b point at bf16 elements (uint16_t bit patterns) and products accumulate in fp32.
// The primitive for each distinct problem is created once and cached (creating one costs far more
// than running it on our shapes); results are deterministic for a given problem and thread count.
void onednn_matmul(float* c, const void* a, const void* b, const float* bias, int64_t M, int64_t N,
                   int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate,
                   MatmulType type);

// Whether oneDNN runs bf16 matmuls on this CPU (it needs AVX-512), and whether it runs them on
// AMX tiles (the CPU has AMX-BF16 and the kernel lets this process use it), as oneDNN itself
// reports (dnnl::get_effective_cpu_isa; DNNL_MAX_CPU_ISA lowers it).
bool onednn_runs_bf16();
bool onednn_uses_amx();

}  // namespace utt::cpu
