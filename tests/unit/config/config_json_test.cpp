#include <gtest/gtest.h>

#include "config/config_json.h"
#include "util/error.h"

namespace utt {
namespace {

TEST(ConfigJson, RoundTripsEveryField) {
  ModelConfig c;
  c.vocab_size = 8192;
  c.num_kv_heads = 2;
  c.activation = Activation::kRelu;
  c.rope = false;
  c.linear_bias = true;
  const ModelConfig back = model_config_from_json(model_config_to_json(c), "test");
  EXPECT_EQ(model_config_differences(c, back), "");
  EXPECT_EQ(model_config_to_json(back), model_config_to_json(c));
}

TEST(ConfigJson, DifferencesNameTheFields) {
  ModelConfig a;
  ModelConfig b = a;
  b.d_model = 256;
  b.rope = false;
  b.dropout_rate = 0.0;  // not an architectural difference
  EXPECT_EQ(model_config_differences(a, b), "d_model 512 vs 256; rope true vs false");
}

TEST(ConfigJson, MissingFieldIsNamed) {
  nlohmann::json j = model_config_to_json(ModelConfig{});
  j.erase("d_ff");
  try {
    model_config_from_json(j, "ckpt/model_config.json");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("lacks the field 'd_ff'"), std::string::npos) << e.what();
  }
  j["d_ff"] = "wide";
  EXPECT_THROW(model_config_from_json(j, "x"), UserError);
}

TEST(ConfigJson, TheGatedFfnIsRecordedAsTrained) {
  ModelConfig geglu;
  geglu.activation = Activation::kGelu;  // swiglu on: the gate's activation
  const nlohmann::json j = model_config_to_json(geglu);
  EXPECT_EQ(j["ffn"], "geglu");
  EXPECT_EQ(j["activation"], "gelu");
  EXPECT_EQ(model_config_from_json(j, "x").activation, Activation::kGelu);
  ModelConfig mlp;
  mlp.swiglu = false;
  mlp.activation = Activation::kRelu;
  EXPECT_EQ(model_config_to_json(mlp)["ffn"], "mlp");
  EXPECT_EQ(model_config_to_json(ModelConfig{})["ffn"], "swiglu");
}

// Files written before the gated FFN took its activation recorded the MLP flag's value
// ("gelu" by default) while gating with SiLU; they still load as the SwiGLU they trained.
TEST(ConfigJson, AFileWithoutFfnGatedWithSilu) {
  ModelConfig c;
  c.activation = Activation::kGelu;
  nlohmann::json j = model_config_to_json(c);
  j.erase("ffn");
  EXPECT_EQ(model_config_from_json(j, "x").activation, Activation::kSilu);
  j["swiglu"] = false;
  EXPECT_EQ(model_config_from_json(j, "x").activation, Activation::kGelu);
}

TEST(ConfigJson, AnFfnThatContradictsTheSwitchesIsRefused) {
  nlohmann::json j = model_config_to_json(ModelConfig{});
  j["ffn"] = "geglu";  // activation says silu
  try {
    model_config_from_json(j, "m.json");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'ffn' is \"geglu\" but 'swiglu' and 'activation' describe swiglu"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace utt
