#include "data/dataset_stats.h"

#include "data/utf8.h"

namespace utt {

DatasetStats compute_dataset_stats(const std::vector<std::string>& files,
                                   const std::string& text_column, const TokenEncoder* encoder) {
  DatasetStats stats;
  DocumentStream stream(files, text_column);
  std::string_view text;
  std::vector<uint32_t> ids;
  if (encoder != nullptr) stats.tokens = 0;
  while (stream.next(text)) {
    ++stats.documents;
    stats.bytes += static_cast<int64_t>(text.size());
    stats.characters += count_code_points(text);
    if (encoder != nullptr) {
      ids.clear();
      encoder->encode(text, ids);
      *stats.tokens += static_cast<int64_t>(ids.size());
    }
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
  line("skipped", stats.skipped);
  line("invalid_utf8_replaced", stats.invalid_utf8_replaced);
  return text;
}

}  // namespace utt
