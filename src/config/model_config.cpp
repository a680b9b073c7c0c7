#include "config/model_config.h"

#include "util/error.h"
#include "util/text.h"

namespace utt {

std::string to_string(Activation activation) {
  switch (activation) {
    case Activation::kRelu: return "relu";
    case Activation::kGelu: return "gelu";
    case Activation::kSilu: return "silu";
  }
  return "?";
}

Activation parse_activation(const std::string& text) {
  const std::string lower = to_lower(text);
  if (lower == "relu") return Activation::kRelu;
  if (lower == "gelu") return Activation::kGelu;
  if (lower == "silu" || lower == "swish") return Activation::kSilu;
  std::string message = "unknown activation '" + text + "': use relu, gelu or silu";
  if (auto guess = closest_match(lower, {"relu", "gelu", "silu"})) {
    message += " (did you mean " + *guess + "?)";
  }
  throw UserError(message);
}

ParameterCount count_parameters(const ModelConfig& c) {
  const int64_t C = c.d_model;
  const int64_t kv = c.kv_dim();
  const int64_t bias = c.linear_bias ? 1 : 0;
  // Each norm has a weight; LayerNorm adds a bias.
  const int64_t norm = c.rmsnorm ? C : 2 * C;

  const int64_t attention = C * C + 2 * C * kv + C * C  // wq, wk, wv, wo
                            + bias * (C + 2 * kv + C);
  const int64_t ffn = c.swiglu ? 3 * C * c.d_ff + bias * (2 * c.d_ff + C)  // w_gate, w_up, w_down
                               : 2 * C * c.d_ff + bias * (c.d_ff + C);    // w_up, w_down

  ParameterCount count;
  count.per_layer = 2 * norm + attention + ffn;
  count.embedding = c.vocab_size * C + (c.rope ? 0 : c.seq_len * C);
  const int64_t head = c.tie_embeddings ? 0 : c.vocab_size * C;
  count.non_embedding = c.num_layers * count.per_layer + norm + head;
  count.total = count.embedding + count.non_embedding;
  return count;
}

std::string describe_ffn(const ModelConfig& c) {
  if (!c.swiglu) return "MLP (" + to_string(c.activation) + ")";
  switch (c.activation) {
    case Activation::kSilu: return "SwiGLU";
    case Activation::kGelu: return "GeGLU";
    case Activation::kRelu: return "ReGLU";
  }
  return "?";
}

std::string describe_architecture(const ModelConfig& c) {
  std::string text = c.rmsnorm ? "RMSNorm" : "LayerNorm";
  text += ", " + describe_ffn(c);
  text += c.rope ? ", RoPE" : ", learned positions";
  text += c.flash_attention ? ", flash attention" : ", naive attention";
  if (c.num_kv_heads != c.num_heads) {
    text += ", grouped-query attention (" + std::to_string(c.num_kv_heads) + " kv heads)";
  }
  text += c.tie_embeddings ? ", tied embeddings" : ", untied LM head";
  if (c.linear_bias) text += ", linear biases";
  return text;
}

}  // namespace utt
