// CUDA_CHECK(call): a failing CUDA runtime call is an internal error naming the call, its file and
// line, and CUDA's own description; an out-of-memory is OutOfDeviceMemory, which the run answers
// (a --batch-size auto run backs off once, others get the flags that would fit).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/out_of_memory.h"
#include "util/error.h"

namespace utt::cuda {

inline void check(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // cleared, as DeviceMemory::allocate does
    throw OutOfDeviceMemory(std::string("the GPU is out of memory: ") + call + " failed (" + file + ":" +
                                std::to_string(line) + ")",
                            0, -1);
  }
  if (error != cudaSuccess) {
    fail_check(call, file, line, std::string("CUDA error: ") + cudaGetErrorName(error) + ": " +
                                     cudaGetErrorString(error));
  }
}

}  // namespace utt::cuda

#define CUDA_CHECK(call) ::utt::cuda::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: a bad launch configuration is reported at the launch, not at the next sync.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
