// Fused softmax cross-entropy: one warp per row of logits (N, V); losses (N) = logsumexp -
// logit[target]; with write_gradient the row is overwritten with (softmax - onehot) / normalizer.
// A negative target is ignored (loss 0, gradient 0).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

using cuda_math::kWarpLanes;

__global__ void cross_entropy_kernel(float* losses, float* logits, const int32_t* targets, int64_t N, int64_t V,
                                     float normalizer, bool write_gradient) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpLanes;
  const int lane = static_cast<int>(threadIdx.x % kWarpLanes);
  if (n >= N) return;
  float* row = logits + n * V;
  const int32_t target = targets[n];
  if (target < 0) {
    if (lane == 0) losses[n] = 0.0f;
    if (write_gradient) {
      for (int64_t v = lane; v < V; v += kWarpLanes) row[v] = 0.0f;
    }
    return;
  }
  const float largest = warp_max(cuda_math::lane_max(row, V, lane));
  const float log_sum_exp = largest + logf(warp_sum(cuda_math::lane_sum_exp(row, largest, V, lane)));
  // Every lane reads the target's logit before any lane overwrites the row.
  const float target_logit = row[target];
  __syncwarp();
  if (lane == 0) losses[n] = log_sum_exp - target_logit;
  if (write_gradient) {
    for (int64_t v = lane; v < V; v += kWarpLanes) {
      row[v] = cuda_math::cross_entropy_gradient(row[v], log_sum_exp, v == target, normalizer);
    }
  }
}

}  // namespace

void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets, int64_t N, int64_t V,
                                    float normalizer, bool write_gradient, cudaStream_t stream) {
  if (N <= 0) return;
  cross_entropy_kernel<<<blocks_for_rows(N), kThreadsPerBlock, 0, stream>>>(losses, logits, targets, N, V,
                                                                            normalizer, write_gradient);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
