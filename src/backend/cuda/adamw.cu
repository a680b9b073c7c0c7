// AdamW over one segment of the contiguous parameter buffer, one thread per parameter
// (cuda_math::adamw_element, shared with the CPU test of it).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, int64_t begin, int64_t end,
                             float decay_factor, cuda_math::AdamWConstants constants) {
  for (int64_t i = begin + global_index(); i < end; i += grid_stride()) {
    cuda_math::adamw_element(&params[i], &m[i], &v[i], grads[i], decay_factor, constants);
  }
}

}  // namespace

void adamw_segment(float* params, const float* grads, float* m, float* v, int64_t begin, int64_t end,
                   float decay_factor, const cuda_math::AdamWConstants& constants, cudaStream_t stream) {
  if (end <= begin) return;
  adamw_kernel<<<blocks_for(end - begin), kThreadsPerBlock, 0, stream>>>(params, grads, m, v, begin, end,
                                                                         decay_factor, constants);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
