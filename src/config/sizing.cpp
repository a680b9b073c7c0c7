#include "config/sizing.h"

#include <cmath>
#include <limits>
#include <optional>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

constexpr int64_t kWidthStep = 64;
constexpr int64_t kMaxWidth = 16384;
constexpr int64_t kMaxLayers = 256;
constexpr int64_t kHeadDim = 64;
constexpr double kMinFfnRatio = 2.0;
constexpr double kMaxFfnRatio = 6.0;
constexpr double kPreferredFfnRatio = 4.0;  // the presets' d_ff / d_model

struct Candidate {
  ModelConfig config;
  double score = 0;
};

double target_aspect_ratio(int64_t target_params, bool prefer_depth) {
  const double ratio = 16.0 * std::pow(static_cast<double>(target_params) / 1e6, 0.2);
  return prefer_depth ? ratio / 2 : ratio;
}

ModelConfig with_dimensions(const ModelConfig& base, int64_t d_model, int64_t layers,
                            int64_t d_ff) {
  ModelConfig config = base;
  config.d_model = d_model;
  config.num_layers = layers;
  config.d_ff = d_ff;
  config.num_heads = d_model / kHeadDim;
  if (base.num_kv_heads <= 0 || config.num_heads % base.num_kv_heads != 0) {
    config.num_kv_heads = config.num_heads;
  }
  return config;
}

// d_ff that brings the count closest to the target for this width and depth, or nothing when
// it falls outside the allowed ratio.
std::optional<ModelConfig> fit_ffn(const ModelConfig& base, int64_t target, int64_t d_model,
                                   int64_t layers) {
  const ModelConfig probe0 = with_dimensions(base, d_model, layers, 0);
  const ModelConfig probe1 = with_dimensions(base, d_model, layers, 1);
  const int64_t fixed = count_parameters(probe0).total;
  const int64_t per_unit = count_parameters(probe1).total - fixed;  // parameters per unit of d_ff
  const double exact = static_cast<double>(target - fixed) / static_cast<double>(per_unit);
  const int64_t step = d_model < 512 ? 32 : 64;
  const int64_t d_ff = std::llround(exact / step) * step;
  if (d_ff < kMinFfnRatio * d_model || d_ff > kMaxFfnRatio * d_model) return std::nullopt;
  return with_dimensions(base, d_model, layers, d_ff);
}

bool within_tolerance(const ModelConfig& config, int64_t target) {
  const double total = static_cast<double>(count_parameters(config).total);
  return std::fabs(total - static_cast<double>(target)) <= kSizingTolerance * target;
}

double score(const ModelConfig& config, double aspect_target) {
  const double aspect = static_cast<double>(config.d_model) / config.num_layers;
  const double ffn_ratio = static_cast<double>(config.d_ff) / config.d_model;
  return std::fabs(std::log(aspect / aspect_target)) +
         0.5 * std::fabs(std::log(ffn_ratio / kPreferredFfnRatio));
}

// Best candidate for the aspect target, considering only models deeper than min_layers.
std::optional<Candidate> best_candidate(int64_t target, const ModelConfig& base,
                                        double aspect_target, int64_t min_layers) {
  std::optional<Candidate> best;
  for (int64_t d_model = kWidthStep; d_model <= kMaxWidth; d_model += kWidthStep) {
    // Stop once even a single layer with the smallest d_ff overshoots.
    const ModelConfig smallest = with_dimensions(base, d_model, 1, 2 * d_model);
    if (count_parameters(smallest).total > target * (1 + kSizingTolerance)) break;
    for (int64_t layers = min_layers + 1; layers <= kMaxLayers; ++layers) {
      const std::optional<ModelConfig> config = fit_ffn(base, target, d_model, layers);
      if (!config) {
        // Past the point where d_ff would have to shrink below 2 x d_model: deeper is worse.
        const ModelConfig thinnest = with_dimensions(base, d_model, layers, 2 * d_model);
        if (count_parameters(thinnest).total > target) break;
        continue;
      }
      if (!within_tolerance(*config, target)) continue;
      const double s = score(*config, aspect_target);
      if (!best || s < best->score) best = Candidate{*config, s};
    }
  }
  return best;
}

}  // namespace

int64_t suggested_vocab_size(int64_t target_params, const ModelConfig& base) {
  const int64_t columns = base.tie_embeddings ? kWidthStep : 2 * kWidthStep;
  const int64_t vocab = target_params / 2 / columns;
  return std::max<int64_t>(256, vocab / 256 * 256);
}

ModelConfig size_for_target_params(int64_t target_params, bool prefer_depth,
                                   const ModelConfig& base, const char* vocab_flag) {
  if (target_params <= 0) {
    throw UserError("--target-params must be positive, got " + std::to_string(target_params));
  }
  const std::optional<Candidate> wide =
      best_candidate(target_params, base, target_aspect_ratio(target_params, false), 0);
  if (!wide) {
    const ModelConfig smallest = with_dimensions(base, kWidthStep, 1, 2 * kWidthStep);
    const ParameterCount count = count_parameters(smallest);
    std::string message = "--target-params " + with_thousands(target_params) + " cannot be met: ";
    if (count.total > target_params) {
      message += "the vocabulary of " + with_thousands(base.vocab_size) +
                 " tokens alone needs " + with_thousands(count.embedding) +
                 " embedding parameters at the smallest width (d_model 64), and the smallest "
                 "model is " + with_thousands(count.total) + "; use " + vocab_flag + " " +
                 std::to_string(suggested_vocab_size(target_params, base)) +
                 " or less, or a larger --target-params";
    } else {
      message += "no model of d_model a multiple of 64 and up to " + std::to_string(kMaxLayers) +
                 " layers lands within 5%; use explicit --d-model/--num-layers/--num-heads/--d-ff";
    }
    throw UserError(message);
  }
  if (!prefer_depth) return wide->config;
  const std::optional<Candidate> deep = best_candidate(
      target_params, base, target_aspect_ratio(target_params, true), wide->config.num_layers);
  return deep ? deep->config : wide->config;
}

}  // namespace utt
