// RMSNorm and LayerNorm, forward and backward. x (N, C) -> out (N, C); rstd (and mean) (N) saved.
// Rows: one warp per row (row_math.h). Parameter gradients: one thread per column summing the
// rows in order, so dweight and dbias are deterministic without atomics.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

using cuda_math::kWarpLanes;

__device__ inline int64_t warp_row() {
  return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpLanes;
}
__device__ inline int warp_lane() { return static_cast<int>(threadIdx.x % kWarpLanes); }

__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* x, const float* weight, int64_t N,
                                       int64_t C, float eps) {
  const int64_t n = warp_row();
  const int lane = warp_lane();
  if (n >= N) return;
  const float* row = x + n * C;
  const float r = cuda_math::rms_rstd(warp_sum(cuda_math::lane_sum_of_squares(row, C, lane)), C, eps);
  for (int64_t c = lane; c < C; c += kWarpLanes) out[n * C + c] = row[c] * r * weight[c];
  if (lane == 0) rstd[n] = r;
}

__global__ void rmsnorm_backward_dx_kernel(float* dx, const float* dout, const float* x, const float* weight,
                                           const float* rstd, int64_t N, int64_t C) {
  const int64_t n = warp_row();
  const int lane = warp_lane();
  if (n >= N) return;
  const float* row = x + n * C;
  const float* drow = dout + n * C;
  const float mean_g_dot_x =
      warp_sum(cuda_math::lane_rms_g_dot_x(drow, row, weight, C, lane)) / static_cast<float>(C);
  for (int64_t c = lane; c < C; c += kWarpLanes) {
    dx[n * C + c] += cuda_math::rms_dx(drow[c], row[c], weight[c], rstd[n], mean_g_dot_x);
  }
}

// dweight[c] += sum over rows of dout * x * rstd (in double: N may be tens of thousands of rows).
__global__ void rmsnorm_dweight_kernel(float* dweight, const float* dout, const float* x, const float* rstd,
                                       int64_t N, int64_t C) {
  for (int64_t c = global_index(); c < C; c += grid_stride()) {
    double total = 0;
    for (int64_t n = 0; n < N; ++n) total += static_cast<double>(dout[n * C + c]) * x[n * C + c] * rstd[n];
    dweight[c] = static_cast<float>(dweight[c] + total);
  }
}

__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* x, const float* weight,
                                         const float* bias, int64_t N, int64_t C, float eps) {
  const int64_t n = warp_row();
  const int lane = warp_lane();
  if (n >= N) return;
  const float* row = x + n * C;
  const float mu = warp_sum(cuda_math::lane_sum(row, C, lane)) / static_cast<float>(C);
  const float variance = warp_sum(cuda_math::lane_centered_squares(row, mu, C, lane)) / static_cast<float>(C);
  const float r = 1.0f / sqrtf(variance + eps);
  for (int64_t c = lane; c < C; c += kWarpLanes) out[n * C + c] = (row[c] - mu) * r * weight[c] + bias[c];
  if (lane == 0) {
    mean[n] = mu;
    rstd[n] = r;
  }
}

__global__ void layernorm_backward_dx_kernel(float* dx, const float* dout, const float* x, const float* weight,
                                             const float* mean, const float* rstd, int64_t N, int64_t C) {
  const int64_t n = warp_row();
  const int lane = warp_lane();
  if (n >= N) return;
  const float* row = x + n * C;
  const float* drow = dout + n * C;
  float g_sum = 0, g_dot_xhat = 0;
  cuda_math::lane_layernorm_sums(&g_sum, &g_dot_xhat, drow, row, weight, mean[n], rstd[n], C, lane);
  const float g_mean = warp_sum(g_sum) / static_cast<float>(C);
  const float g_dot_xhat_mean = warp_sum(g_dot_xhat) / static_cast<float>(C);
  for (int64_t c = lane; c < C; c += kWarpLanes) {
    dx[n * C + c] += cuda_math::layernorm_dx(drow[c], row[c], weight[c], mean[n], rstd[n], g_mean, g_dot_xhat_mean);
  }
}

// dweight[c] += sum of dout * xhat, dbias[c] += sum of dout, over rows in order.
__global__ void layernorm_parameter_kernel(float* dweight, float* dbias, const float* dout, const float* x,
                                           const float* mean, const float* rstd, int64_t N, int64_t C) {
  for (int64_t c = global_index(); c < C; c += grid_stride()) {
    double weight_total = 0, bias_total = 0;
    for (int64_t n = 0; n < N; ++n) {
      const double d = dout[n * C + c];
      weight_total += d * ((x[n * C + c] - mean[n]) * rstd[n]);
      bias_total += d;
    }
    dweight[c] = static_cast<float>(dweight[c] + weight_total);
    dbias[c] = static_cast<float>(dbias[c] + bias_total);
  }
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int64_t N, int64_t C,
                     float eps, cudaStream_t stream) {
  if (N <= 0) return;
  rmsnorm_forward_kernel<<<blocks_for_rows(N), kThreadsPerBlock, 0, stream>>>(out, rstd, x, weight, N, C, eps);
  CUDA_CHECK_LAUNCH();
}

void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                      const float* rstd, int64_t N, int64_t C, cudaStream_t stream) {
  if (N <= 0) return;
  rmsnorm_backward_dx_kernel<<<blocks_for_rows(N), kThreadsPerBlock, 0, stream>>>(dx, dout, x, weight, rstd, N, C);
  CUDA_CHECK_LAUNCH();
  rmsnorm_dweight_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(dweight, dout, x, rstd, N, C);
  CUDA_CHECK_LAUNCH();
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps, cudaStream_t stream) {
  if (N <= 0) return;
  layernorm_forward_kernel<<<blocks_for_rows(N), kThreadsPerBlock, 0, stream>>>(out, mean, rstd, x, weight, bias,
                                                                                N, C, eps);
  CUDA_CHECK_LAUNCH();
}

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                        cudaStream_t stream) {
  if (N <= 0) return;
  layernorm_backward_dx_kernel<<<blocks_for_rows(N), kThreadsPerBlock, 0, stream>>>(dx, dout, x, weight, mean,
                                                                                    rstd, N, C);
  CUDA_CHECK_LAUNCH();
  layernorm_parameter_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(dweight, dbias, dout, x, mean, rstd,
                                                                             N, C);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
