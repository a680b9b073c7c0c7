// CUDA_CHECK(call): a failing CUDA runtime call is an internal error naming the call, its file and
// line, and CUDA's own description (an out-of-memory error included, until the run answers it
// with the flags that would fit).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "util/error.h"

namespace utt::cuda {

inline void check(cudaError_t error, const char* call, const char* file, int line) {
  if (error != cudaSuccess) {
    fail_check(call, file, line, std::string("CUDA error: ") + cudaGetErrorName(error) + ": " +
                                     cudaGetErrorString(error));
  }
}

}  // namespace utt::cuda

#define CUDA_CHECK(call) ::utt::cuda::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: a bad launch configuration is reported at the launch, not at the next sync.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
