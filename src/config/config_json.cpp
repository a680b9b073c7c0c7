#include "config/config_json.h"

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

// "swiglu", "geglu", "reglu" or "mlp": the FFN that was trained, spelled out, so a reader
// need not know that `activation` is the gate's when `swiglu` is on.
std::string ffn_name(const ModelConfig& c) {
  if (!c.swiglu) return "mlp";
  return to_lower(describe_ffn(c));
}

}  // namespace

nlohmann::json model_config_to_json(const ModelConfig& c) {
  return {
      {"model_type", "utt"},
      {"vocab_size", c.vocab_size},
      {"d_model", c.d_model},
      {"num_layers", c.num_layers},
      {"num_heads", c.num_heads},
      {"num_kv_heads", c.num_kv_heads},
      {"d_ff", c.d_ff},
      {"seq_len", c.seq_len},
      {"dropout_rate", c.dropout_rate},
      {"activation", to_string(c.activation)},
      {"ffn", ffn_name(c)},
      {"rmsnorm", c.rmsnorm},
      {"swiglu", c.swiglu},
      {"rope", c.rope},
      {"flash_attention", c.flash_attention},
      {"tie_embeddings", c.tie_embeddings},
      {"linear_bias", c.linear_bias},
      {"rope_theta", c.rope_theta},
      {"norm_eps", c.norm_eps},
  };
}

namespace {

template <class T>
void read_field(const nlohmann::json& json, const char* name, T& out, const std::string& source) {
  if (!json.contains(name)) {
    throw UserError(source + " lacks the field '" + std::string(name) +
                    "': it is not a utt model_config.json, or it is damaged");
  }
  try {
    out = json.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw UserError(source + ": field '" + std::string(name) + "' has the wrong type (" +
                    json.at(name).dump() + ")");
  }
}

}  // namespace

ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw UserError(source + " is not a JSON object");
  ModelConfig c;
  read_field(json, "vocab_size", c.vocab_size, source);
  read_field(json, "d_model", c.d_model, source);
  read_field(json, "num_layers", c.num_layers, source);
  read_field(json, "num_heads", c.num_heads, source);
  read_field(json, "num_kv_heads", c.num_kv_heads, source);
  read_field(json, "d_ff", c.d_ff, source);
  read_field(json, "seq_len", c.seq_len, source);
  read_field(json, "dropout_rate", c.dropout_rate, source);
  std::string activation;
  read_field(json, "activation", activation, source);
  c.activation = parse_activation(activation);
  read_field(json, "rmsnorm", c.rmsnorm, source);
  read_field(json, "swiglu", c.swiglu, source);
  if (json.contains("ffn")) {
    std::string ffn;
    read_field(json, "ffn", ffn, source);
    if (ffn != ffn_name(c)) {
      throw UserError(source + ": 'ffn' is \"" + ffn + "\" but 'swiglu' and 'activation' describe " +
                      ffn_name(c) + ": the file is damaged or was edited inconsistently");
    }
  } else if (c.swiglu) {
    // Written before the gated FFN took its activation from 'activation': every such model
    // gated with SiLU, whatever 'activation' said.
    c.activation = Activation::kSilu;
  }
  read_field(json, "rope", c.rope, source);
  read_field(json, "flash_attention", c.flash_attention, source);
  read_field(json, "tie_embeddings", c.tie_embeddings, source);
  read_field(json, "linear_bias", c.linear_bias, source);
  read_field(json, "rope_theta", c.rope_theta, source);
  read_field(json, "norm_eps", c.norm_eps, source);
  return c;
}

std::string model_config_differences(const ModelConfig& a, const ModelConfig& b) {
  const nlohmann::json ja = model_config_to_json(a);
  const nlohmann::json jb = model_config_to_json(b);
  std::string differences;
  for (const auto& [key, value] : ja.items()) {
    // Dropout and the attention kernel change how a model trains, not what it is.
    if (key == "dropout_rate" || key == "flash_attention") continue;
    if (value != jb[key]) {
      differences += (differences.empty() ? "" : "; ") + key + " " + value.dump() + " vs " +
                     jb[key].dump();
    }
  }
  return differences;
}

}  // namespace utt
