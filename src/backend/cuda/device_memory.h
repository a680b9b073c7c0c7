// The CUDA backend's device memory: every cudaMalloc of the backend (buffers, the matmul's
// workspace and bf16 scratch, the reductions' partials) goes through here, so the peak is counted
// in one place and an allocation that does not fit is one clear error (OutOfDeviceMemory, naming
// the bytes asked and free) instead of an internal one.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

namespace utt::cuda {

class DeviceMemory {
 public:
  explicit DeviceMemory(std::string device_name) : device_name_(std::move(device_name)) {}
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // `bytes` (at least 1) of device memory, not initialized. `what` names it in the error
  // ("a buffer of 1,048,576 floats", "the matmul workspace").
  void* allocate(int64_t bytes, const std::string& what);
  void release(void* p);  // null is fine
  int64_t held_bytes() const { return held_; }
  int64_t peak_bytes() const { return peak_; }

 private:
  std::string device_name_;
  std::unordered_map<void*, int64_t> sizes_;
  int64_t held_ = 0;
  int64_t peak_ = 0;
};

}  // namespace utt::cuda
