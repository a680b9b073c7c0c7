// Small model configurations covering every architecture switch, for tests that run in seconds.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "model/parameter_layout.h"

namespace utt::test {

struct NamedConfig {
  std::string name;
  ModelConfig config;
};

inline ModelConfig small_base() {
  ModelConfig c;
  c.vocab_size = 37;
  c.d_model = 24;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 4;
  c.d_ff = 40;
  c.seq_len = 7;
  c.dropout_rate = 0.0;
  return c;
}

inline std::vector<NamedConfig> architecture_variants() {
  std::vector<NamedConfig> all;
  {
    ModelConfig c = small_base();  // Llama: RMSNorm, SwiGLU, RoPE, flash, tied, grouped-query
    c.num_kv_heads = 2;
    all.push_back({"llama_gqa", c});
  }
  {
    ModelConfig c = small_base();  // GPT-2: LayerNorm, GELU MLP, learned positions, biases, naive
    c.rmsnorm = false;
    c.swiglu = false;
    c.activation = Activation::kGelu;
    c.rope = false;
    c.linear_bias = true;
    c.flash_attention = false;
    c.tie_embeddings = false;
    all.push_back({"gpt2_untied_naive", c});
  }
  {
    ModelConfig c = small_base();
    c.rmsnorm = false;
    c.swiglu = false;
    c.activation = Activation::kRelu;
    all.push_back({"layernorm_relu_rope", c});
  }
  {
    ModelConfig c = small_base();
    c.swiglu = false;
    c.activation = Activation::kSilu;
    c.rope = false;
    c.flash_attention = false;
    c.num_kv_heads = 1;
    all.push_back({"rmsnorm_silu_learned_mqa", c});
  }
  {
    ModelConfig c = small_base();  // GeGLU: the gated FFN with a GELU gate, on LayerNorm
    c.rmsnorm = false;
    c.activation = Activation::kGelu;
    all.push_back({"layernorm_geglu", c});
  }
  {
    ModelConfig c = small_base();  // ReGLU: the gated FFN with a ReLU gate, learned positions
    c.activation = Activation::kRelu;
    c.rope = false;
    all.push_back({"reglu_learned", c});
  }
  {
    ModelConfig c = small_base();  // dropout in training: a fixed mask for a fixed key
    c.dropout_rate = 0.2;
    c.linear_bias = true;
    all.push_back({"llama_dropout_bias", c});
  }
  return all;
}

// Parameters far from a fresh initialization (larger matrices, norms away from 1, biases away
// from 0), so every nonlinearity is exercised.
inline std::vector<float> exercised_parameters(const ParameterLayout& layout, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(layout.total()));
  for (const ParameterTensor& t : layout.tensors()) {
    const bool norm_weight = t.name.find("norm.weight") != std::string::npos;
    const float scale = t.shape.size() == 2 ? 1.0f / std::sqrt(static_cast<float>(t.shape[1])) : 0.2f;
    for (int64_t i = 0; i < t.count; ++i) {
      values[static_cast<size_t>(t.offset + i)] = (norm_weight ? 1.0f : 0.0f) + scale * normal(rng);
    }
  }
  return values;
}

inline std::vector<int32_t> random_tokens(int64_t rows, const ModelConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(c.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(rows * (c.seq_len + 1)));
  for (int32_t& t : tokens) t = token(rng);
  return tokens;
}

}  // namespace utt::test
