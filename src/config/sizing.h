// --target-params: choose d_model, layers, heads and d_ff for a parameter budget.
//
// The rule (docs/architecture.md, "Sizing"): every (d_model, num_layers) pair with d_model a
// multiple of 64 is a candidate; d_ff is solved from the budget and rounded (to 32 below
// d_model 512, to 64 above), and must stay within [2, 6] x d_model. Among candidates whose
// exact count lands within kSizingTolerance of the target, the one whose aspect ratio
// d_model / num_layers is closest to a target ratio that grows with the budget
// (16 x (N / 1M)^0.2: ~16 at 1M, ~40 at 100M, ~73 at 2B, as in trained models of those
// sizes) wins, with d_ff near 4 x d_model as the tie-breaker. Heads use head_dim 64.
// --prefer-depth aims at half that ratio and always returns more layers than the default
// choice when any deeper candidate exists.
#pragma once

#include <cstdint>

#include "config/model_config.h"

namespace utt {

inline constexpr double kSizingTolerance = 0.05;

// `base` supplies everything but the dimensions: vocabulary, seq_len and the architecture
// switches. Its num_kv_heads is honored when it divides the chosen head count, else reset
// to the head count. Throws UserError when no model fits, e.g. when the vocabulary alone
// exceeds the budget (the message suggests a vocabulary that fits, as `vocab_flag`).
ModelConfig size_for_target_params(int64_t target_params, bool prefer_depth,
                                   const ModelConfig& base, const char* vocab_flag = "--vocab-size");

// The largest vocabulary (a multiple of 256) whose embedding table spends at most half the
// budget at the smallest width: the suggestion given when the vocabulary is too large.
int64_t suggested_vocab_size(int64_t target_params, const ModelConfig& base);

}  // namespace utt
