// Rotary position embedding: the cos/sin table (T, HS/2), and the rotation of the first `heads`
// heads of each of B*T rows (row_stride floats apart), in place; the backward is the inverse
// rotation of the gradient. One thread per (row, head, pair).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

__global__ void rope_table_kernel(float* cos_table, float* sin_table, int64_t T, int64_t HS, double theta) {
  const int64_t half = HS / 2;
  for (int64_t k = global_index(); k < T * half; k += grid_stride()) {
    const double angle = cuda_math::rope_angle(k / half, k % half, HS, theta);
    cos_table[k] = static_cast<float>(cos(angle));
    sin_table[k] = static_cast<float>(sin(angle));
  }
}

__global__ void rope_rotate_kernel(float* x, const float* cos_table, const float* sin_table, int64_t N, int64_t T,
                                   int64_t heads, int64_t HS, int64_t row_stride, int direction) {
  const int64_t half = HS / 2;
  for (int64_t k = global_index(); k < N * heads * half; k += grid_stride()) {
    const int64_t i = k % half, h = (k / half) % heads, n = k / (half * heads);
    const int64_t t = n % T;
    float* head = x + n * row_stride + h * HS;
    cuda_math::rope_rotate_pair(&head[i], &head[i + half], cos_table[t * half + i], sin_table[t * half + i],
                                direction);
  }
}

}  // namespace

void rope_table(float* cos_table, float* sin_table, int64_t T, int64_t HS, double theta, cudaStream_t stream) {
  if (T * (HS / 2) <= 0) return;
  rope_table_kernel<<<blocks_for(T * (HS / 2)), kThreadsPerBlock, 0, stream>>>(cos_table, sin_table, T, HS, theta);
  CUDA_CHECK_LAUNCH();
}

void rope_rotate(float* x, const float* cos_table, const float* sin_table, int64_t B, int64_t T, int64_t heads,
                 int64_t HS, int64_t row_stride, int direction, cudaStream_t stream) {
  const int64_t pairs = B * T * heads * (HS / 2);
  if (pairs <= 0) return;
  rope_rotate_kernel<<<blocks_for(pairs), kThreadsPerBlock, 0, stream>>>(x, cos_table, sin_table, B * T, T, heads,
                                                                         HS, row_stride, direction);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
