// The CUDA matmul: c (M, N) = [c +] op(a) op(b) [+ bias] (backend.h's row-major convention) through
// cuBLASLt. fp32 operands by default (TF32 tensor cores only with --tf32); with
// --use-mixed-precision bf16-rounded operands with fp32 accumulation and an fp32 result (the CPU
// bf16 matmul's semantics). The bias is added by cuBLASLt's epilogue when its pointer is aligned
// as the epilogue needs and cuBLASLt has an algorithm for the shape with it, else by a kernel of
// its own after the product.
//
// Memory: the 32 MiB workspace is allocated at construction and the bf16 operand scratch by
// reserve (backend.h's reserve_workspace), so a step never allocates device memory. Each shape's
// descriptors and algorithm (a plan) are made on its first call, host memory only, and reused
// for every later call: a model's first step makes them all.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "backend/backend.h"
#include "backend/cuda/device_memory.h"

namespace utt::cuda {

enum class MatmulPrecision { kFp32, kTf32, kBf16 };

class CublasMatmul {
 public:
  CublasMatmul(cudaStream_t stream, DeviceMemory& memory, MatmulPrecision precision);
  ~CublasMatmul();
  CublasMatmul(const CublasMatmul&) = delete;
  CublasMatmul& operator=(const CublasMatmul&) = delete;

  // Grows the bf16 scratch to hold operands of `elements` each (no-op without bf16).
  void reserve(int64_t elements);
  void run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
           Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);

 private:
  // What a plan depends on: the shape, the transposes, whether the epilogue adds a bias, and the
  // operands' alignments (cuBLASLt picks kernels for the alignment it is promised).
  using PlanKey = std::tuple<int64_t, int64_t, int64_t, bool, bool, bool, int, int, int>;
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool usable = true;  // false: the heuristic had no algorithm (a bias epilogue's plan only)
  };
  const Plan& plan_for(const PlanKey& key);

  cudaStream_t stream_;
  DeviceMemory& memory_;
  MatmulPrecision precision_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  void* a16_ = nullptr;  // __nv_bfloat16 scratch for a, then b
  void* b16_ = nullptr;
  int64_t scratch_elements_ = 0;
  std::map<PlanKey, Plan> plans_;
};

// Elements one bf16 operand scratch needs for every matmul of a `config` model over `rows` rows.
int64_t matmul_operand_elements(const ModelConfig& config, int64_t rows);

// The largest power of two, at most 256, that divides the address: the alignment promised to
// cuBLASLt for an operand there.
int alignment_of(const void* p);

}  // namespace utt::cuda
