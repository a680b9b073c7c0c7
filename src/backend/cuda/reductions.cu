// Reductions: bias gradients (column sums) and the sums the trainer reads back (loss, gradient
// norm). Fixed shapes and fixed orders throughout, so results are identical run after run.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

// dbias[o] += sum over rows of dout[n][o], in row order, in double.
__global__ void bias_backward_kernel(float* dbias, const float* dout, int64_t N, int64_t OC) {
  for (int64_t o = global_index(); o < OC; o += grid_stride()) {
    double total = 0;
    for (int64_t n = 0; n < N; ++n) total += dout[n * OC + o];
    dbias[o] = static_cast<float>(dbias[o] + total);
  }
}

// Halves the block's values pairwise until thread 0 holds their sum (a fixed tree).
__device__ double block_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreadsPerBlock / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

// First pass: always kReductionBlocks blocks, so the partition of x does not depend on the GPU.
__global__ void partial_sums_kernel(double* partials, const float* x, int64_t n, bool squares) {
  __shared__ double shared[kThreadsPerBlock];
  double total = 0;
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const double value = x[i];
    total += squares ? value * value : value;
  }
  const double block_total = block_sum(total, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = block_total;
}

__global__ void final_sum_kernel(double* result, const double* partials) {
  __shared__ double shared[kThreadsPerBlock];
  double total = 0;
  for (int i = threadIdx.x; i < kReductionBlocks; i += kThreadsPerBlock) total += partials[i];
  const double block_total = block_sum(total, shared);
  if (threadIdx.x == 0) *result = block_total;
}

}  // namespace

void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC, cudaStream_t stream) {
  if (OC <= 0) return;
  bias_backward_kernel<<<blocks_for(OC), kThreadsPerBlock, 0, stream>>>(dbias, dout, N, OC);
  CUDA_CHECK_LAUNCH();
}

void sum(double* result, double* partials, const float* x, int64_t n, bool squares, cudaStream_t stream) {
  partial_sums_kernel<<<kReductionBlocks, kThreadsPerBlock, 0, stream>>>(partials, x, n, squares);
  CUDA_CHECK_LAUNCH();
  final_sum_kernel<<<1, kThreadsPerBlock, 0, stream>>>(result, partials);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
