// The per-row arithmetic of the CUDA row kernels (RMSNorm, LayerNorm, softmax cross-entropy): one
// warp per row, each of its 32 lanes reducing the columns c = lane, lane + 32, ... in order, then
// the lanes' partial results combined by a butterfly (lane l adds lane l ^ 16, ^ 8, ... ^ 1). Both
// orders are fixed, so a row's result never depends on scheduling (backend.h's determinism).
//
// Host and device build these functions: the kernels call them per lane and combine with warp
// shuffles; tests/unit/backend/cuda_math_test.cpp runs the same lanes in a loop, combines them
// with butterfly_host (the shuffles' order) and compares with the reference kernels.
#pragma once

#include <math.h>

#include <cstdint>

#include "backend/host_device.h"

namespace utt::cuda_math {

constexpr int kWarpLanes = 32;

// ---- reductions over one lane's columns --------------------------------------------------------
UTT_HOST_DEVICE float lane_sum(const float* row, int64_t C, int lane) {
  float total = 0.0f;
  for (int64_t c = lane; c < C; c += kWarpLanes) total += row[c];
  return total;
}
UTT_HOST_DEVICE float lane_sum_of_squares(const float* row, int64_t C, int lane) {
  float total = 0.0f;
  for (int64_t c = lane; c < C; c += kWarpLanes) total += row[c] * row[c];
  return total;
}
UTT_HOST_DEVICE float lane_centered_squares(const float* row, float mean, int64_t C, int lane) {
  float total = 0.0f;
  for (int64_t c = lane; c < C; c += kWarpLanes) total += (row[c] - mean) * (row[c] - mean);
  return total;
}
UTT_HOST_DEVICE float lane_max(const float* row, int64_t C, int lane) {
  float largest = -INFINITY;
  for (int64_t c = lane; c < C; c += kWarpLanes) largest = fmaxf(largest, row[c]);
  return largest;
}
UTT_HOST_DEVICE float lane_sum_exp(const float* row, float shift, int64_t C, int lane) {
  float total = 0.0f;
  for (int64_t c = lane; c < C; c += kWarpLanes) total += expf(row[c] - shift);
  return total;
}

// The host's copy of the warp butterfly: after it, every lane holds the same combination (a + b
// equals b + a exactly), which is what the shuffles leave in lane 0.
inline float butterfly_sum_host(float lanes[kWarpLanes]) {
  for (int offset = kWarpLanes / 2; offset > 0; offset /= 2) {
    float next[kWarpLanes];
    for (int l = 0; l < kWarpLanes; ++l) next[l] = lanes[l] + lanes[l ^ offset];
    for (int l = 0; l < kWarpLanes; ++l) lanes[l] = next[l];
  }
  return lanes[0];
}
inline float butterfly_max_host(float lanes[kWarpLanes]) {
  for (int offset = kWarpLanes / 2; offset > 0; offset /= 2) {
    float next[kWarpLanes];
    for (int l = 0; l < kWarpLanes; ++l) next[l] = fmaxf(lanes[l], lanes[l ^ offset]);
    for (int l = 0; l < kWarpLanes; ++l) lanes[l] = next[l];
  }
  return lanes[0];
}

// ---- RMSNorm: out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) ----------------------------
UTT_HOST_DEVICE float rms_rstd(float sum_of_squares, int64_t C, float eps) {
  return 1.0f / sqrtf(sum_of_squares / static_cast<float>(C) + eps);
}
// Backward, per row: the lane's part of sum(g . x), g = dout * w.
UTT_HOST_DEVICE float lane_rms_g_dot_x(const float* drow, const float* row, const float* weight, int64_t C,
                                       int lane) {
  float total = 0.0f;
  for (int64_t c = lane; c < C; c += kWarpLanes) total += drow[c] * weight[c] * row[c];
  return total;
}
// dx_c += r g_c - r^3 x_c mean(g . x).
UTT_HOST_DEVICE float rms_dx(float dout, float x, float w, float rstd, float mean_g_dot_x) {
  return rstd * dout * w - rstd * rstd * rstd * x * mean_g_dot_x;
}

// ---- LayerNorm: out = (x - mean) * rstd * w + b, biased variance -------------------------------
// Backward, per row: the lane's parts of sum(g) and sum(g . xhat).
UTT_HOST_DEVICE void lane_layernorm_sums(float* g_sum, float* g_dot_xhat, const float* drow, const float* row,
                                         const float* weight, float mean, float rstd, int64_t C, int lane) {
  float a = 0.0f, b = 0.0f;
  for (int64_t c = lane; c < C; c += kWarpLanes) {
    const float g = drow[c] * weight[c];
    a += g;
    b += g * (row[c] - mean) * rstd;
  }
  *g_sum = a;
  *g_dot_xhat = b;
}
// dx_c += rstd (g_c - mean(g) - xhat_c mean(g . xhat)).
UTT_HOST_DEVICE float layernorm_dx(float dout, float x, float w, float mean, float rstd, float g_mean,
                                   float g_dot_xhat_mean) {
  const float xhat = (x - mean) * rstd;
  return rstd * (dout * w - g_mean - xhat * g_dot_xhat_mean);
}

// ---- softmax cross-entropy of one row ----------------------------------------------------------
// d(loss)/d(logit_v) = (softmax_v - [v == target]) / normalizer.
UTT_HOST_DEVICE float cross_entropy_gradient(float logit, float log_sum_exp, bool is_target, float normalizer) {
  return (expf(logit - log_sum_exp) - (is_target ? 1.0f : 0.0f)) / normalizer;
}

}  // namespace utt::cuda_math
