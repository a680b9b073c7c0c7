#include "model/parameter_layout.h"

#include <cmath>
#include <numbers>

#include "backend/dropout_hash.h"
#include "util/error.h"

namespace utt {

constexpr double kInitStd = 0.02;

ParameterLayout::ParameterLayout(const ModelConfig& c) {
  const int64_t C = c.d_model;
  const int64_t KVC = c.kv_dim();
  const int64_t F = c.d_ff;
  const bool bias = c.linear_bias;
  const bool layernorm = !c.rmsnorm;

  tok_embeddings_ = add("tok_embeddings.weight", {c.vocab_size, C});
  if (!c.rope) pos_embeddings_ = add("pos_embeddings.weight", {c.seq_len, C});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerOffsets l;
    l.attention_norm_weight = add(p + "attention_norm.weight", {C});
    if (layernorm) l.attention_norm_bias = add(p + "attention_norm.bias", {C});
    l.qkv_weight = add(p + "attention.wq.weight", {C, C});
    add(p + "attention.wk.weight", {KVC, C});
    add(p + "attention.wv.weight", {KVC, C});
    if (bias) {
      l.qkv_bias = add(p + "attention.wq.bias", {C});
      add(p + "attention.wk.bias", {KVC});
      add(p + "attention.wv.bias", {KVC});
    }
    l.wo_weight = add(p + "attention.wo.weight", {C, C});
    if (bias) l.wo_bias = add(p + "attention.wo.bias", {C});
    l.ffn_norm_weight = add(p + "ffn_norm.weight", {C});
    if (layernorm) l.ffn_norm_bias = add(p + "ffn_norm.bias", {C});
    if (c.swiglu) {
      l.ffn_in_weight = add(p + "feed_forward.w_gate.weight", {F, C});
      add(p + "feed_forward.w_up.weight", {F, C});
      if (bias) {
        l.ffn_in_bias = add(p + "feed_forward.w_gate.bias", {F});
        add(p + "feed_forward.w_up.bias", {F});
      }
    } else {
      l.ffn_in_weight = add(p + "feed_forward.w_up.weight", {F, C});
      if (bias) l.ffn_in_bias = add(p + "feed_forward.w_up.bias", {F});
    }
    l.w_down_weight = add(p + "feed_forward.w_down.weight", {C, F});
    if (bias) l.w_down_bias = add(p + "feed_forward.w_down.bias", {C});
    layers_.push_back(l);
  }
  norm_weight_ = add("norm.weight", {C});
  if (layernorm) norm_bias_ = add("norm.bias", {C});
  output_weight_ = c.tie_embeddings ? tok_embeddings_ : add("output.weight", {c.vocab_size, C});

  UTT_CHECK(total_ == count_parameters(c).total,
            "parameter layout holds " + std::to_string(total_) + " floats but count_parameters says " +
                std::to_string(count_parameters(c).total));
}

int64_t ParameterLayout::add(const std::string& name, std::vector<int64_t> shape) {
  ParameterTensor tensor;
  tensor.name = name;
  tensor.count = 1;
  for (int64_t d : shape) tensor.count *= d;
  tensor.shape = std::move(shape);
  tensor.offset = total_;
  total_ += tensor.count;
  tensors_.push_back(std::move(tensor));
  return tensors_.back().offset;
}

const ParameterTensor* ParameterLayout::find(const std::string& name) const {
  for (const ParameterTensor& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<ParameterSegment> ParameterLayout::optimizer_segments() const {
  std::vector<ParameterSegment> segments;
  for (const ParameterTensor& t : tensors_) {
    if (!segments.empty() && segments.back().decay == t.decay() && segments.back().end == t.offset) {
      segments.back().end = t.offset + t.count;
    } else {
      segments.push_back({t.offset, t.offset + t.count, t.decay()});
    }
  }
  return segments;
}

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Box-Muller over a counter-based uniform stream: element i of the tensor uses counters 2i, 2i+1.
double standard_normal(uint64_t key, int64_t i) {
  const uint64_t a = mix64(key + static_cast<uint64_t>(2 * i) * 0x9e3779b97f4a7c15ULL);
  const uint64_t b = mix64(key + static_cast<uint64_t>(2 * i + 1) * 0x9e3779b97f4a7c15ULL);
  const double u1 = (static_cast<double>(a >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace

std::vector<float> initial_parameters(const ModelConfig& config, const ParameterLayout& layout,
                                      uint64_t seed) {
  std::vector<float> values(static_cast<size_t>(layout.total()), 0.0f);
  const double residual_std = kInitStd / std::sqrt(2.0 * static_cast<double>(config.num_layers));
  for (size_t index = 0; index < layout.tensors().size(); ++index) {
    const ParameterTensor& t = layout.tensors()[index];
    float* out = values.data() + t.offset;
    if (t.shape.size() == 1) {
      const float value = ends_with(t.name, "norm.weight") ? 1.0f : 0.0f;
      for (int64_t i = 0; i < t.count; ++i) out[i] = value;
      continue;
    }
    const bool residual_projection = ends_with(t.name, "attention.wo.weight") ||
                                     ends_with(t.name, "feed_forward.w_down.weight");
    const double std = residual_projection ? residual_std : kInitStd;
    const uint64_t key = mix64(mix64(seed) ^ static_cast<uint64_t>(index + 1));
    for (int64_t i = 0; i < t.count; ++i) out[i] = static_cast<float>(std * standard_normal(key, i));
  }
  return values;
}

}  // namespace utt
