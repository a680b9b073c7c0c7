// --activation-checkpointing: the backward pass recomputes each block from its kept input and
// must give the gradients of a model that kept everything, bit for bit, in less memory.
#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "model/transformer.h"
#include "small_models.h"

namespace utt {
namespace {

struct StepResult {
  double loss = 0;
  std::vector<float> gradients;
  int64_t peak_bytes = 0;
};

// Two micro-batches of `rows` rows (tokens holds 2 x rows windows) accumulated, as a training
// step with gradient accumulation runs them.
StepResult train_step(const ModelConfig& config, ActivationMemory memory, const std::vector<int32_t>& tokens,
                      int64_t rows) {
  auto backend = make_cpu_backend();
  Transformer model(config, *backend, rows, ModelUse::kTraining, memory);
  model.initialize(7);
  model.zero_gradients();
  StepResult result;
  for (int64_t micro = 0; micro < 2; ++micro) {
    const ForwardOptions options{.training = true, .loss_normalizer = 2.0 * rows * config.seq_len,
                                 .dropout_seed = 5, .step = 3, .micro_batch = micro};
    result.loss += model.forward(tokens.data() + micro * rows * (config.seq_len + 1), rows, options);
    model.backward();
  }
  result.gradients = model.get_gradients();
  result.peak_bytes = backend->peak_allocated_bytes();
  return result;
}

TEST(ActivationCheckpointing, GradientsEqualKeepingEveryActivationBitForBit) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    SCOPED_TRACE(variant.name);
    ModelConfig config = variant.config;
    config.num_layers = 3;
    config.dropout_rate = 0.2;  // the recomputation must replay the same masks
    const int64_t rows = 2;
    const std::vector<int32_t> tokens = test::random_tokens(2 * rows, config, 9);
    const StepResult kept = train_step(config, ActivationMemory::kKeepAll, tokens, rows);
    const StepResult recomputed = train_step(config, ActivationMemory::kRecompute, tokens, rows);
    EXPECT_EQ(recomputed.loss, kept.loss);
    EXPECT_EQ(recomputed.gradients, kept.gradients);
  }
}

TEST(ActivationCheckpointing, HoldsLessMemoryThanKeepingEveryLayer) {
  ModelConfig config = test::small_base();
  config.num_layers = 6;
  config.seq_len = 32;
  const int64_t rows = 4;
  const std::vector<int32_t> tokens = test::random_tokens(2 * rows, config, 3);
  const StepResult kept = train_step(config, ActivationMemory::kKeepAll, tokens, rows);
  const StepResult recomputed = train_step(config, ActivationMemory::kRecompute, tokens, rows);
  EXPECT_EQ(recomputed.gradients, kept.gradients);
  EXPECT_LT(recomputed.peak_bytes, kept.peak_bytes);
}

}  // namespace
}  // namespace utt
