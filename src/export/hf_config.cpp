#include "export/hf_config.h"

#include <cmath>

#include "util/error.h"

namespace utt {
namespace {

std::string hf_activation(Activation activation) {
  switch (activation) {
    case Activation::kGelu: return "gelu_new";  // the tanh form, which utt computes
    case Activation::kRelu: return "relu";
    case Activation::kSilu: return "silu";
  }
  return "gelu_new";
}

// Reads `name` as T, or `fallback` when absent or null (HF's default for the key).
template <class T>
T get_or(const nlohmann::json& json, const char* name, T fallback, const std::string& source) {
  if (!json.contains(name) || json[name].is_null()) return fallback;
  try {
    return json[name].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw UserError(source + ": '" + name + "' has the wrong type (" + json[name].dump() + ")");
  }
}

template <class T>
T require(const nlohmann::json& json, const char* name, const std::string& source) {
  if (!json.contains(name) || json[name].is_null()) {
    throw UserError(source + " lacks '" + std::string(name) + "': it is not a complete Hugging Face config.json");
  }
  return get_or<T>(json, name, T{}, source);
}

int64_t positive(int64_t value, const char* name, const std::string& source) {
  if (value < 1) throw UserError(source + ": '" + std::string(name) + "' must be positive, got " + std::to_string(value));
  return value;
}

ModelConfig llama_from_hf(const nlohmann::json& j, const std::string& source) {
  ModelConfig c;
  c.rmsnorm = c.swiglu = c.rope = true;
  c.vocab_size = positive(require<int64_t>(j, "vocab_size", source), "vocab_size", source);
  c.d_model = positive(require<int64_t>(j, "hidden_size", source), "hidden_size", source);
  c.d_ff = positive(require<int64_t>(j, "intermediate_size", source), "intermediate_size", source);
  c.num_layers = positive(require<int64_t>(j, "num_hidden_layers", source), "num_hidden_layers", source);
  c.num_heads = positive(require<int64_t>(j, "num_attention_heads", source), "num_attention_heads", source);
  c.num_kv_heads = positive(get_or<int64_t>(j, "num_key_value_heads", c.num_heads, source), "num_key_value_heads", source);
  if (c.d_model % c.num_heads != 0 || c.num_heads % c.num_kv_heads != 0) {
    throw UserError(source + ": num_attention_heads must divide hidden_size and num_key_value_heads must divide "
                    "num_attention_heads");
  }
  const int64_t head_dim = get_or<int64_t>(j, "head_dim", c.d_model / c.num_heads, source);
  if (head_dim != c.d_model / c.num_heads) {
    throw UserError(source + ": head_dim " + std::to_string(head_dim) + " differs from hidden_size / "
                    "num_attention_heads; utt's heads are always hidden_size / num_attention_heads");
  }
  // The gate's activation: silu (SwiGLU), the tanh GELU (GeGLU) or relu (ReGLU).
  const std::string act = get_or<std::string>(j, "hidden_act", "silu", source);
  if (act == "silu") {
    c.activation = Activation::kSilu;
  } else if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
    c.activation = Activation::kGelu;
  } else if (act == "relu") {
    c.activation = Activation::kRelu;
  } else {
    throw UserError(source + ": hidden_act '" + act + "' is not supported: utt's gated FFN gates with silu, "
                    "gelu_pytorch_tanh (gelu_new) or relu");
  }
  c.seq_len = positive(get_or<int64_t>(j, "max_position_embeddings", 2048, source), "max_position_embeddings", source);
  c.norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, source);
  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0, source);
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const nlohmann::json& rope = j["rope_parameters"];
    c.rope_theta = get_or<double>(rope, "rope_theta", c.rope_theta, source);
    const std::string type = get_or<std::string>(rope, "rope_type", "default", source);
    if (type != "default") {
      throw UserError(source + ": RoPE scaling '" + type + "' is not supported: utt computes plain RoPE");
    }
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const std::string type = get_or<std::string>(j["rope_scaling"], "rope_type",
                                                  get_or<std::string>(j["rope_scaling"], "type", "?", source), source);
    if (type != "default") {
      throw UserError(source + ": rope_scaling '" + type + "' is not supported: utt computes plain RoPE");
    }
  }
  c.tie_embeddings = get_or<bool>(j, "tie_word_embeddings", false, source);
  const bool attention_bias = get_or<bool>(j, "attention_bias", false, source);
  const bool mlp_bias = get_or<bool>(j, "mlp_bias", false, source);
  if (attention_bias != mlp_bias) {
    throw UserError(source + ": attention_bias and mlp_bias differ; utt has biases on every linear or on none");
  }
  c.linear_bias = attention_bias;
  return c;
}

ModelConfig gpt2_from_hf(const nlohmann::json& j, const std::string& source) {
  ModelConfig c;
  c.rmsnorm = c.swiglu = c.rope = false;
  c.linear_bias = true;
  c.tie_embeddings = get_or<bool>(j, "tie_word_embeddings", true, source);
  c.vocab_size = positive(require<int64_t>(j, "vocab_size", source), "vocab_size", source);
  c.d_model = positive(require<int64_t>(j, "n_embd", source), "n_embd", source);
  c.num_layers = positive(require<int64_t>(j, "n_layer", source), "n_layer", source);
  c.num_heads = positive(require<int64_t>(j, "n_head", source), "n_head", source);
  c.num_kv_heads = c.num_heads;
  if (c.d_model % c.num_heads != 0) throw UserError(source + ": n_head must divide n_embd");
  c.seq_len = positive(get_or<int64_t>(j, "n_positions", 1024, source), "n_positions", source);
  c.d_ff = positive(get_or<int64_t>(j, "n_inner", 4 * c.d_model, source), "n_inner", source);
  c.norm_eps = get_or<double>(j, "layer_norm_epsilon", 1e-5, source);
  const std::string act = get_or<std::string>(j, "activation_function", "gelu_new", source);
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
    c.activation = Activation::kGelu;
  } else if (act == "relu") {
    c.activation = Activation::kRelu;
  } else if (act == "silu" || act == "swish") {
    c.activation = Activation::kSilu;
  } else {
    throw UserError(source + ": activation_function '" + act + "' is not supported: utt computes gelu_new "
                    "(the tanh form), relu and silu");
  }
  if (!get_or<bool>(j, "scale_attn_weights", true, source) ||
      get_or<bool>(j, "scale_attn_by_inverse_layer_idx", false, source)) {
    throw UserError(source + ": attention scaled other than by 1/sqrt(head size) is not supported");
  }
  return c;
}

}  // namespace

nlohmann::ordered_json hf_config_json(const ModelConfig& c, HfArchitecture architecture, int64_t bos_id,
                                      int64_t eos_id, const std::string& torch_dtype) {
  using Json = nlohmann::ordered_json;
  // Floats are written through double so that 1e-05 stays 1e-05 and 10000.0 a float.
  if (architecture == HfArchitecture::kLlama) {
    return Json{{"architectures", {"LlamaForCausalLM"}},
                {"model_type", "llama"},
                {"vocab_size", c.vocab_size},
                {"hidden_size", c.d_model},
                {"intermediate_size", c.d_ff},
                {"num_hidden_layers", c.num_layers},
                {"num_attention_heads", c.num_heads},
                {"num_key_value_heads", c.num_kv_heads},
                {"head_dim", c.head_dim()},
                {"hidden_act", c.activation == Activation::kGelu ? std::string("gelu_pytorch_tanh")
                                                                 : hf_activation(c.activation)},
                {"max_position_embeddings", c.seq_len},
                {"rms_norm_eps", c.norm_eps},
                {"rope_theta", c.rope_theta},
                {"rope_scaling", nullptr},
                {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", c.rope_theta}}},
                {"attention_bias", c.linear_bias},
                {"attention_dropout", 0.0},
                {"mlp_bias", c.linear_bias},
                {"tie_word_embeddings", c.tie_embeddings},
                {"bos_token_id", bos_id},
                {"eos_token_id", eos_id},
                {"pad_token_id", nullptr},
                {"initializer_range", 0.02},
                {"use_cache", true},
                {"torch_dtype", torch_dtype}};
  }
  return Json{{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", "gpt2"},
              {"vocab_size", c.vocab_size},
              {"n_positions", c.seq_len},
              {"n_ctx", c.seq_len},
              {"n_embd", c.d_model},
              {"n_layer", c.num_layers},
              {"n_head", c.num_heads},
              {"n_inner", c.d_ff},
              {"activation_function", hf_activation(c.activation)},
              {"layer_norm_epsilon", c.norm_eps},
              {"resid_pdrop", c.dropout_rate},
              {"embd_pdrop", c.dropout_rate},
              {"attn_pdrop", 0.0},
              {"initializer_range", 0.02},
              {"scale_attn_weights", true},
              {"scale_attn_by_inverse_layer_idx", false},
              {"reorder_and_upcast_attn", false},
              {"tie_word_embeddings", c.tie_embeddings},
              {"bos_token_id", bos_id},
              {"eos_token_id", eos_id},
              {"use_cache", true},
              {"torch_dtype", torch_dtype}};
}

ModelConfig model_config_from_hf(const nlohmann::json& json, const std::string& source,
                                 HfArchitecture* architecture) {
  if (!json.is_object()) throw UserError(source + " is not a JSON object");
  std::string type = get_or<std::string>(json, "model_type", "", source);
  std::string class_name;
  if (json.contains("architectures") && json["architectures"].is_array() && !json["architectures"].empty() &&
      json["architectures"][0].is_string()) {
    class_name = json["architectures"][0].get<std::string>();
  }
  if (type == "llama" && (class_name.empty() || class_name == "LlamaForCausalLM")) {
    *architecture = HfArchitecture::kLlama;
    return llama_from_hf(json, source);
  }
  if (type == "gpt2" && (class_name.empty() || class_name == "GPT2LMHeadModel")) {
    *architecture = HfArchitecture::kGpt2;
    return gpt2_from_hf(json, source);
  }
  throw UserError(source + " describes " + (class_name.empty() ? "model_type '" + type + "'" : class_name) +
                  ", which utt cannot load: utt reads LlamaForCausalLM and GPT2LMHeadModel folders");
}

}  // namespace utt
