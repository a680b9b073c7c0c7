// One reference case of shared/oracle: its configuration, weights, tokens and expected values.
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "io/safetensors.h"
#include "test_paths.h"

namespace utt::test {

inline const std::vector<std::string>& oracle_case_names() {
  static const std::vector<std::string> names = {"llama", "gpt2", "llama-gqa-untied",
                                                 "rmsnorm-mlp-relu-rope",
                                                 "layernorm-mlp-silu-learned-nobias"};
  return names;
}

struct OracleCase {
  std::string dir;
  ModelConfig config;
  int64_t batch = 0;
  std::vector<int32_t> tokens;  // batch x (seq_len + 1)
  nlohmann::json expected;

  explicit OracleCase(const std::string& name) : dir(oracle_dir() + "/" + name) {
    nlohmann::json c = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
    config.vocab_size = c["vocab_size"];
    config.d_model = c["d_model"];
    config.num_layers = c["num_layers"];
    config.num_heads = c["num_heads"];
    config.num_kv_heads = c["num_kv_heads"];
    config.d_ff = c["d_ff"];
    config.seq_len = c["seq_len"];
    config.rmsnorm = c["norm"] == "rmsnorm";
    config.swiglu = c["ffn"] == "swiglu";
    config.activation = parse_activation(c["activation"].get<std::string>());
    config.rope = c["pos"] == "rope";
    config.linear_bias = c["bias"];
    config.tie_embeddings = c["tie_embeddings"];
    config.dropout_rate = c["dropout"];
    config.rope_theta = c["rope_theta"];
    config.norm_eps = c["norm_eps"];
    expected = nlohmann::json::parse(std::ifstream(dir + "/expected.json"));
    batch = expected["batch"];
    std::ifstream in(dir + "/tokens.bin", std::ios::binary);
    std::vector<uint32_t> raw(static_cast<size_t>(batch * (config.seq_len + 1)));
    in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size() * 4));
    tokens.assign(raw.begin(), raw.end());
  }

  safetensors::File file(const std::string& name) const {
    return safetensors::File::read(dir + "/" + name);
  }
};

}  // namespace utt::test
