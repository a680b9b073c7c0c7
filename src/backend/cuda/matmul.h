// The CUDA matmul: c (M, N) = [c +] op(a) op(b) [+ bias] (backend.h's row-major convention) through
// cuBLAS, in fp32, or with --use-mixed-precision on bf16-rounded operands with fp32 accumulation
// (the CPU bf16 matmul's semantics). Owns the cuBLAS handle, its workspace and the bf16 operand
// scratch, all allocated before a step (reserve) so that a step never allocates.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace utt::cuda {

class CublasMatmul {
 public:
  CublasMatmul(cudaStream_t stream, bool bf16_operands);
  ~CublasMatmul();
  CublasMatmul(const CublasMatmul&) = delete;
  CublasMatmul& operator=(const CublasMatmul&) = delete;

  // Grows the bf16 scratch to hold operands of `elements` each (no-op in fp32).
  void reserve(int64_t elements);
  void run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
           Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);

 private:
  cudaStream_t stream_;
  bool bf16_;
  cublasHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  void* a16_ = nullptr;  // __nv_bfloat16 scratch for a, then b
  void* b16_ = nullptr;
  int64_t scratch_elements_ = 0;
};

// Elements one bf16 operand scratch needs for every matmul of a `config` model over `rows` rows.
int64_t matmul_operand_elements(const ModelConfig& config, int64_t rows);

}  // namespace utt::cuda
