// The per-element arithmetic of the CUDA element-wise kernels (activations, gated units, dropout,
// AdamW), in fp32 as the kernels compute it. Host and device both build these functions: the
// kernels call them per thread, and tests/unit/backend/cuda_math_test.cpp runs them in plain loops
// against the reference kernels, so the arithmetic is tested on every machine, GPU or not.
#pragma once

#include <math.h>

#include <cstdint>

#include "backend/dropout_hash.h"
#include "backend/host_device.h"

namespace utt::cuda_math {

// The activation as an int, not config's enum class: kernels take plain values.
enum ActivationCode : int { kRelu = 0, kGelu = 1, kSilu = 2 };

constexpr float kGeluCubic = 0.044715f;
constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2 / pi)

UTT_HOST_DEVICE float activate(float x, int act) {
  if (act == kRelu) return x > 0.0f ? x : 0.0f;
  if (act == kGelu) return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
  return x / (1.0f + expf(-x));  // silu
}

UTT_HOST_DEVICE float activate_derivative(float x, int act) {
  if (act == kRelu) return x > 0.0f ? 1.0f : 0.0f;
  if (act == kGelu) {
    const float th = tanhf(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
  }
  const float sigmoid = 1.0f / (1.0f + expf(-x));
  return sigmoid * (1.0f + x * (1.0f - sigmoid));
}

// Gated unit, element f of row n: h's row is gate [0, F) then up [F, 2F).
UTT_HOST_DEVICE float glu_value(const float* h, int64_t n, int64_t f, int64_t F, int act) {
  return activate(h[n * 2 * F + f], act) * h[n * 2 * F + F + f];
}
// Its two gradients: d(gate) and d(up).
UTT_HOST_DEVICE void glu_gradients(float* dgate, float* dup, float dout, float gate, float up, int act) {
  *dgate = dout * up * activate_derivative(gate, act);
  *dup = dout * activate(gate, act);
}

// Dropout of element i: kept values scaled by 1 / (1 - rate), the mask from the shared
// counter-based hash (backend/dropout_hash.h), so CPU and GPU drop the same elements.
UTT_HOST_DEVICE float dropped(float x, uint64_t key, int64_t i, float rate, float keep_scale) {
  if (rate <= 0.0f) return x;
  return dropout_uniform(key, i) >= rate ? x * keep_scale : 0.0f;
}

// RoPE (rotate-half pairing: dimension i of a head with i + HS/2). The table's angle
// t * theta^(-2i/HS) in double, as the reference computes it.
UTT_HOST_DEVICE double rope_angle(int64_t t, int64_t i, int64_t HS, double theta) {
  return static_cast<double>(t) * pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(HS));
}
// Rotates the pair (x0, x1) by the table's angle; direction -1 is the inverse (the backward).
// In double, as the reference: the rotation of float inputs then rounds once.
UTT_HOST_DEVICE void rope_rotate_pair(float* x0, float* x1, float cos_value, float sin_value, int direction) {
  const double c = cos_value;
  const double s = direction * static_cast<double>(sin_value);
  const double a = *x0, b = *x1;
  *x0 = static_cast<float>(a * c - b * s);
  *x1 = static_cast<float>(b * c + a * s);
}

// AdamW's per-element constants, computed once per step on the host in double.
struct AdamWConstants {
  float learning_rate;
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float inverse_bias_correction1;  // 1 / (1 - beta1^step)
  float inverse_bias_correction2;  // 1 / (1 - beta2^step)
  float eps;
  float grad_scale;
};

// PyTorch's AdamW for one parameter: decoupled decay (decay_factor = 1 - lr*wd, or 1), then Adam
// with bias correction and eps added to sqrt(v_hat).
UTT_HOST_DEVICE void adamw_element(float* p, float* m, float* v, float grad, float decay_factor,
                                   const AdamWConstants& k) {
  const float g = grad * k.grad_scale;
  const float m_new = k.beta1 * *m + k.one_minus_beta1 * g;
  const float v_new = k.beta2 * *v + k.one_minus_beta2 * g * g;
  const float m_hat = m_new * k.inverse_bias_correction1;
  const float v_hat = v_new * k.inverse_bias_correction2;
  *p = *p * decay_factor - k.learning_rate * m_hat / (sqrtf(v_hat) + k.eps);
  *m = m_new;
  *v = v_new;
}

}  // namespace utt::cuda_math
