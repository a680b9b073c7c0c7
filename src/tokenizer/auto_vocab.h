// Choosing the vocabulary size from the data (--auto-vocab-size).
//
// The rule: pick the vocabulary that makes training cheapest per byte of text. Every token
// costs compute in proportion to the parameters it passes through, the transformer's layers
// plus the V x d_model output layer (tied or not), and covers bytes_per_token(V) bytes of
// text. A larger vocabulary compresses better (more bytes per token) but makes every token
// dearer, so
//
//     score(V) = bytes_per_token(V) / (layer parameters + V * d_model)
//
// is measured on held-out text for a grid of sizes in [min, max] and the largest score wins
// (ties to the smaller vocabulary). One BPE run up to the maximum gives every smaller
// vocabulary as a prefix of its merges, so the whole curve costs one training run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "tokenizer/bpe_train.h"

namespace utt {

struct AutoVocabOptions {
  uint32_t min_vocab_size = 1024;
  uint32_t max_vocab_size = 32768;
  uint32_t grid_points = 12;  // sizes tried, geometrically spaced, multiples of 64
  PretokenizerKind pretokenizer = PretokenizerKind::kCl100k;
  int threads = 0;
};

struct VocabCurvePoint {
  uint32_t vocab_size = 0;
  double bytes_per_token = 0;
  int64_t cost_parameters = 0;  // layers + output layer: what one token passes through
  double score = 0;             // bytes_per_token / cost_parameters, scaled by 1e6
};

struct AutoVocabResult {
  Tokenizer tokenizer;  // trained with the chosen size
  std::vector<VocabCurvePoint> curve;
  uint32_t chosen_vocab_size = 0;
  std::string reason;  // one line
};

// `model` gives d_model and the layers (its vocab_size is ignored). Throws UserError on an
// empty held-out set, min > max or min below kMinVocabSize. Deterministic.
AutoVocabResult choose_vocab_size(const DocumentSource& training_documents,
                                  const std::vector<std::string>& held_out_documents,
                                  const ModelConfig& model, const AutoVocabOptions& options);

// The curve as a small table, one line per size, the chosen one marked.
std::string format_vocab_curve(const AutoVocabResult& result);

}  // namespace utt
