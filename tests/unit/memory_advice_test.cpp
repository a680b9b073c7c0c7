// The flags an out-of-memory error offers: each keeps the training the same or says what changes.
#include "train/memory_advice.h"

#include <gtest/gtest.h>

namespace utt {
namespace {

ModelConfig model_of_width(int64_t d_model, int64_t seq_len) {
  ModelConfig model;
  model.d_model = d_model;
  model.seq_len = seq_len;
  return model;
}

TEST(MemoryAdvice, HalvesTheBatchAndDoublesTheAccumulationKeepingTheEffectiveBatch) {
  TrainConfig c;
  c.batch_size = 16;
  c.gradient_accumulation_steps = 4;
  EXPECT_EQ(out_of_memory_advice(c, model_of_width(1024, 1024)),
            "to fit, train with --batch-size 8 --gradient-accumulation-steps 8 (64 sequences per step, as now), "
            "or --use-mixed-precision (bf16 matmul operands), or --activation-checkpointing (each block's "
            "activations recomputed in the backward pass), or a smaller --seq-len (e.g. 512), "
            "or a smaller model (--model-preset medium)");
}

TEST(MemoryAdvice, AnOddBatchSaysHowTheEffectiveBatchChanges) {
  TrainConfig c;
  c.batch_size = 5;
  c.gradient_accumulation_steps = 1;
  c.use_mixed_precision = true;
  c.activation_checkpointing = true;
  EXPECT_EQ(out_of_memory_advice(c, model_of_width(128, 64)),
            "to fit, train with --batch-size 2 --gradient-accumulation-steps 3 (6 sequences per step instead of 5)");
}

// A width between two presets: the next narrower one.
TEST(MemoryAdvice, TheSmallerPresetIsTheWidestNarrowerThanTheModel) {
  TrainConfig c;
  c.batch_size = 1;
  c.use_mixed_precision = true;
  c.activation_checkpointing = true;
  EXPECT_EQ(out_of_memory_advice(c, model_of_width(600, 64)), "to fit, train with a smaller model (--model-preset small)");
}

TEST(MemoryAdvice, WithNothingLeftToShrinkItNamesTheModel) {
  TrainConfig c;
  c.batch_size = 1;
  c.use_mixed_precision = true;
  c.activation_checkpointing = true;
  EXPECT_EQ(out_of_memory_advice(c, model_of_width(128, 64)),
            "a smaller model (--d-model, --num-layers) or a GPU with more memory");
}

}  // namespace
}  // namespace utt
