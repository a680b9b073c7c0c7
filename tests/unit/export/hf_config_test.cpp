// config.json for Hugging Face: what utt writes reads back as the same architecture, and the
// gate of a gated FFN maps to Llama's hidden_act; llama.cpp, which gates with SiLU only, is
// refused the others.
#include "export/hf_config.h"

#include <gtest/gtest.h>

#include "export/hf_layout.h"
#include "util/error.h"

namespace utt::test {
namespace {

ModelConfig small_llama(Activation gate) {
  ModelConfig c;
  c.vocab_size = 320;
  c.d_model = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.d_ff = 96;
  c.seq_len = 32;
  c.activation = gate;
  return c;
}

TEST(HfConfig, TheGatedFfnsActivationRoundTripsThroughHiddenAct) {
  for (Activation gate : {Activation::kSilu, Activation::kGelu, Activation::kRelu}) {
    const ModelConfig written = small_llama(gate);
    const nlohmann::ordered_json json = hf_config_json(written, HfArchitecture::kLlama, 319, 319, "float32");
    const char* expected = gate == Activation::kSilu ? "silu" : gate == Activation::kGelu ? "gelu_pytorch_tanh" : "relu";
    EXPECT_EQ(json["hidden_act"], expected);
    HfArchitecture architecture{};
    const ModelConfig read = model_config_from_hf(nlohmann::json::parse(json.dump()), "config.json", &architecture);
    EXPECT_EQ(architecture, HfArchitecture::kLlama);
    EXPECT_EQ(read.activation, gate);
    EXPECT_TRUE(read.swiglu);
    EXPECT_EQ(export_architecture(written, "hf"), HfArchitecture::kLlama);
    if (gate == Activation::kSilu) {
      EXPECT_EQ(export_architecture(written, "gguf"), HfArchitecture::kLlama);
    } else {
      EXPECT_THROW(export_architecture(written, "gguf"), UserError);
    }
  }
  nlohmann::json json = nlohmann::json::parse(hf_config_json(small_llama(Activation::kSilu), HfArchitecture::kLlama,
                                                              319, 319, "float32").dump());
  json["hidden_act"] = "gelu";  // the erf form: utt computes the tanh one
  HfArchitecture architecture{};
  EXPECT_THROW(model_config_from_hf(json, "config.json", &architecture), UserError);
}

}  // namespace
}  // namespace utt::test
