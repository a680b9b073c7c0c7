#include "generate/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "util/error.h"

namespace utt {

void validate_sampling(const SamplingOptions& o) {
  if (!(o.temperature >= 0)) {
    throw UserError("--temperature must be 0 (greedy) or more, got " + std::to_string(o.temperature));
  }
  if (o.top_k < 0) throw UserError("--top-k must be 0 (off) or more, got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) {
    throw UserError("--top-p must be in (0, 1] (1 turns it off), got " + std::to_string(o.top_p));
  }
}

int32_t sample_token(std::span<const float> logits, const SamplingOptions& o, std::mt19937_64& rng) {
  const auto n = static_cast<int64_t>(logits.size());
  if (o.temperature == 0 || o.top_k == 1) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  // Candidates sorted by logit (descending, ties by id), cut to top-k.
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const int64_t k = o.top_k > 0 ? std::min(o.top_k, n) : n;
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), by_logit);
  order.resize(static_cast<size_t>(k));

  // Softmax at the temperature, computed stably from the largest logit.
  std::vector<double> probabilities(order.size());
  const double top = logits[order[0]];
  double total = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    probabilities[i] = std::exp((logits[order[i]] - top) / o.temperature);
    total += probabilities[i];
  }
  // Nucleus: the smallest prefix whose probability reaches top_p (at least one token).
  size_t keep = order.size();
  double cumulative = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    cumulative += probabilities[i] / total;
    if (cumulative >= o.top_p) {
      keep = i + 1;
      break;
    }
  }
  const double kept_total = std::accumulate(probabilities.begin(), probabilities.begin() + keep, 0.0);
  const double draw = std::uniform_real_distribution<double>(0.0, kept_total)(rng);
  double running = 0;
  for (size_t i = 0; i < keep; ++i) {
    running += probabilities[i];
    if (draw < running) return order[i];
  }
  return order[keep - 1];
}

}  // namespace utt
