#include "config/memory_estimate.h"

#include <algorithm>

namespace utt {

TrainingMemory estimate_training_memory(const ModelConfig& m, int64_t batch_size,
                                        bool mixed_precision, bool activation_checkpointing) {
  const double params = static_cast<double>(count_parameters(m).total);
  TrainingMemory memory;
  memory.weights_bytes = 4 * params;
  memory.gradients_bytes = 4 * params;
  memory.optimizer_bytes = 8 * params;

  const double tokens = static_cast<double>(batch_size) * m.seq_len;
  const double C = static_cast<double>(m.d_model);
  const double kv = static_cast<double>(m.kv_dim());
  const double ffn_hidden = (m.swiglu ? 3.0 : 2.0) * m.d_ff;  // gate, up, product / pre, post
  // Per token per layer: residual input, norm output, q, k, v, attention output, residual
  // after attention, second norm output, FFN hidden states, two norm statistics.
  double per_token_layer = C + C + C + 2 * kv + C + C + C + ffn_hidden + 2;
  if (m.dropout_rate > 0) per_token_layer += 2 * C;  // masks after attention and FFN
  // Flash attention keeps one log-sum-exp per head and position; naive keeps the T x T
  // probabilities of every head.
  const double attention_per_token =
      m.flash_attention ? static_cast<double>(m.num_heads)
                        : static_cast<double>(m.num_heads) * m.seq_len;
  // Activations are fp32 in both precisions (mixed precision rounds matmul operands only).
  const double layers = static_cast<double>(m.num_layers);
  const double per_layer = tokens * (per_token_layer + attention_per_token) * 4.0;
  // Final norm output; the logits and their gradient.
  const double head = tokens * (C + 2.0 * m.vocab_size) * 4.0;
  // Checkpointing: one layer's set (its input among them), which the backward pass refills
  // layer by layer, and the other layers' inputs (the residual stream).
  memory.activations_bytes = activation_checkpointing ? (layers - 1) * tokens * C * 4.0 + per_layer + head
                                                      : layers * per_layer + head;
  if (mixed_precision) {
    // bf16 copies of the operands of the largest matmul (the LM head's weight gradient: the
    // logits' gradient and the final norm output), reused by every matmul.
    const double V = static_cast<double>(m.vocab_size);
    memory.activations_bytes += 2.0 * (tokens * V + std::max(tokens, V) * C);
  }
  return memory;
}

}  // namespace utt
