// The CPU backend: host memory, optimized kernels (backend/cpu), or in reference mode the plain
// reference kernels (backend/cpu/reference) for every op, so whole-model runs can be compared.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace utt {

struct CpuBackendOptions {
  // Run every op with the reference kernels: no BLAS, no threads, double accumulation.
  bool reference_mode = false;
  // Threads for OpenMP and OpenBLAS alike; 0 = one per core.
  int threads = 0;
  // --use-mixed-precision: every matmul rounds its operands to bfloat16 and accumulates in fp32;
  // everything else (weights, optimizer, norms, attention, softmax, loss) stays fp32.
  bool bf16_matmuls = false;
};

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options = {});

}  // namespace utt
