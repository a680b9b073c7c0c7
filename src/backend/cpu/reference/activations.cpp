// Feed-forward nonlinearities (ReLU, GELU tanh form, SiLU; gated: SwiGLU, GeGLU, ReGLU) and dropout.
#include <cmath>
#include <numbers>

#include "backend/dropout_hash.h"
#include "backend/cpu/reference/ops.h"

namespace utt::reference {

namespace {
constexpr double kGeluCubic = 0.044715;
const double kSqrt2OverPi = std::sqrt(2.0 / std::numbers::pi);
}  // namespace

double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}

double gelu_tanh_derivative(double x) {
  const double th = std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * x * x);
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }

double silu_derivative(double x) {
  const double sigmoid = 1.0 / (1.0 + std::exp(-x));
  return sigmoid * (1.0 + x * (1.0 - sigmoid));
}

namespace {

double activate(double x, Activation act) {
  switch (act) {
    case Activation::kRelu: return x > 0 ? x : 0.0;
    case Activation::kGelu: return gelu_tanh(x);
    case Activation::kSilu: return silu(x);
  }
  return 0;
}

double activate_derivative(double x, Activation act) {
  switch (act) {
    case Activation::kRelu: return x > 0 ? 1.0 : 0.0;
    case Activation::kGelu: return gelu_tanh_derivative(x);
    case Activation::kSilu: return silu_derivative(x);
  }
  return 0;
}

}  // namespace

template <typename S>
void glu_forward(S* out, const S* h, int64_t N, int64_t F, Activation act) {
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t f = 0; f < F; ++f) {
      out[n * F + f] = static_cast<S>(activate(h[n * 2 * F + f], act) * h[n * 2 * F + F + f]);
    }
  }
}

template <typename S>
void glu_backward(S* dh, const S* dout, const S* h, int64_t N, int64_t F, Activation act) {
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t f = 0; f < F; ++f) {
      const double gate = h[n * 2 * F + f];
      const double up = h[n * 2 * F + F + f];
      const double d = dout[n * F + f];
      dh[n * 2 * F + f] = static_cast<S>(d * up * activate_derivative(gate, act));
      dh[n * 2 * F + F + f] = static_cast<S>(d * activate(gate, act));
    }
  }
}

template <typename S>
void activation_forward(S* out, const S* x, int64_t n, Activation act) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<S>(activate(x[i], act));
}

template <typename S>
void activation_backward(S* dx, const S* dout, const S* x, int64_t n, Activation act) {
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<S>(dout[i] * activate_derivative(x[i], act));
}

template <typename S>
void dropout(S* x, int64_t n, float rate, uint64_t key) {
  if (rate <= 0.0f) return;
  const S keep_scale = static_cast<S>(1.0 / (1.0 - static_cast<double>(rate)));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = dropout_uniform(key, i) >= rate ? x[i] * keep_scale : S(0);
  }
}

template <typename S>
void residual_dropout(S* out, const S* residual, const S* x, int64_t n, float rate, uint64_t key) {
  const S keep_scale = static_cast<S>(1.0 / (1.0 - static_cast<double>(rate)));
  for (int64_t i = 0; i < n; ++i) {
    const S dropped = rate <= 0.0f ? x[i] : dropout_uniform(key, i) >= rate ? x[i] * keep_scale : S(0);
    out[i] = residual != nullptr ? residual[i] + dropped : dropped;
  }
}

template void glu_forward<float>(float*, const float*, int64_t, int64_t, Activation);
template void glu_forward<double>(double*, const double*, int64_t, int64_t, Activation);
template void glu_backward<float>(float*, const float*, const float*, int64_t, int64_t, Activation);
template void glu_backward<double>(double*, const double*, const double*, int64_t, int64_t, Activation);
template void activation_forward<float>(float*, const float*, int64_t, Activation);
template void activation_forward<double>(double*, const double*, int64_t, Activation);
template void activation_backward<float>(float*, const float*, const float*, int64_t, Activation);
template void activation_backward<double>(double*, const double*, const double*, int64_t, Activation);
template void dropout<float>(float*, int64_t, float, uint64_t);
template void dropout<double>(double*, int64_t, float, uint64_t);
template void residual_dropout<float>(float*, const float*, const float*, int64_t, float, uint64_t);
template void residual_dropout<double>(double*, const double*, const double*, int64_t, float, uint64_t);

}  // namespace utt::reference
