// Fused softmax cross-entropy and AdamW.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/ops.h"
#include "backend/cpu/vector_math.h"

namespace utt::cpu {

void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets, int64_t N,
                                    int64_t V, float normalizer, LogitGradient logit_gradient) {
  const float inverse_normalizer = 1.0f / normalizer;
#pragma omp parallel for if ((N * V) >= kMinParallelWork)
  for (int64_t n = 0; n < N; ++n) {
    float* row = logits + n * V;
    const int32_t target = targets[n];
    if (target < 0) {
      losses[n] = 0;
      if (logit_gradient == LogitGradient::kWrite) std::fill_n(row, V, 0.0f);
      continue;
    }
    // A comparison, not std::max: g++ 12 leaves a std::max reduction scalar even under `omp
    // simd`, and that scalar loop was most of this kernel's time.
    float max_logit = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : max_logit)
    for (int64_t v = 0; v < V; ++v) max_logit = row[v] > max_logit ? row[v] : max_logit;
    const float target_logit = row[target];
    float sum = 0;
    if (logit_gradient == LogitGradient::kWrite) {
      // One pass of exponentials, kept in the row: the gradient is exp / sum, scaled.
#pragma omp simd reduction(+ : sum)
      for (int64_t v = 0; v < V; ++v) {
        const float e = fast_exp(row[v] - max_logit);
        row[v] = e;
        sum += e;
      }
      const float gradient_scale = inverse_normalizer / sum;
#pragma omp simd
      for (int64_t v = 0; v < V; ++v) row[v] *= gradient_scale;
      row[target] -= inverse_normalizer;
    } else {
#pragma omp simd reduction(+ : sum)
      for (int64_t v = 0; v < V; ++v) sum += fast_exp(row[v] - max_logit);
    }
    losses[n] = max_logit + std::log(sum) - target_logit;
  }
}

void adamw_step(float* params, const float* grads, float* m, float* v,
                const ParameterSegment* segments, int64_t segment_count, const AdamWHyper& hyper,
                float grad_scale) {
  const float lr = static_cast<float>(hyper.learning_rate);
  const float beta1 = static_cast<float>(hyper.beta1);
  const float beta2 = static_cast<float>(hyper.beta2);
  const float eps = static_cast<float>(hyper.eps);
  // Bias corrections in double: beta^step underflows gracefully and 1 - beta^step stays exact.
  const float step_size =
      static_cast<float>(hyper.learning_rate / (1.0 - std::pow(hyper.beta1, static_cast<double>(hyper.step))));
  const float inverse_sqrt_correction2 =
      static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(hyper.beta2, static_cast<double>(hyper.step))));
  for (int64_t s = 0; s < segment_count; ++s) {
    const ParameterSegment& segment = segments[s];
    const float decay_factor = segment.decay ? 1.0f - lr * static_cast<float>(hyper.weight_decay) : 1.0f;
#pragma omp parallel for simd if ((segment.end - segment.begin) >= kMinParallelWork)
    for (int64_t i = segment.begin; i < segment.end; ++i) {
      const float g = grads[i] * grad_scale;
      const float m_new = beta1 * m[i] + (1.0f - beta1) * g;
      const float v_new = beta2 * v[i] + (1.0f - beta2) * g * g;
      const float denominator = std::sqrt(v_new) * inverse_sqrt_correction2 + eps;
      params[i] = params[i] * decay_factor - step_size * m_new / denominator;
      m[i] = m_new;
      v[i] = v_new;
    }
  }
}

}  // namespace utt::cpu
