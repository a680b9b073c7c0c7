// RMSNorm and LayerNorm: rows in parallel; the weight/bias gradients in a second pass over column
// blocks, so each thread owns its columns. The backward runs both passes in one parallel region
// (starting a region costs more than either pass on small models): they write disjoint outputs
// from the same inputs, so no barrier separates them.
#include <algorithm>
#include <cmath>

#include "backend/cpu/ops.h"

namespace utt::cpu {
namespace {

constexpr int64_t kColumnBlock = 64;

// dweight[c] += sum_n dout[n, c] * xhat(n, c), with xhat = (x - mean) * rstd (mean may be null).
// A worksharing loop: called inside a parallel region, the region's threads split the blocks.
void norm_weight_backward(float* dweight, float* dbias, const float* dout, const float* x,
                          const float* mean, const float* rstd, int64_t N, int64_t C) {
#pragma omp for schedule(static)
  for (int64_t block = 0; block < C; block += kColumnBlock) {
    const int64_t width = std::min(kColumnBlock, C - block);
    float dw[kColumnBlock] = {};
    float db[kColumnBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const float* xrow = x + n * C + block;
      const float* drow = dout + n * C + block;
      const float mu = mean != nullptr ? mean[n] : 0.0f;
      const float r = rstd[n];
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) {
        dw[c] += drow[c] * (xrow[c] - mu) * r;
        db[c] += drow[c];
      }
    }
    for (int64_t c = 0; c < width; ++c) {
      dweight[block + c] += dw[c];
      if (dbias != nullptr) dbias[block + c] += db[c];
    }
  }
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int64_t N,
                     int64_t C, float eps) {
#pragma omp parallel for if ((N * C) >= kMinParallelWork)
  for (int64_t n = 0; n < N; ++n) {
    const float* row = x + n * C;
    float sum_squares = 0;
#pragma omp simd reduction(+ : sum_squares)
    for (int64_t c = 0; c < C; ++c) sum_squares += row[c] * row[c];
    const float r = 1.0f / std::sqrt(sum_squares / static_cast<float>(C) + eps);
    float* o = out + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) o[c] = row[c] * r * weight[c];
    rstd[n] = r;
  }
}

namespace {

// dx rows += ; a worksharing loop without the closing barrier (see the file comment).
void rmsnorm_backward_rows(float* dx, const float* dout, const float* x, const float* weight,
                           const float* rstd, int64_t N, int64_t C) {
#pragma omp for schedule(static) nowait
  for (int64_t n = 0; n < N; ++n) {
    const float* row = x + n * C;
    const float* drow = dout + n * C;
    const float r = rstd[n];
    float g_dot_x = 0;
#pragma omp simd reduction(+ : g_dot_x)
    for (int64_t c = 0; c < C; ++c) g_dot_x += drow[c] * weight[c] * row[c];
    const float coefficient = r * r * r * g_dot_x / static_cast<float>(C);
    float* dxrow = dx + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dxrow[c] += r * drow[c] * weight[c] - coefficient * row[c];
  }
}

}  // namespace

void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x,
                      const float* weight, const float* rstd, int64_t N, int64_t C) {
#pragma omp parallel if ((N * C) >= kMinParallelWork)
  {
    rmsnorm_backward_rows(dx, dout, x, weight, rstd, N, C);
    norm_weight_backward(dweight, nullptr, dout, x, nullptr, rstd, N, C);
  }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if ((N * C) >= kMinParallelWork)
  for (int64_t n = 0; n < N; ++n) {
    const float* row = x + n * C;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += row[c];
    const float mu = sum / static_cast<float>(C);
    float sum_squares = 0;
#pragma omp simd reduction(+ : sum_squares)
    for (int64_t c = 0; c < C; ++c) sum_squares += (row[c] - mu) * (row[c] - mu);
    const float r = 1.0f / std::sqrt(sum_squares / static_cast<float>(C) + eps);
    float* o = out + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) o[c] = (row[c] - mu) * r * weight[c] + bias[c];
    mean[n] = mu;
    rstd[n] = r;
  }
}

namespace {

// dx rows += ; a worksharing loop without the closing barrier (see the file comment).
void layernorm_backward_rows(float* dx, const float* dout, const float* x, const float* weight,
                             const float* mean, const float* rstd, int64_t N, int64_t C) {
#pragma omp for schedule(static) nowait
  for (int64_t n = 0; n < N; ++n) {
    const float* row = x + n * C;
    const float* drow = dout + n * C;
    const float mu = mean[n];
    const float r = rstd[n];
    float g_sum = 0;
    float g_dot_xhat = 0;
#pragma omp simd reduction(+ : g_sum, g_dot_xhat)
    for (int64_t c = 0; c < C; ++c) {
      const float g = drow[c] * weight[c];
      g_sum += g;
      g_dot_xhat += g * (row[c] - mu) * r;
    }
    const float g_mean = g_sum / static_cast<float>(C);
    const float g_dot_xhat_mean = g_dot_xhat / static_cast<float>(C);
    float* dxrow = dx + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float xhat = (row[c] - mu) * r;
      dxrow[c] += r * (drow[c] * weight[c] - g_mean - xhat * g_dot_xhat_mean);
    }
  }
}

}  // namespace

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C) {
#pragma omp parallel if ((N * C) >= kMinParallelWork)
  {
    layernorm_backward_rows(dx, dout, x, weight, mean, rstd, N, C);
    norm_weight_backward(dweight, dbias, dout, x, mean, rstd, N, C);
  }
}

}  // namespace utt::cpu
