// Element-wise kernels: fill, add, scale, activations, gated units, dropout. The arithmetic of each
// element is cuda_math's (elementwise_math.h), shared with the CPU test of it.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

__global__ void fill_kernel(float* x, float value, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) x[i] = value;
}
__global__ void add_kernel(float* y, const float* x, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) y[i] += x[i];
}
__global__ void scale_kernel(float* x, float factor, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) x[i] *= factor;
}
__global__ void activation_forward_kernel(float* out, const float* x, int64_t n, int act) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) out[i] = cuda_math::activate(x[i], act);
}
// dx may alias dout: each element is read, then written, by one thread.
__global__ void activation_backward_kernel(float* dx, const float* dout, const float* x, int64_t n, int act) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    dx[i] = dout[i] * cuda_math::activate_derivative(x[i], act);
  }
}
__global__ void glu_forward_kernel(float* out, const float* h, int64_t N, int64_t F, int act) {
  for (int64_t i = global_index(); i < N * F; i += grid_stride()) {
    out[i] = cuda_math::glu_value(h, i / F, i % F, F, act);
  }
}
__global__ void glu_backward_kernel(float* dh, const float* dout, const float* h, int64_t N, int64_t F, int act) {
  for (int64_t i = global_index(); i < N * F; i += grid_stride()) {
    const int64_t n = i / F, f = i % F;
    cuda_math::glu_gradients(&dh[n * 2 * F + f], &dh[n * 2 * F + F + f], dout[i], h[n * 2 * F + f],
                             h[n * 2 * F + F + f], act);
  }
}
// out may alias residual (each element read, then written, by one thread), not x.
__global__ void residual_dropout_kernel(float* out, const float* residual, const float* x, int64_t n, float rate,
                                        float keep_scale, uint64_t key) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const float dropped = cuda_math::dropped(x[i], key, i, rate, keep_scale);
    out[i] = residual != nullptr ? residual[i] + dropped : dropped;
  }
}

}  // namespace

void fill(float* x, float value, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  fill_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, value, n);
  CUDA_CHECK_LAUNCH();
}
void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  add_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(y, x, n);
  CUDA_CHECK_LAUNCH();
}
void scale(float* x, float factor, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  scale_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, factor, n);
  CUDA_CHECK_LAUNCH();
}
void activation_forward(float* out, const float* x, int64_t n, int act, cudaStream_t stream) {
  if (n <= 0) return;
  activation_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(out, x, n, act);
  CUDA_CHECK_LAUNCH();
}
void activation_backward(float* dx, const float* dout, const float* x, int64_t n, int act, cudaStream_t stream) {
  if (n <= 0) return;
  activation_backward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(dx, dout, x, n, act);
  CUDA_CHECK_LAUNCH();
}
void glu_forward(float* out, const float* h, int64_t N, int64_t F, int act, cudaStream_t stream) {
  if (N * F <= 0) return;
  glu_forward_kernel<<<blocks_for(N * F), kThreadsPerBlock, 0, stream>>>(out, h, N, F, act);
  CUDA_CHECK_LAUNCH();
}
void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F, int act,
                  cudaStream_t stream) {
  if (N * F <= 0) return;
  glu_backward_kernel<<<blocks_for(N * F), kThreadsPerBlock, 0, stream>>>(dh, dout, h, N, F, act);
  CUDA_CHECK_LAUNCH();
}
void residual_dropout(float* out, const float* residual, const float* x, int64_t n, float rate,
                      float keep_scale, uint64_t key, cudaStream_t stream) {
  if (n <= 0) return;
  residual_dropout_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(out, residual, x, n, rate,
                                                                          keep_scale, key);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
