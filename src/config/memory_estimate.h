// How much memory training a model takes, before any of it is allocated: shown by --dry-run
// so a user learns that a model will not fit before the run starts, not an hour into it.
#pragma once

#include <cstdint>

#include "config/model_config.h"

namespace utt {

struct TrainingMemory {
  double weights_bytes = 0;      // fp32 master weights
  double gradients_bytes = 0;    // fp32
  double optimizer_bytes = 0;    // AdamW first and second moments, fp32
  double activations_bytes = 0;  // what one micro-batch keeps for the backward pass
  double total_bytes() const {
    return weights_bytes + gradients_bytes + optimizer_bytes + activations_bytes;
  }
};

// An estimate, not a promise: it counts the tensors the backward pass needs per layer (norm
// inputs and outputs, q/k/v, attention output, FFN hidden states; attention probabilities
// only for naive attention; the logits and their gradient) and ignores allocator overhead
// and temporary workspaces. Mixed precision adds the bf16 copies of matmul operands.
// Activation checkpointing keeps each layer's input and one layer's set of the rest.
TrainingMemory estimate_training_memory(const ModelConfig& model, int64_t batch_size,
                                        bool mixed_precision, bool activation_checkpointing = false);

}  // namespace utt
