// Choosing the next token from the model's logits: temperature, top-k and top-p (nucleus).
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace utt {

struct SamplingOptions {
  double temperature = 0.8;  // 0: greedy (always the most likely token)
  int64_t top_k = 50;        // 0: no top-k cut
  double top_p = 0.95;       // 1: no nucleus cut
};

// Throws UserError for a negative temperature, a negative top-k or top-p outside (0, 1].
void validate_sampling(const SamplingOptions& options);

// Index of the chosen token. Ties in greedy mode go to the lowest id. `logits` is not modified.
int32_t sample_token(std::span<const float> logits, const SamplingOptions& options,
                     std::mt19937_64& rng);

}  // namespace utt
