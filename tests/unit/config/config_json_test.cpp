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

}  // namespace
}  // namespace utt
