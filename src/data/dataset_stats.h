// What `utt data stats` reports: the size of a split as the trainer will see it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/document_stream.h"
#include "data/token_encoder.h"

namespace utt {

struct DatasetStats {
  int64_t documents = 0;
  int64_t characters = 0;  // Unicode code points, after UTF-8 repair
  int64_t bytes = 0;       // UTF-8 bytes, after UTF-8 repair
  int64_t skipped = 0;     // NULL or empty texts
  int64_t invalid_utf8_replaced = 0;
  std::optional<int64_t> tokens;  // with an encoder: ids, end-of-text separators excluded
  // With an encoder: the entropy of the token frequencies, in nats per token. A model that
  // knew only how often each token occurs would reach this loss; one that learned anything
  // about context goes below it.
  std::optional<double> unigram_entropy_nats;
};

// Reads every document of `files` once; counts tokens when `encoder` is given.
DatasetStats compute_dataset_stats(const std::vector<std::string>& files,
                                   const std::string& text_column,
                                   const TokenEncoder* encoder = nullptr);

// One "name: value" line each.
std::string format_dataset_stats(const DatasetStats& stats);

}  // namespace utt
