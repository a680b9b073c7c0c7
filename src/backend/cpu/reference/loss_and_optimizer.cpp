// Softmax cross-entropy and AdamW.
#include <cmath>
#include <limits>

#include "backend/cpu/reference/ops.h"

namespace utt::reference {

template <typename S>
void cross_entropy_forward_backward(S* losses, S* logits, const int32_t* targets, int64_t N,
                                    int64_t V, double normalizer, LogitGradient logit_gradient) {
  for (int64_t n = 0; n < N; ++n) {
    S* row = logits + n * V;
    const int32_t target = targets[n];
    if (target < 0) {
      losses[n] = 0;
      if (logit_gradient == LogitGradient::kWrite) {
        for (int64_t v = 0; v < V; ++v) row[v] = 0;
      }
      continue;
    }
    double max_logit = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0; v < V; ++v) max_logit = std::max(max_logit, static_cast<double>(row[v]));
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - max_logit);
    const double log_sum_exp = max_logit + std::log(sum);
    losses[n] = static_cast<S>(log_sum_exp - row[target]);
    if (logit_gradient == LogitGradient::kWrite) {
      for (int64_t v = 0; v < V; ++v) {
        const double p = std::exp(row[v] - log_sum_exp);
        row[v] = static_cast<S>((p - (v == target ? 1.0 : 0.0)) / normalizer);
      }
    }
  }
}

template <typename S>
void adamw_step(S* params, const S* grads, S* m, S* v, const ParameterSegment* segments,
                int64_t segment_count, const AdamWHyper& hyper, double grad_scale) {
  const double lr = hyper.learning_rate;
  const double beta1 = hyper.beta1;
  const double beta2 = hyper.beta2;
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(hyper.step));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(hyper.step));
  for (int64_t s = 0; s < segment_count; ++s) {
    const ParameterSegment& segment = segments[s];
    const double decay_factor = segment.decay ? 1.0 - lr * hyper.weight_decay : 1.0;
    for (int64_t i = segment.begin; i < segment.end; ++i) {
      const double g = grads[i] * grad_scale;
      const double m_new = beta1 * m[i] + (1.0 - beta1) * g;
      const double v_new = beta2 * v[i] + (1.0 - beta2) * g * g;
      const double m_hat = m_new / bias_correction1;
      const double v_hat = v_new / bias_correction2;
      params[i] = static_cast<S>(params[i] * decay_factor - lr * m_hat / (std::sqrt(v_hat) + hyper.eps));
      m[i] = static_cast<S>(m_new);
      v[i] = static_cast<S>(v_new);
    }
  }
}

template void cross_entropy_forward_backward<float>(float*, float*, const int32_t*, int64_t, int64_t,
                                                    double, LogitGradient);
template void cross_entropy_forward_backward<double>(double*, double*, const int32_t*, int64_t,
                                                     int64_t, double, LogitGradient);
template void adamw_step<float>(float*, const float*, float*, float*, const ParameterSegment*,
                                int64_t, const AdamWHyper&, double);
template void adamw_step<double>(double*, const double*, double*, double*, const ParameterSegment*,
                                 int64_t, const AdamWHyper&, double);

}  // namespace utt::reference
