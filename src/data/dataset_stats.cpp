#include "data/dataset_stats.h"

#include <cmath>
#include <cstdio>

#include "data/utf8.h"

namespace utt {

DatasetStats compute_dataset_stats(const std::vector<std::string>& files,
                                   const std::string& text_column, const TokenEncoder* encoder) {
  DatasetStats stats;
  DocumentStream stream(files, text_column);
  std::string_view text;
  std::vector<uint32_t> ids;
  std::vector<int64_t> frequency;
  if (encoder != nullptr) {
    stats.tokens = 0;
    frequency.assign(encoder->vocab_size(), 0);
  }
  while (stream.next(text)) {
    ++stats.documents;
    stats.bytes += static_cast<int64_t>(text.size());
    stats.characters += count_code_points(text);
    if (encoder != nullptr) {
      ids.clear();
      encoder->encode(text, ids);
      *stats.tokens += static_cast<int64_t>(ids.size());
      for (uint32_t id : ids) {
        if (id < frequency.size()) ++frequency[id];
      }
    }
  }
  if (encoder != nullptr && *stats.tokens > 0) {
    double entropy = 0;
    const double total = static_cast<double>(*stats.tokens);
    for (int64_t count : frequency) {
      if (count == 0) continue;
      const double p = static_cast<double>(count) / total;
      entropy -= p * std::log(p);
    }
    stats.unigram_entropy_nats = entropy;
  }
  stats.skipped = stream.counts().skipped;
  stats.invalid_utf8_replaced = stream.counts().invalid_utf8_replaced;
  return stats;
}

std::string format_dataset_stats(const DatasetStats& stats) {
  std::string text;
  const auto line = [&](const char* name, int64_t value) {
    text += std::string(name) + ": " + std::to_string(value) + "\n";
  };
  line("documents", stats.documents);
  line("characters", stats.characters);
  line("bytes", stats.bytes);
  if (stats.tokens) line("tokens", *stats.tokens);
  if (stats.unigram_entropy_nats) {
    char value[32];
    std::snprintf(value, sizeof value, "%.4f", *stats.unigram_entropy_nats);
    text += std::string("unigram_entropy_nats: ") + value + "\n";
  }
  line("skipped", stats.skipped);
  line("invalid_utf8_replaced", stats.invalid_utf8_replaced);
  return text;
}

}  // namespace utt
