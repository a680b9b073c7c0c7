// Where every parameter lives in the one contiguous parameter buffer.
//
// Tensors carry the names and the PyTorch [out_features, in_features] shapes of the ecosystem's
// Llama/GPT-2 style models (tok_embeddings.weight, layers.{i}.attention.wq.weight, ...). Within a
// layer, wq/wk/wv are adjacent (and so are their biases), and so are w_gate/w_up: the model runs
// each group as one fused matmul while every tensor keeps its own name and view. The same offsets
// index the gradient buffer and the optimizer moments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"

namespace utt {

struct ParameterTensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;  // in floats, into the parameter buffer
  int64_t count = 0;
  // Weight decay applies to every 2-D tensor (linear weights, embedding tables), never to norm
  // weights or biases (PyTorch AdamW with the usual parameter groups).
  bool decay() const { return shape.size() == 2; }
};

// Offsets of one layer's tensors; -1 where the architecture has none.
struct LayerOffsets {
  int64_t attention_norm_weight = -1, attention_norm_bias = -1;
  int64_t qkv_weight = -1, qkv_bias = -1;  // wq, wk, wv stacked: [C + 2*KVC, C]
  int64_t wo_weight = -1, wo_bias = -1;
  int64_t ffn_norm_weight = -1, ffn_norm_bias = -1;
  int64_t ffn_in_weight = -1, ffn_in_bias = -1;  // SwiGLU: w_gate, w_up stacked [2F, C]; MLP: w_up
  int64_t w_down_weight = -1, w_down_bias = -1;
};

class ParameterLayout {
 public:
  explicit ParameterLayout(const ModelConfig& config);

  const std::vector<ParameterTensor>& tensors() const { return tensors_; }
  int64_t total() const { return total_; }
  // nullptr when absent.
  const ParameterTensor* find(const std::string& name) const;

  const LayerOffsets& layer(int64_t i) const { return layers_[static_cast<size_t>(i)]; }
  int64_t tok_embeddings() const { return tok_embeddings_; }
  int64_t pos_embeddings() const { return pos_embeddings_; }   // -1 with RoPE
  int64_t norm_weight() const { return norm_weight_; }
  int64_t norm_bias() const { return norm_bias_; }             // -1 with RMSNorm
  int64_t output_weight() const { return output_weight_; }     // tok_embeddings when tied

  // Runs of tensors with the same decay flag, for AdamW.
  std::vector<ParameterSegment> optimizer_segments() const;

 private:
  int64_t add(const std::string& name, std::vector<int64_t> shape);

  std::vector<ParameterTensor> tensors_;
  std::vector<LayerOffsets> layers_;
  int64_t total_ = 0;
  int64_t tok_embeddings_ = -1, pos_embeddings_ = -1, norm_weight_ = -1, norm_bias_ = -1,
          output_weight_ = -1;
};

// The initial parameters, on the host: normal(0, 0.02) for embeddings and linear weights, the
// residual output projections (wo, w_down) scaled by 1/sqrt(2 * layers), norm weights 1, biases 0.
// Each tensor draws from its own counter-based stream keyed by (seed, tensor index), so the values
// do not depend on the platform's standard library.
std::vector<float> initial_parameters(const ModelConfig& config, const ParameterLayout& layout,
                                      uint64_t seed);

}  // namespace utt
