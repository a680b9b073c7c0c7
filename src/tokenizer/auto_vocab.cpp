#include "tokenizer/auto_vocab.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

// Sizes are multiples of 64: embedding tables and the output matmul tile evenly on GPUs.
constexpr uint32_t kVocabMultiple = 64;

std::vector<uint32_t> vocab_grid(uint32_t min_size, uint32_t max_size, uint32_t points) {
  std::vector<uint32_t> grid{min_size};
  const double ratio = static_cast<double>(max_size) / min_size;
  for (uint32_t i = 1; i + 1 < points; ++i) {
    const double size = min_size * std::pow(ratio, static_cast<double>(i) / (points - 1));
    const auto rounded = static_cast<uint32_t>(std::lround(size / kVocabMultiple)) * kVocabMultiple;
    if (rounded > min_size && rounded < max_size) grid.push_back(rounded);
  }
  grid.push_back(max_size);
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  return grid;
}

double bytes_per_token(const Tokenizer& tokenizer, const std::vector<std::string>& documents) {
  uint64_t bytes = 0;
  uint64_t tokens = 0;
  std::vector<uint32_t> ids;
  for (const std::string& document : documents) {
    ids.clear();
    tokenizer.encode(document, ids);
    bytes += document.size();
    tokens += ids.size();
  }
  return tokens == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(tokens);
}

int64_t cost_parameters(const ModelConfig& model, uint32_t vocab_size) {
  ModelConfig sized = model;
  sized.vocab_size = vocab_size;
  const ParameterCount count = count_parameters(sized);
  // non_embedding already holds an untied head; a tied one is the embedding table reused.
  return count.non_embedding + (model.tie_embeddings ? sized.vocab_size * sized.d_model : 0);
}

}  // namespace

AutoVocabResult choose_vocab_size(const DocumentSource& training_documents,
                                  const std::vector<std::string>& held_out_documents,
                                  const ModelConfig& model, const AutoVocabOptions& options) {
  if (options.min_vocab_size < kMinVocabSize) {
    throw UserError(fmt::format("--min-vocab-size {} is too small: at least {} (256 bytes and 2 "
                                "special tokens)", options.min_vocab_size, kMinVocabSize));
  }
  if (options.min_vocab_size > options.max_vocab_size) {
    throw UserError(fmt::format("--min-vocab-size {} is above --max-vocab-size {}",
                                options.min_vocab_size, options.max_vocab_size));
  }
  if (held_out_documents.empty()) {
    throw UserError("choosing the vocabulary size needs held-out text: give a validation split");
  }
  BpeTrainOptions train;
  train.vocab_size = options.max_vocab_size;
  train.pretokenizer = options.pretokenizer;
  train.threads = options.threads;
  const Tokenizer largest = train_bpe(training_documents, train);
  // A small corpus can run out of pairs before the maximum.
  const uint32_t max_size = std::min(options.max_vocab_size, largest.vocab_size());
  const uint32_t min_size = std::min(options.min_vocab_size, max_size);

  AutoVocabResult result{largest, {}, 0, ""};
  size_t best = 0;
  for (uint32_t size : vocab_grid(min_size, max_size, std::max(2u, options.grid_points))) {
    VocabCurvePoint point;
    point.vocab_size = size;
    point.bytes_per_token = bytes_per_token(largest.truncated(size), held_out_documents);
    point.cost_parameters = cost_parameters(model, size);
    point.score = point.bytes_per_token / static_cast<double>(point.cost_parameters) * 1e6;
    result.curve.push_back(point);
    if (point.score > result.curve[best].score) best = result.curve.size() - 1;
  }
  const VocabCurvePoint& chosen = result.curve[best];
  result.chosen_vocab_size = chosen.vocab_size;
  result.tokenizer = largest.truncated(chosen.vocab_size);
  const VocabCurvePoint& largest_point = result.curve.back();
  if (best + 1 == result.curve.size()) {
    result.reason = fmt::format(
        "vocabulary {}: the cheapest per byte of text ({:.3f} bytes/token for {} parameters per "
        "token); it is the largest tried, so the model's layers dominate its cost",
        chosen.vocab_size, chosen.bytes_per_token, human_count(chosen.cost_parameters));
  } else {
    result.reason = fmt::format(
        "vocabulary {}: the cheapest per byte of text ({:.3f} bytes/token for {} parameters per "
        "token); {} would compress {:.1f}% better but cost {:.1f}% more per token",
        chosen.vocab_size, chosen.bytes_per_token, human_count(chosen.cost_parameters),
        largest_point.vocab_size,
        100.0 * (largest_point.bytes_per_token / chosen.bytes_per_token - 1.0),
        100.0 * (static_cast<double>(largest_point.cost_parameters) /
                     static_cast<double>(chosen.cost_parameters) - 1.0));
  }
  return result;
}

std::string format_vocab_curve(const AutoVocabResult& result) {
  std::string text = fmt::format("{:>10}  {:>15}  {:>15}  {:>12}\n", "vocabulary",
                                 "bytes/token", "params/token", "bytes/Mparam");
  for (const VocabCurvePoint& point : result.curve) {
    text += fmt::format("{:>10}  {:>15.4f}  {:>15}  {:>12.4f}{}\n", point.vocab_size,
                        point.bytes_per_token, with_thousands(point.cost_parameters), point.score,
                        point.vocab_size == result.chosen_vocab_size ? "  <- chosen" : "");
  }
  return text + result.reason + "\n";
}

}  // namespace utt
