// The exact parameter count against the independent reference cases in shared/oracle,
// which cover every architecture switch that changes the count.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/model_config.h"
#include "test_paths.h"

namespace utt {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return nlohmann::json::parse(in);
}

ModelConfig from_oracle_config(const nlohmann::json& c) {
  ModelConfig m;
  m.vocab_size = c["vocab_size"];
  m.d_model = c["d_model"];
  m.num_layers = c["num_layers"];
  m.num_heads = c["num_heads"];
  m.num_kv_heads = c["num_kv_heads"];
  m.d_ff = c["d_ff"];
  m.seq_len = c["seq_len"];
  m.rmsnorm = c["norm"] == "rmsnorm";
  m.swiglu = c["ffn"] == "swiglu";
  m.rope = c["pos"] == "rope";
  m.linear_bias = c["bias"];
  m.tie_embeddings = c["tie_embeddings"];
  return m;
}

TEST(ParameterCount, MatchesEveryOracleCase) {
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::oracle_dir())) {
    if (!entry.is_directory()) continue;
    const nlohmann::json config = read_json(entry.path() / "config.json");
    const nlohmann::json expected = read_json(entry.path() / "expected.json");
    const ParameterCount count = count_parameters(from_oracle_config(config));
    EXPECT_EQ(count.total, expected["params"].get<int64_t>()) << entry.path();
    EXPECT_EQ(count.non_embedding, expected["non_embedding_params"].get<int64_t>()) << entry.path();
    ++cases;
  }
  EXPECT_GE(cases, 5) << "expected the five oracle cases under " << test::oracle_dir();
}

TEST(ParameterCount, PartsAddUp) {
  ModelConfig m;
  m.rope = false;
  m.tie_embeddings = false;
  const ParameterCount count = count_parameters(m);
  EXPECT_EQ(count.embedding, m.vocab_size * m.d_model + m.seq_len * m.d_model);
  EXPECT_EQ(count.total, count.embedding + count.non_embedding);
  EXPECT_EQ(count.non_embedding, m.num_layers * count.per_layer + m.d_model + m.vocab_size * m.d_model);
}

TEST(ParameterCount, GroupedQueryAttentionShrinksKeyAndValueProjections) {
  ModelConfig full;
  ModelConfig grouped = full;
  grouped.num_kv_heads = 2;  // 8 heads share 2 kv heads: k and v shrink 4x
  const int64_t saved = count_parameters(full).per_layer - count_parameters(grouped).per_layer;
  EXPECT_EQ(saved, 2 * full.d_model * (full.d_model - grouped.kv_dim()));
}

}  // namespace
}  // namespace utt
