// The CUDA backend's constructor. The CUDA build implements it in backend/cuda/cuda_backend.cu; a
// build without CUDA in backend/no_cuda/cuda_backend.cpp, which refuses with the reason.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace utt {

struct CudaBackendOptions {
  int device = 0;             // CUDA device ordinal
  bool bf16_matmuls = false;  // --use-mixed-precision (docs/architecture.md, "bf16 on the GPU")
  bool tf32_matmuls = false;  // --tf32: fp32 matmuls on TF32 tensor cores (operands rounded to 10 bits)
};

// Throws UserError when CUDA is not built or no GPU is visible. The backend may lack kernels for
// some ops (Backend::supports says which); make_backend refuses such a backend for a run.
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options);

}  // namespace utt
