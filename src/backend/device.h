// Which compute devices this machine and this build offer. The CUDA build implements this in
// backend/cuda/device.cu; a build without CUDA in backend/no_cuda/device.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace utt {

struct GpuInfo {
  std::string name;
  int64_t memory_bytes = 0;
};

struct CudaStatus {
  bool built = false;          // this binary has the CUDA backend
  std::vector<GpuInfo> gpus;   // visible GPUs (empty without a driver or a device)
  std::string problem;         // why none is visible, when built but empty
};

CudaStatus query_cuda();

// Bytes free on GPU `device` now, other processes' use deducted (cudaMemGetInfo, which makes
// this process's context there, as training on it will); -1 when they cannot be read.
int64_t gpu_free_memory(int device);

}  // namespace utt
