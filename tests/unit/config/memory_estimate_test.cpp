#include <gtest/gtest.h>

#include "config/memory_estimate.h"

namespace utt {
namespace {

TEST(MemoryEstimate, StateIsSixteenBytesPerParameter) {
  ModelConfig m;
  const double params = static_cast<double>(count_parameters(m).total);
  const TrainingMemory memory = estimate_training_memory(m, 8, false);
  EXPECT_DOUBLE_EQ(memory.weights_bytes + memory.gradients_bytes + memory.optimizer_bytes, 16 * params);
}

TEST(MemoryEstimate, ActivationsGrowWithBatchAndNaiveAttentionWithSequence) {
  ModelConfig m;
  const double batch8 = estimate_training_memory(m, 8, false).activations_bytes;
  const double batch16 = estimate_training_memory(m, 16, false).activations_bytes;
  EXPECT_DOUBLE_EQ(batch16, 2 * batch8);
  ModelConfig naive = m;
  naive.flash_attention = false;
  EXPECT_GT(estimate_training_memory(naive, 8, false).activations_bytes, batch8);
  // Mixed precision keeps fp32 activations and adds bf16 copies of the matmul operands.
  EXPECT_GT(estimate_training_memory(m, 8, true).activations_bytes, batch8);
}

// Checkpointing keeps one layer's activations and every layer's input (d_model per token).
TEST(MemoryEstimate, ActivationCheckpointingKeepsOneLayerAndEveryInput) {
  ModelConfig m;
  m.num_layers = 6;
  ModelConfig one_layer = m;
  one_layer.num_layers = 1;
  const double tokens = 8.0 * m.seq_len;
  const double inputs = 5 * tokens * m.d_model * 4.0;  // the other five layers' inputs
  EXPECT_DOUBLE_EQ(estimate_training_memory(m, 8, false, true).activations_bytes,
                   estimate_training_memory(one_layer, 8, false).activations_bytes + inputs);
  EXPECT_LT(estimate_training_memory(m, 8, false, true).activations_bytes,
            estimate_training_memory(m, 8, false).activations_bytes);
}

}  // namespace
}  // namespace utt
