// Launch shapes shared by the kernels: grid-stride loops over elements, one warp per row.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/row_math.h"

namespace utt::cuda {

constexpr int kThreadsPerBlock = 256;
// Grid-stride loops cover any n; more blocks than this only queue behind the resident ones.
constexpr int64_t kMaxBlocks = 65535;

inline unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + kThreadsPerBlock - 1) / kThreadsPerBlock, 1, kMaxBlocks));
}

constexpr int kRowsPerBlock = kThreadsPerBlock / cuda_math::kWarpLanes;
inline unsigned blocks_for_rows(int64_t rows) {
  return static_cast<unsigned>(std::max<int64_t>((rows + kRowsPerBlock - 1) / kRowsPerBlock, 1));
}

// The butterfly of row_math.h with shuffles: every lane ends with the same value.
__device__ inline float warp_sum(float value) {
  for (int offset = cuda_math::kWarpLanes / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  }
  return value;
}
__device__ inline float warp_max(float value) {
  for (int offset = cuda_math::kWarpLanes / 2; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  return value;
}

__device__ inline int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

}  // namespace utt::cuda
