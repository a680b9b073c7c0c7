#include "train/adamw.h"

#include <cmath>

#include "util/error.h"

namespace utt {

// PyTorch adds this to the norm before dividing, so a zero gradient never divides by zero.
constexpr double kClipEpsilon = 1e-6;

AdamW::AdamW(Backend& backend, std::vector<ParameterSegment> segments, int64_t parameter_count,
             const AdamWSettings& settings)
    : backend_(backend),
      segments_(std::move(segments)),
      parameter_count_(parameter_count),
      settings_(settings),
      m_(backend, parameter_count),
      v_(backend, parameter_count) {
  int64_t covered = 0;
  for (const ParameterSegment& s : segments_) {
    UTT_CHECK(s.begin == covered && s.end >= s.begin, "optimizer segments must tile the buffer");
    covered = s.end;
  }
  UTT_CHECK(covered == parameter_count, "optimizer segments must cover every parameter");
}

void AdamW::step(float* params, const float* grads, double learning_rate, float grad_scale) {
  ++steps_taken_;
  AdamWHyper hyper;
  hyper.learning_rate = learning_rate;
  hyper.beta1 = settings_.beta1;
  hyper.beta2 = settings_.beta2;
  hyper.eps = settings_.eps;
  hyper.weight_decay = settings_.weight_decay;
  hyper.step = steps_taken_;
  backend_.adamw_step(params, grads, m_.get(), v_.get(), segments_.data(),
                      static_cast<int64_t>(segments_.size()), hyper, grad_scale);
}

std::vector<float> AdamW::first_moment() const {
  std::vector<float> values(static_cast<size_t>(parameter_count_));
  backend_.download(values.data(), m_.get(), parameter_count_);
  return values;
}

std::vector<float> AdamW::second_moment() const {
  std::vector<float> values(static_cast<size_t>(parameter_count_));
  backend_.download(values.data(), v_.get(), parameter_count_);
  return values;
}

void AdamW::restore(const std::vector<float>& first_moment, const std::vector<float>& second_moment,
                    int64_t steps_taken) {
  UTT_CHECK(static_cast<int64_t>(first_moment.size()) == parameter_count_ &&
                static_cast<int64_t>(second_moment.size()) == parameter_count_,
            "optimizer state does not match the parameter count");
  backend_.upload(m_.get(), first_moment.data(), parameter_count_);
  backend_.upload(v_.get(), second_moment.data(), parameter_count_);
  steps_taken_ = steps_taken;
}

GradientNorm measure_grad_norm(Backend& backend, const float* grads, int64_t count, double max_norm) {
  GradientNorm result;
  result.norm = std::sqrt(backend.sum_of_squares(grads, count));
  if (max_norm > 0) {
    const double coefficient = max_norm / (result.norm + kClipEpsilon);
    if (coefficient < 1.0) result.scale = static_cast<float>(coefficient);
  }
  return result;
}

GradientNorm clip_grad_norm(Backend& backend, float* grads, int64_t count, double max_norm) {
  const GradientNorm result = measure_grad_norm(backend, grads, count, max_norm);
  if (result.scale != 1.0f) backend.scale(grads, result.scale, count);
  return result;
}

}  // namespace utt
