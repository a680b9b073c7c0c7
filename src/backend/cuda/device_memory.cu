#include "backend/cuda/device_memory.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/out_of_memory.h"
#include "util/text.h"

namespace utt::cuda {

void* DeviceMemory::allocate(int64_t bytes, const std::string& what) {
  bytes = std::max<int64_t>(bytes, 1);
  void* p = nullptr;
  const cudaError_t error = cudaMalloc(&p, static_cast<size_t>(bytes));
  if (error == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky, but the next CUDA_CHECK_LAUNCH would report it: cleared
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw OutOfDeviceMemory("the GPU is out of memory: " + what + " needs " + human_bytes(static_cast<double>(bytes)) +
                                " and " + human_bytes(static_cast<double>(free_bytes)) + " of " +
                                human_bytes(static_cast<double>(total_bytes)) + " are free on " + device_name_ +
                                " (utt holds " + human_bytes(static_cast<double>(held_)) + ")",
                            bytes, static_cast<int64_t>(free_bytes));
  }
  CUDA_CHECK(error);
  sizes_[p] = bytes;
  held_ += bytes;
  peak_ = std::max(peak_, held_);
  return p;
}

void DeviceMemory::release(void* p) {
  if (p == nullptr) return;
  const auto held = sizes_.find(p);
  if (held != sizes_.end()) {
    held_ -= held->second;
    sizes_.erase(held);
  }
  // cudaFree waits for the device; the buffer may still be read by queued ops until then.
  CUDA_CHECK(cudaFree(p));
}

}  // namespace utt::cuda
