#include "export/hf_layout.h"

#include <algorithm>
#include <map>

#include "model/parameter_layout.h"
#include "util/error.h"

namespace utt {
namespace {

// One HF tensor and the utt tensors it is made of: their rows stacked (q|k|v for GPT-2's c_attn,
// or a single tensor), then transposed for GPT-2's Conv1D weights.
struct Link {
  std::string hf;
  std::vector<std::string> utt;
  bool transpose = false;
};

std::vector<Link> links(const ModelConfig& c, HfArchitecture architecture) {
  std::vector<Link> list;
  const bool bias = c.linear_bias;
  if (architecture == HfArchitecture::kLlama) {
    list.push_back({"model.embed_tokens.weight", {"tok_embeddings.weight"}});
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string hf = "model.layers." + std::to_string(i) + ".";
      const std::string u = "layers." + std::to_string(i) + ".";
      list.push_back({hf + "input_layernorm.weight", {u + "attention_norm.weight"}});
      for (const auto& [proj, w] : {std::pair{"q_proj", "wq"}, {"k_proj", "wk"}, {"v_proj", "wv"}, {"o_proj", "wo"}}) {
        list.push_back({hf + "self_attn." + proj + ".weight", {u + "attention." + w + ".weight"}});
        if (bias) list.push_back({hf + "self_attn." + proj + ".bias", {u + "attention." + w + ".bias"}});
      }
      list.push_back({hf + "post_attention_layernorm.weight", {u + "ffn_norm.weight"}});
      for (const auto& [proj, w] : {std::pair{"gate_proj", "w_gate"}, {"up_proj", "w_up"}, {"down_proj", "w_down"}}) {
        list.push_back({hf + "mlp." + proj + ".weight", {u + "feed_forward." + w + ".weight"}});
        if (bias) list.push_back({hf + "mlp." + proj + ".bias", {u + "feed_forward." + w + ".bias"}});
      }
    }
    list.push_back({"model.norm.weight", {"norm.weight"}});
  } else {
    // GPT-2 always has linear biases; a utt model without them contributes zeros.
    list.push_back({"transformer.wte.weight", {"tok_embeddings.weight"}});
    list.push_back({"transformer.wpe.weight", {"pos_embeddings.weight"}});
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string hf = "transformer.h." + std::to_string(i) + ".";
      const std::string u = "layers." + std::to_string(i) + ".";
      list.push_back({hf + "ln_1.weight", {u + "attention_norm.weight"}});
      list.push_back({hf + "ln_1.bias", {u + "attention_norm.bias"}});
      list.push_back({hf + "attn.c_attn.weight",
                      {u + "attention.wq.weight", u + "attention.wk.weight", u + "attention.wv.weight"}, true});
      list.push_back({hf + "attn.c_attn.bias",
                      {u + "attention.wq.bias", u + "attention.wk.bias", u + "attention.wv.bias"}});
      list.push_back({hf + "attn.c_proj.weight", {u + "attention.wo.weight"}, true});
      list.push_back({hf + "attn.c_proj.bias", {u + "attention.wo.bias"}});
      list.push_back({hf + "ln_2.weight", {u + "ffn_norm.weight"}});
      list.push_back({hf + "ln_2.bias", {u + "ffn_norm.bias"}});
      list.push_back({hf + "mlp.c_fc.weight", {u + "feed_forward.w_up.weight"}, true});
      list.push_back({hf + "mlp.c_fc.bias", {u + "feed_forward.w_up.bias"}});
      list.push_back({hf + "mlp.c_proj.weight", {u + "feed_forward.w_down.weight"}, true});
      list.push_back({hf + "mlp.c_proj.bias", {u + "feed_forward.w_down.bias"}});
    }
    list.push_back({"transformer.ln_f.weight", {"norm.weight"}});
    list.push_back({"transformer.ln_f.bias", {"norm.bias"}});
  }
  if (!c.tie_embeddings) list.push_back({"lm_head.weight", {"output.weight"}});
  return list;
}

// The layout whose tensor shapes the links refer to: GPT-2's always has the linear biases.
ModelConfig shape_config(const ModelConfig& c, HfArchitecture architecture) {
  ModelConfig shapes = c;
  if (architecture == HfArchitecture::kGpt2) shapes.linear_bias = true;
  return shapes;
}

std::vector<float> transposed(const std::vector<float>& values, int64_t rows, int64_t cols) {
  std::vector<float> out(values.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < cols; ++k) out[static_cast<size_t>(k * rows + r)] = values[static_cast<size_t>(r * cols + k)];
  }
  return out;
}

// The HF shape of a link: the utt shapes stacked by rows, reversed when transposed.
std::vector<int64_t> link_shape(const Link& link, const ParameterLayout& layout) {
  std::vector<int64_t> shape;
  for (const std::string& name : link.utt) {
    const ParameterTensor* t = layout.find(name);
    UTT_CHECK(t != nullptr, "no tensor " + name + " in the layout");
    if (shape.empty()) {
      shape = t->shape;
    } else {
      shape[0] += t->shape[0];
    }
  }
  if (link.transpose) std::reverse(shape.begin(), shape.end());
  return shape;
}

std::string refuse(const std::string& why, const std::string& fix) {
  return "this model has no Hugging Face / llama.cpp equivalent: " + why + ". Models that export are "
         "Llama-style (RMSNorm, SwiGLU, RoPE: the defaults) or GPT-2-style (--no-rmsnorm --no-swiglu "
         "--no-rope, --activation gelu); " + fix;
}

bool is_linear_bias(const std::string& utt_name) {
  return utt_name.size() > 5 && utt_name.compare(utt_name.size() - 5, 5, ".bias") == 0 &&
         (utt_name.find(".attention.w") != std::string::npos || utt_name.find(".feed_forward.w") != std::string::npos);
}

}  // namespace

std::string hf_class_name(HfArchitecture architecture) {
  return architecture == HfArchitecture::kLlama ? "LlamaForCausalLM" : "GPT2LMHeadModel";
}

HfArchitecture export_architecture(const ModelConfig& c, const std::string& format) {
  if (c.rmsnorm && c.swiglu && c.rope) {
    if (format == "gguf" && c.linear_bias) {
      throw UserError("llama.cpp's llama architecture has no linear biases, and this model has them: "
                      "export it with --format hf");
    }
    if (format == "gguf" && c.activation != Activation::kSilu) {
      throw UserError("llama.cpp's llama architecture gates its FFN with SiLU and this model's gate uses " +
                      to_string(c.activation) + " (" + describe_ffn(c) +
                      "): export it with --format hf (LlamaForCausalLM with that hidden_act), or train with "
                      "--activation silu");
    }
    return HfArchitecture::kLlama;
  }
  if (!c.rmsnorm && !c.swiglu && !c.rope) {
    if (c.num_kv_heads != c.num_heads) {
      throw UserError(refuse("GPT-2 has no grouped-query attention (this model has " +
                                 std::to_string(c.num_kv_heads) + " key/value heads for " +
                                 std::to_string(c.num_heads) + " query heads)",
                             "train with --num-kv-heads equal to --num-heads"));
    }
    if (format == "gguf" && c.activation != Activation::kGelu) {
      throw UserError("llama.cpp's gpt2 architecture uses GELU and this model uses " + to_string(c.activation) +
                      ": export it with --format hf, or train with --activation gelu");
    }
    return HfArchitecture::kGpt2;
  }
  if (!c.rmsnorm && c.swiglu) {
    throw UserError(refuse("it combines LayerNorm with SwiGLU",
                           "train with --rmsnorm (Llama-style) or with --no-swiglu --no-rope (GPT-2-style)"));
  }
  if (c.rmsnorm && !c.swiglu) {
    throw UserError(refuse("it combines RMSNorm with a plain MLP",
                           "train with --swiglu (Llama-style) or with --no-rmsnorm --no-rope (GPT-2-style)"));
  }
  if (c.rmsnorm && !c.rope) {
    throw UserError(refuse("Llama uses RoPE and this model learned positions", "train with --rope"));
  }
  throw UserError(refuse("GPT-2 learns its positions and this model uses RoPE", "train with --no-rope"));
}

std::vector<NamedTensor> to_hf_tensors(const ModelConfig& c, HfArchitecture architecture,
                                       const std::vector<float>& weights) {
  const ParameterLayout layout(c);
  const ParameterLayout shapes(shape_config(c, architecture));
  UTT_CHECK(static_cast<int64_t>(weights.size()) == layout.total(), "weights do not match the layout");
  std::vector<NamedTensor> tensors;
  for (const Link& link : links(shape_config(c, architecture), architecture)) {
    NamedTensor tensor;
    tensor.name = link.hf;
    tensor.shape = link_shape(link, shapes);
    int64_t rows = 0;
    for (const std::string& name : link.utt) {
      const ParameterTensor* t = layout.find(name);
      const ParameterTensor* s = shapes.find(name);
      if (t == nullptr) {
        tensor.values.resize(tensor.values.size() + static_cast<size_t>(s->count), 0.0f);  // bias-free model
      } else {
        tensor.values.insert(tensor.values.end(), weights.begin() + t->offset, weights.begin() + t->offset + t->count);
      }
      rows += s->shape[0];
    }
    if (link.transpose) tensor.values = transposed(tensor.values, rows, static_cast<int64_t>(tensor.values.size()) / rows);
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

std::vector<std::string> hf_tensor_names(const ModelConfig& c, HfArchitecture architecture) {
  std::vector<std::string> names;
  for (const Link& link : links(shape_config(c, architecture), architecture)) names.push_back(link.hf);
  return names;
}

std::vector<float> from_hf_tensors(ModelConfig& c, HfArchitecture architecture, const HfTensorReader& read) {
  c = shape_config(c, architecture);
  const ParameterLayout shapes(c);
  std::map<std::string, std::vector<float>> by_name;
  for (const Link& link : links(c, architecture)) {
    const std::vector<int64_t> shape = link_shape(link, shapes);
    std::vector<float> values = read(link.hf, shape);
    if (link.transpose) values = transposed(values, shape[0], shape[1]);
    size_t at = 0;
    for (const std::string& name : link.utt) {
      const ParameterTensor* t = shapes.find(name);
      by_name[name].assign(values.begin() + static_cast<std::ptrdiff_t>(at),
                           values.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(t->count)));
      at += static_cast<size_t>(t->count);
    }
  }
  if (architecture == HfArchitecture::kGpt2) {
    bool all_zero = true;
    for (const auto& [name, values] : by_name) {
      if (!is_linear_bias(name)) continue;
      all_zero = all_zero && std::all_of(values.begin(), values.end(), [](float v) { return v == 0.0f; });
    }
    if (all_zero) c.linear_bias = false;
  }
  const ParameterLayout layout(c);
  std::vector<float> weights(static_cast<size_t>(layout.total()));
  for (const ParameterTensor& t : layout.tensors()) {
    const std::vector<float>& values = by_name.at(t.name);
    std::copy(values.begin(), values.end(), weights.begin() + t.offset);
  }
  return weights;
}

}  // namespace utt
