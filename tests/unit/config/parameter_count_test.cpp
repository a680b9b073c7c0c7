// The exact parameter count against the independent reference cases in shared/oracle,
// which cover every architecture switch that changes the count.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/model_config.h"
#include "test_paths.h"
#include "unit/model/oracle_case.h"

namespace utt {
namespace {

TEST(ParameterCount, MatchesEveryOracleCase) {
  int folders = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::oracle_dir())) {
    folders += entry.is_directory();
  }
  EXPECT_EQ(folders, static_cast<int>(test::oracle_case_names().size()))
      << "a case in " << test::oracle_dir() << " is not covered";
  for (const std::string& name : test::oracle_case_names()) {
    const test::OracleCase oracle(name);
    const ParameterCount count = count_parameters(oracle.config);
    EXPECT_EQ(count.total, oracle.expected["params"].get<int64_t>()) << name;
    EXPECT_EQ(count.non_embedding, oracle.expected["non_embedding_params"].get<int64_t>()) << name;
  }
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
