// The model FLOPs per trained token (docs/architecture.md, "Compute reporting").
#include <gtest/gtest.h>

#include "config/flop_count.h"

namespace utt {
namespace {

// 2 FLOPs per weight of every matrix a token passes through, read off the architecture matrix
// by matrix (not from the parameter count the formula uses).
int64_t forward_matmul_flops(const ModelConfig& c) {
  const int64_t C = c.d_model;
  const int64_t hidden = c.swiglu ? 2 * c.d_ff : c.d_ff;
  const int64_t per_layer = C * (C + 2 * c.kv_dim()) + C * C + C * hidden + c.d_ff * C;
  return 2 * (c.num_layers * per_layer + C * c.vocab_size);
}

// The weights that are not matrices: norm weights (and LayerNorm and linear biases).
int64_t non_matrix_weights(const ModelConfig& c) {
  const int64_t norms = (2 * c.num_layers + 1) * c.d_model * (c.rmsnorm ? 1 : 2);
  if (!c.linear_bias) return norms;
  const int64_t hidden = c.swiglu ? 2 * c.d_ff : c.d_ff;
  return norms + c.num_layers * ((c.d_model + 2 * c.kv_dim()) + c.d_model + hidden + c.d_model);
}

TEST(TrainingFlops, SixTimesTheMatrixWeightsPlusTwelveLayerWidthSequence) {
  ModelConfig llama;  // tied head, grouped-query attention
  llama.vocab_size = 32000;
  llama.d_model = 768;
  llama.num_layers = 12;
  llama.num_heads = 12;
  llama.num_kv_heads = 4;
  llama.d_ff = 2048;
  llama.seq_len = 1024;
  ModelConfig gpt2 = llama;  // untied head, MLP, LayerNorm, biases, learned positions
  gpt2.num_kv_heads = 12;
  gpt2.swiglu = false;
  gpt2.rmsnorm = false;
  gpt2.rope = false;
  gpt2.linear_bias = true;
  gpt2.tie_embeddings = false;
  for (const ModelConfig& c : {llama, gpt2}) {
    const TrainingFlops flops = training_flops(c);
    // Forward 2 per weight, backward 4: the norms' few weights ride along in the count.
    EXPECT_EQ(flops.dense, 3 * forward_matmul_flops(c) + 6 * non_matrix_weights(c));
    EXPECT_EQ(flops.attention, 12 * c.num_layers * c.d_model * c.seq_len);
    EXPECT_EQ(flops.per_token, flops.dense + flops.attention);
  }
}

TEST(TrainingFlops, TheAttentionTermGrowsWithTheSequenceAndTheDenseTermDoesNot) {
  ModelConfig short_context;
  short_context.seq_len = 128;
  ModelConfig long_context = short_context;
  long_context.seq_len = 1024;
  EXPECT_EQ(training_flops(long_context).dense, training_flops(short_context).dense);
  EXPECT_EQ(training_flops(long_context).attention, 8 * training_flops(short_context).attention);
}

}  // namespace
}  // namespace utt
