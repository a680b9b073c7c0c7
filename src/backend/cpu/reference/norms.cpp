// RMSNorm and LayerNorm, forward and backward.
#include <cmath>

#include "backend/cpu/reference/ops.h"

namespace utt::reference {

// out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps).
template <typename S>
void rmsnorm_forward(S* out, S* rstd, const S* x, const S* weight, int64_t N, int64_t C, double eps) {
  for (int64_t n = 0; n < N; ++n) {
    const S* row = x + n * C;
    double sum_squares = 0;
    for (int64_t c = 0; c < C; ++c) sum_squares += static_cast<double>(row[c]) * row[c];
    const double r = 1.0 / std::sqrt(sum_squares / static_cast<double>(C) + eps);
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = static_cast<S>(row[c] * r * weight[c]);
    rstd[n] = static_cast<S>(r);
  }
}

// dx_i = r * g_i - r^3 * x_i * mean(g . x), with g = dout * w.
template <typename S>
void rmsnorm_backward(S* dx, S* dweight, const S* dout, const S* x, const S* weight, const S* rstd,
                      int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    const S* row = x + n * C;
    const S* drow = dout + n * C;
    const double r = rstd[n];
    double g_dot_x = 0;
    for (int64_t c = 0; c < C; ++c) g_dot_x += static_cast<double>(drow[c]) * weight[c] * row[c];
    const double mean_g_dot_x = g_dot_x / static_cast<double>(C);
    for (int64_t c = 0; c < C; ++c) {
      const double g = static_cast<double>(drow[c]) * weight[c];
      dx[n * C + c] = static_cast<S>(dx[n * C + c] + r * g - r * r * r * row[c] * mean_g_dot_x);
      dweight[c] = static_cast<S>(dweight[c] + static_cast<double>(drow[c]) * row[c] * r);
    }
  }
}

// out = (x - mean) * rstd * w + b, with the biased variance.
template <typename S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* x, const S* weight, const S* bias,
                       int64_t N, int64_t C, double eps) {
  for (int64_t n = 0; n < N; ++n) {
    const S* row = x + n * C;
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += row[c];
    const double mu = sum / static_cast<double>(C);
    double sum_squares = 0;
    for (int64_t c = 0; c < C; ++c) sum_squares += (row[c] - mu) * (row[c] - mu);
    const double r = 1.0 / std::sqrt(sum_squares / static_cast<double>(C) + eps);
    for (int64_t c = 0; c < C; ++c) {
      out[n * C + c] = static_cast<S>((row[c] - mu) * r * weight[c] + bias[c]);
    }
    mean[n] = static_cast<S>(mu);
    rstd[n] = static_cast<S>(r);
  }
}

// dx_i = rstd * (g_i - mean(g) - xhat_i * mean(g . xhat)), with g = dout * w.
template <typename S>
void layernorm_backward(S* dx, S* dweight, S* dbias, const S* dout, const S* x, const S* weight,
                        const S* mean, const S* rstd, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    const S* row = x + n * C;
    const S* drow = dout + n * C;
    const double mu = mean[n];
    const double r = rstd[n];
    double g_sum = 0;
    double g_dot_xhat = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double g = static_cast<double>(drow[c]) * weight[c];
      g_sum += g;
      g_dot_xhat += g * (row[c] - mu) * r;
    }
    const double g_mean = g_sum / static_cast<double>(C);
    const double g_dot_xhat_mean = g_dot_xhat / static_cast<double>(C);
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (row[c] - mu) * r;
      const double g = static_cast<double>(drow[c]) * weight[c];
      dx[n * C + c] = static_cast<S>(dx[n * C + c] + r * (g - g_mean - xhat * g_dot_xhat_mean));
      dweight[c] = static_cast<S>(dweight[c] + drow[c] * xhat);
      dbias[c] = static_cast<S>(dbias[c] + drow[c]);
    }
  }
}

template void rmsnorm_forward<float>(float*, float*, const float*, const float*, int64_t, int64_t, double);
template void rmsnorm_forward<double>(double*, double*, const double*, const double*, int64_t, int64_t,
                                      double);
template void rmsnorm_backward<float>(float*, float*, const float*, const float*, const float*,
                                      const float*, int64_t, int64_t);
template void rmsnorm_backward<double>(double*, double*, const double*, const double*, const double*,
                                       const double*, int64_t, int64_t);
template void layernorm_forward<float>(float*, float*, float*, const float*, const float*,
                                       const float*, int64_t, int64_t, double);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*,
                                        const double*, int64_t, int64_t, double);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*,
                                        const float*, const float*, const float*, int64_t, int64_t);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*,
                                         const double*, const double*, const double*, int64_t,
                                         int64_t);

}  // namespace utt::reference
