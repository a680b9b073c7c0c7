// The one place a run's backend is made: the device plan says which kind, the build says which
// kinds exist (backend/cuda or backend/no_cuda provide the CUDA side).
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace utt {

enum class BackendKind { kCpu, kCuda };

struct BackendChoice {
  BackendKind kind = BackendKind::kCpu;
  int threads = 0;               // CPU threads (OpenMP and OpenBLAS); 0 = one per core
  bool mixed_precision = false;  // --use-mixed-precision: bf16 matmul operands, fp32 accumulation
  bool tf32 = false;             // --tf32: fp32 matmuls may round operands to TF32 (CUDA only)
  int device = 0;                // CUDA device ordinal: a rank's place among its machine's ranks
};

// Throws UserError when the kind cannot train here: CUDA not built, no GPU visible, or a CUDA
// backend without a kernel for some op (the message lists them).
std::unique_ptr<Backend> make_backend(const BackendChoice& choice);

// Which kernels the choice's matmuls run on and why, for the run's banner: on the CPU with
// mixed precision, the bf16 kernel this machine measured fastest (backend/cpu/bf16_matmul.h);
// empty otherwise.
std::string describe_matmul_kernels(const BackendChoice& choice);

}  // namespace utt
