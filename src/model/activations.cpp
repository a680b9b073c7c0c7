#include "model/activations.h"

#include <algorithm>

namespace utt {
namespace {

NormSaved make_norm(Backend& backend, const ModelConfig& config, int64_t N) {
  NormSaved saved;
  saved.out = BackendBuffer<float>(backend, N * config.d_model);
  if (!config.rmsnorm) saved.mean = BackendBuffer<float>(backend, N);
  saved.rstd = BackendBuffer<float>(backend, N);
  return saved;
}

}  // namespace

Activations::Activations(Backend& backend, const ModelConfig& c, int64_t batch, ModelUse use,
                         int64_t position_count, ActivationMemory memory)
    : max_batch(batch), positions(position_count > 0 ? position_count : c.seq_len) {
  if (batch == 0) return;
  const int64_t T = positions;
  const int64_t N = batch * T;
  const int64_t C = c.d_model;
  const int64_t qkv_width = C + 2 * c.kv_dim();
  const int64_t hidden_width = c.swiglu ? 2 * c.d_ff : c.d_ff;
  const int64_t attention_matrix = batch * c.num_heads * T * T;

  inputs = BackendBuffer<int32_t>(backend, N);
  targets = BackendBuffer<int32_t>(backend, N);
  doc_pos = BackendBuffer<int32_t>(backend, N);
  const bool recompute = use != ModelUse::kInference && memory == ActivationMemory::kRecompute;
  const int64_t layer_sets =
      use != ModelUse::kInference && !recompute ? c.num_layers : std::min<int64_t>(c.num_layers, 1);
  if (recompute) {
    for (int64_t l = 0; l < c.num_layers; ++l) inputs_kept.emplace_back(backend, N * C);
  }
  for (int64_t l = 0; l < layer_sets; ++l) {
    LayerActivations layer;
    if (!recompute) layer.input = BackendBuffer<float>(backend, N * C);
    layer.attention_norm = make_norm(backend, c, N);
    layer.qkv = BackendBuffer<float>(backend, N * qkv_width);
    layer.attention = BackendBuffer<float>(backend, N * C);
    if (c.flash_attention) {
      layer.lse = BackendBuffer<float>(backend, batch * c.num_heads * T);
    } else {
      layer.probabilities = BackendBuffer<float>(backend, attention_matrix);
    }
    layer.middle = BackendBuffer<float>(backend, N * C);
    layer.ffn_norm = make_norm(backend, c, N);
    layer.ffn_hidden = BackendBuffer<float>(backend, N * hidden_width);
    layer.ffn_act = BackendBuffer<float>(backend, N * c.d_ff);
    layers.push_back(std::move(layer));
  }
  output = BackendBuffer<float>(backend, N * C);
  final_norm = make_norm(backend, c, N);
  logits = BackendBuffer<float>(backend, N * c.vocab_size);
  losses = BackendBuffer<float>(backend, N);
  if (c.rope) {
    rope_cos = BackendBuffer<float>(backend, c.seq_len * c.head_dim() / 2);
    rope_sin = BackendBuffer<float>(backend, c.seq_len * c.head_dim() / 2);
    backend.rope_table(rope_cos.get(), rope_sin.get(), c.seq_len, c.head_dim(), c.rope_theta);
  }
  if (use == ModelUse::kInference) return;

  branch = BackendBuffer<float>(backend, N * C);
  dresidual = BackendBuffer<float>(backend, N * C);
  dbranch = BackendBuffer<float>(backend, N * C);
  dnorm = BackendBuffer<float>(backend, N * C);
  dattention = BackendBuffer<float>(backend, N * C);
  dqkv = BackendBuffer<float>(backend, N * qkv_width);
  dffn_hidden = BackendBuffer<float>(backend, N * hidden_width);
  dffn_act = BackendBuffer<float>(backend, N * c.d_ff);
  if (!c.flash_attention) dprobabilities = BackendBuffer<float>(backend, attention_matrix);
}

}  // namespace utt
