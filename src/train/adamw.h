// The optimizer: AdamW with its state (first and second moments, one buffer each in the layout of
// the parameter buffer, and the step count), and gradient clipping on the global L2 norm.
// Conventions are PyTorch's (torch.optim.AdamW, torch.nn.utils.clip_grad_norm_), checked against
// shared/oracle.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace utt {

struct AdamWSettings {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // applied to decay segments only (2-D tensors)
};

class AdamW {
 public:
  // `segments` cover the parameter buffer (ParameterLayout::optimizer_segments()).
  AdamW(Backend& backend, std::vector<ParameterSegment> segments, int64_t parameter_count,
        const AdamWSettings& settings);

  // One update of params from grads at this learning rate; grads are multiplied by grad_scale
  // first. Counts the step (bias correction uses the 1-based count).
  void step(float* params, const float* grads, double learning_rate, float grad_scale = 1.0f);

  int64_t steps_taken() const { return steps_taken_; }
  const AdamWSettings& settings() const { return settings_; }

  // The state, for checkpoints: host copies in the parameter layout, and back.
  std::vector<float> first_moment() const;
  std::vector<float> second_moment() const;
  void restore(const std::vector<float>& first_moment, const std::vector<float>& second_moment,
               int64_t steps_taken);

 private:
  Backend& backend_;
  std::vector<ParameterSegment> segments_;
  int64_t parameter_count_;
  AdamWSettings settings_;
  BackendBuffer<float> m_;
  BackendBuffer<float> v_;
  int64_t steps_taken_ = 0;
};

struct GradientNorm {
  double norm = 0;    // the global L2 norm before clipping
  float scale = 1.0f; // what the gradients were multiplied by (1 when not clipped)
};

// The global L2 norm and the clipping factor min(1, max_norm / (norm + 1e-6)) (1 when
// max_norm <= 0), leaving the gradients as they are. The trainer hands the factor to AdamW::step
// as grad_scale, which applies it while reading each gradient: no separate pass over them.
GradientNorm measure_grad_norm(Backend& backend, const float* grads, int64_t count, double max_norm);

// PyTorch's clip_grad_norm_: measure_grad_norm, then every gradient multiplied by the factor in
// place. Do not also pass the factor to AdamW::step, or the gradients are scaled twice.
GradientNorm clip_grad_norm(Backend& backend, float* grads, int64_t count, double max_norm);

}  // namespace utt
