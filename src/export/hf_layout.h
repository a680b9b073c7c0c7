// How utt's architectures map onto Hugging Face's LlamaForCausalLM and GPT2LMHeadModel (and
// llama.cpp's `llama` and `gpt2`): which utt models have an equivalent, and the tensors under
// HF's names and layouts. See ../shared/reference/hf-model-export.md.
//
// RoPE: utt rotates dimension i of a head with i + HS/2 (rotate-half), which is HF Llama's
// pairing, so q_proj/k_proj are utt's wq/wk as they are. llama.cpp pairs (2i, 2i+1); the GGUF
// writer permutes q/k rows (gguf_writer.cpp).
// GPT-2: Conv1D weights are [in, out], the transpose of utt's [out, in]; c_attn holds q|k|v side
// by side. A utt model without linear biases is written with zero biases (exact: x + 0 = x), and a
// GPT-2 folder whose linear biases are all zero reads back as a model without them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace utt {

enum class HfArchitecture { kLlama, kGpt2 };

std::string hf_class_name(HfArchitecture architecture);  // "LlamaForCausalLM", "GPT2LMHeadModel"

// The equivalent architecture, or a UserError saying why there is none and which flags would
// make an exportable model. `format` is "hf" or "gguf" (llama.cpp supports fewer variants).
HfArchitecture export_architecture(const ModelConfig& config, const std::string& format);

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order
  std::vector<float> values;   // row-major
};

// Every tensor of the HF checkpoint, in HF's names, shapes and order, from utt's weights.
std::vector<NamedTensor> to_hf_tensors(const ModelConfig& config, HfArchitecture architecture,
                                       const std::vector<float>& weights);

// The inverse. `read` returns a tensor of the HF checkpoint by name, its shape checked by the
// caller against `expected_shape` (UserError when missing or misshapen). The config's
// linear_bias may be switched off here when a GPT-2 checkpoint's biases are all zero.
using HfTensorReader =
    std::function<std::vector<float>(const std::string& name, const std::vector<int64_t>& expected_shape)>;
std::vector<float> from_hf_tensors(ModelConfig& config, HfArchitecture architecture,
                                   const HfTensorReader& read);

// Names of the HF tensors the model has (for checking a folder holds nothing else).
std::vector<std::string> hf_tensor_names(const ModelConfig& config, HfArchitecture architecture);

}  // namespace utt
