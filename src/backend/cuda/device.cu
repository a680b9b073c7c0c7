// Device discovery for the CUDA backend. A missing driver or GPU is not an error here: it is
// reported, and `--device auto` then trains on the CPU.
#include <cuda_runtime.h>

#include "backend/device.h"

namespace utt {

CudaStatus query_cuda() {
  CudaStatus status;
  status.built = true;
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    status.problem = std::string("no CUDA GPU is visible (") + cudaGetErrorString(error) +
                     "): check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu";
    return status;
  }
  for (int device = 0; device < count; ++device) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, device) != cudaSuccess) continue;
    status.gpus.push_back({properties.name, static_cast<int64_t>(properties.totalGlobalMem)});
  }
  if (status.gpus.empty()) {
    status.problem = "no CUDA GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES, or use "
                     "--device cpu";
  }
  return status;
}

int64_t gpu_free_memory(int device) {
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return static_cast<int64_t>(free_bytes);
}

}  // namespace utt
