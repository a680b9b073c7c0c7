// ModelConfig: the architecture of one decoder-only transformer, and its exact size.
//
// Shape vocabulary (used everywhere in utt): B batch, T sequence, C d_model, V vocabulary,
// NH query heads, KVH key/value heads, HS head size (C / NH).
#pragma once

#include <cstdint>
#include <string>

namespace utt {

enum class Activation { kRelu, kGelu, kSilu };

std::string to_string(Activation activation);
// Throws UserError for anything but relu/gelu/silu.
Activation parse_activation(const std::string& text);

struct ModelConfig {
  int64_t vocab_size = 16000;
  int64_t d_model = 512;
  int64_t num_layers = 6;
  int64_t num_heads = 8;
  int64_t num_kv_heads = 8;  // == num_heads: plain multi-head attention
  int64_t d_ff = 2048;
  int64_t seq_len = 256;
  double dropout_rate = 0.1;
  // The MLP's activation, or with swiglu the gate's: silu (SwiGLU), gelu (GeGLU), relu (ReGLU).
  Activation activation = Activation::kSilu;
  bool rmsnorm = true;          // false: LayerNorm (with bias)
  bool swiglu = true;           // a gated FFN, act(x W_gate) * (x W_up); false: MLP with `activation`
  bool rope = true;             // false: learned absolute positions
  bool flash_attention = true;  // tiled online-softmax attention; false: naive T x T scores
  bool tie_embeddings = true;   // LM head shares tok_embeddings
  bool linear_bias = false;     // biases on every linear (GPT-2 style); not a guide flag
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;

  int64_t head_dim() const { return d_model / num_heads; }
  int64_t kv_dim() const { return head_dim() * num_kv_heads; }
};

// Exact parameter counts. "embedding" is the token table plus the learned position table;
// an untied LM head counts as non-embedding (it is a matmul every token pays for).
struct ParameterCount {
  int64_t total = 0;
  int64_t embedding = 0;
  int64_t non_embedding = 0;
  int64_t per_layer = 0;
};

ParameterCount count_parameters(const ModelConfig& config);

// The FFN by name: "SwiGLU", "GeGLU" or "ReGLU" when gated, else "MLP (gelu)" and so on.
std::string describe_ffn(const ModelConfig& config);

// The one-line architecture summary used by the dry run and the presets table, e.g.
// "RMSNorm, SwiGLU, RoPE, flash attention, tied embeddings".
std::string describe_architecture(const ModelConfig& config);

}  // namespace utt
