#include "config/flop_count.h"

namespace utt {

TrainingFlops training_flops(const ModelConfig& c) {
  const ParameterCount count = count_parameters(c);
  TrainingFlops flops;
  // Non-embedding counts the blocks (norm weights and biases too: a rounding error beside the
  // matrices) and an untied head; a tied head is counted as embedding but still multiplies.
  flops.matmul_parameters = count.non_embedding + (c.tie_embeddings ? c.vocab_size * c.d_model : 0);
  flops.dense = 6 * flops.matmul_parameters;
  // Per layer and token, forward: q k^T over T keys (2 T C) and the probabilities times v
  // (2 T C), where C = NH x HS are the query heads (grouped-query attention shares keys and
  // values, not the products). The backward pass costs twice the forward.
  flops.attention = 12 * c.num_layers * c.d_model * c.seq_len;
  flops.per_token = flops.dense + flops.attention;
  return flops;
}

}  // namespace utt
