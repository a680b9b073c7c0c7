// The model FLOPs of training one token, for the throughput and MFU the log reports
// (docs/architecture.md, "Compute reporting", gives the formula and its source).
//
// Model FLOPs, not hardware FLOPs: what the architecture needs for one forward and one backward
// pass, whatever the kernels do. Recomputation (--activation-checkpointing) and the masked half
// of causal attention are not subtracted or added, so the MFU of two runs of one model compares
// their speed alone (PaLM's convention, Chowdhery et al. 2022, appendix B).
#pragma once

#include <cstdint>

#include "config/model_config.h"

namespace utt {

struct TrainingFlops {
  // The parameters that multiply an activation: every weight of the blocks and the LM head
  // (also when it is tied: the head's matmul runs either way), not the embedding lookups.
  int64_t matmul_parameters = 0;
  int64_t dense = 0;      // 6 x matmul_parameters: 2 forward, 4 backward per parameter and token
  int64_t attention = 0;  // 12 x num_layers x d_model x seq_len: the scores and the weighted sum
  int64_t per_token = 0;  // dense + attention
};

TrainingFlops training_flops(const ModelConfig& config);

}  // namespace utt
