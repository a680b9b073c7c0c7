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

}  // namespace
}  // namespace utt
