#include "tokenizer/bpe_train.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/byte_level.h"
#include "tokenizer/piece_counts.h"
#include "util/error.h"

namespace utt {
namespace {

// Documents are read into batches of about this many bytes, counted by all threads, and
// dropped: memory is bounded by the distinct pieces, not by the corpus.
constexpr size_t kBatchBytes = 16 << 20;

void count_pieces(const PretokenizerRegex& regex, std::string_view document, PieceCounts& counts) {
  regex.for_each_piece(document, [&](std::string_view piece) {
    if (piece.size() >= 2) counts.add(piece);  // a single byte has no pair to merge
  });
}

// Reads every document and returns the distinct pieces with their counts.
PieceCounts count_corpus(const DocumentSource& next_document, const PretokenizerRegex& regex,
                         size_t threads, uint64_t& document_count, uint64_t& byte_count) {
  std::vector<PieceCounts> counts(threads);
  std::vector<std::string> batch;
  document_count = 0;
  byte_count = 0;
  auto count_batch = [&] {
    std::atomic<size_t> next{0};
    auto worker = [&](size_t t) {
      for (size_t i = next++; i < batch.size(); i = next++) count_pieces(regex, batch[i], counts[t]);
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker, t);
    worker(0);
    for (std::thread& thread : pool) thread.join();
    batch.clear();
  };
  size_t batch_bytes = 0;
  std::string_view document;
  while (next_document(document)) {
    ++document_count;
    byte_count += document.size();
    batch.emplace_back(document);
    batch_bytes += document.size();
    if (batch_bytes >= kBatchBytes) {
      count_batch();
      batch_bytes = 0;
    }
  }
  count_batch();
  std::vector<std::string>().swap(batch);
  for (size_t t = 1; t < threads; ++t) {
    counts[0].add_all(counts[t]);
    counts[t].clear();
  }
  return std::move(counts[0]);
}

// The distinct words as symbol sequences, back to back in one array: no allocation per
// word, and merging only ever shortens a word, so it is rewritten in place.
struct Words {
  std::vector<uint32_t> symbols;
  std::vector<uint64_t> begin;
  std::vector<uint32_t> length;
  std::vector<uint64_t> count;

  size_t size() const { return count.size(); }
};

struct QueuedPair {
  int64_t count;
  uint64_t pair;
  // Max-heap order: higher count first; among equal counts the smaller (left, right).
  bool operator<(const QueuedPair& other) const {
    if (count != other.count) return count < other.count;
    return pair > other.pair;
  }
};

// The merge phase over the distinct words.
class MergeTrainer {
 public:
  MergeTrainer(Words words, std::vector<std::string>& tokens)
      : words_(std::move(words)), tokens_(tokens), stamp_(words_.size(), kNever) {
    for (uint32_t id = 0; id < tokens_.size(); ++id) id_of_token_.emplace(tokens_[id], id);
    for (uint32_t w = 0; w < words_.size(); ++w) {
      const uint32_t* s = words_.symbols.data() + words_.begin[w];
      for (size_t i = 0; i + 1 < words_.length[w]; ++i) {
        const uint64_t pair = pair_key(s[i], s[i + 1]);
        pair_counts_[pair] += static_cast<int64_t>(words_.count[w]);
        add_where(pair, w);
      }
    }
    // The lists only shrink from here on (merged pairs are dropped whole): give back the slack.
    for (auto& [pair, list] : where_) list.shrink_to_fit();
    for (const auto& [pair, count] : pair_counts_) queue_.push({count, pair});
  }

  // Merges until `ordinary_tokens` tokens exist or no pair occurs any more.
  std::vector<BpeMerge> run(size_t ordinary_tokens) {
    std::vector<BpeMerge> merges;
    while (tokens_.size() < ordinary_tokens && !queue_.empty()) {
      const QueuedPair top = queue_.top();
      queue_.pop();
      auto current = pair_counts_.find(top.pair);
      const int64_t count = current == pair_counts_.end() ? 0 : current->second;
      if (count != top.count) {
        if (count > 0) queue_.push({count, top.pair});  // stale entry: requeue at its count
        continue;
      }
      if (count < 1) break;
      const auto left = static_cast<uint32_t>(top.pair >> 32);
      const auto right = static_cast<uint32_t>(top.pair);
      merges.push_back({left, right});
      apply_merge(left, right, token_for(tokens_[left] + tokens_[right]),
                  static_cast<uint32_t>(merges.size()));
    }
    return merges;
  }

 private:
  static constexpr uint32_t kNever = ~uint32_t{0};

  // Two merges can spell the same token ("a"+"bc", "ab"+"c"): they share its id, as in HF.
  uint32_t token_for(const std::string& bytes) {
    auto found = id_of_token_.find(bytes);
    if (found != id_of_token_.end()) return found->second;
    const auto id = static_cast<uint32_t>(tokens_.size());
    tokens_.push_back(bytes);
    id_of_token_.emplace(bytes, id);
    return id;
  }

  // Words are visited one at a time, so a word already listed for `pair` is the last entry.
  void add_where(uint64_t pair, uint32_t word) {
    std::vector<uint32_t>& list = where_[pair];
    if (list.empty() || list.back() != word) list.push_back(word);
  }

  void apply_merge(uint32_t left, uint32_t right, uint32_t merged, uint32_t merge_number) {
    const uint64_t merged_pair = pair_key(left, right);
    const std::vector<uint32_t> affected = std::move(where_[merged_pair]);
    where_.erase(merged_pair);
    pair_counts_.erase(merged_pair);
    std::unordered_set<uint64_t> grown;
    for (uint32_t w : affected) {
      if (stamp_[w] == merge_number) continue;  // listed more than once
      stamp_[w] = merge_number;
      const auto weight = static_cast<int64_t>(words_.count[w]);
      auto change = [&](uint32_t a, uint32_t b, int64_t sign) {
        const uint64_t pair = pair_key(a, b);
        if (pair == merged_pair) return;
        pair_counts_[pair] += sign * weight;
        if (sign > 0) {
          add_where(pair, w);
          grown.insert(pair);
        }
      };
      // Left to right, non-overlapping; each replacement trades the pairs around it. The
      // word is rewritten in place: the write position never passes the read position.
      uint32_t* s = words_.symbols.data() + words_.begin[w];
      const size_t n = words_.length[w];
      size_t written = 0;
      for (size_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == left && s[i + 1] == right) {
          if (written > 0) {
            change(s[written - 1], left, -1);
            change(s[written - 1], merged, +1);
          }
          if (i + 2 < n) {
            change(right, s[i + 2], -1);
            change(merged, s[i + 2], +1);
          }
          s[written++] = merged;
          i += 2;
        } else {
          s[written++] = s[i++];
        }
      }
      words_.length[w] = static_cast<uint32_t>(written);
    }
    // Sorted so the queue (and so the result) never depends on hash-set order.
    std::vector<uint64_t> grown_sorted(grown.begin(), grown.end());
    std::sort(grown_sorted.begin(), grown_sorted.end());
    for (uint64_t pair : grown_sorted) {
      const int64_t count = pair_counts_[pair];
      if (count > 0) queue_.push({count, pair});
    }
  }

  Words words_;
  std::vector<std::string>& tokens_;
  std::unordered_map<std::string, uint32_t> id_of_token_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where_;
  std::priority_queue<QueuedPair> queue_;
  std::vector<uint32_t> stamp_;  // the last merge that visited each word
};

}  // namespace

Tokenizer train_bpe(const DocumentSource& next_document, const BpeTrainOptions& options) {
  if (options.vocab_size < kMinVocabSize) {
    throw UserError(fmt::format(
        "vocabulary size {} is too small: it must hold the 256 byte tokens and 2 special tokens "
        "(at least {})", options.vocab_size, kMinVocabSize));
  }
  const size_t threads = options.threads > 0 ? static_cast<size_t>(options.threads)
                                             : std::max(1u, std::thread::hardware_concurrency());
  const PretokenizerRegex regex{std::string(pretokenizer_pattern(options.pretokenizer))};
  uint64_t document_count = 0;
  uint64_t byte_count = 0;
  PieceCounts piece_counts = count_corpus(next_document, regex, threads, document_count, byte_count);
  if (byte_count == 0) {
    throw UserError(fmt::format("the training corpus is empty ({} documents, no text): give "
                                "documents with text", document_count));
  }

  // Token ids 0..255 are the bytes in GPT-2's order (code point order of their symbols),
  // which is also the order HF's trainer gives them, so ties break the same way.
  TokenizerSpec spec;
  spec.pretokenizer = options.pretokenizer;
  uint32_t id_of_byte[256];
  for (uint32_t id = 0; id < 256; ++id) {
    const uint8_t byte = bytes_in_symbol_order()[id];
    spec.tokens.emplace_back(1, static_cast<char>(byte));
    id_of_byte[byte] = id;
  }
  // The order of the words does not matter: the merge loop only ever sees sums of counts and
  // breaks ties by token ids, so any order (and any thread count) gives the same merges.
  Words words;
  words.count.reserve(piece_counts.size());
  piece_counts.for_each([&](std::string_view piece, uint64_t count) {
    words.begin.push_back(words.symbols.size());
    words.length.push_back(static_cast<uint32_t>(piece.size()));
    words.count.push_back(count);
    for (unsigned char byte : piece) words.symbols.push_back(id_of_byte[byte]);
  });
  piece_counts.clear();

  const size_t ordinary_tokens = options.vocab_size - 2;
  MergeTrainer trainer(std::move(words), spec.tokens);
  spec.merges = trainer.run(ordinary_tokens);
  for (std::string_view special : {kEndOfTextToken, kPadToken}) {
    spec.specials.push_back({std::string(special), static_cast<uint32_t>(spec.tokens.size())});
    spec.tokens.emplace_back(special);
  }
  return Tokenizer(std::move(spec));
}

}  // namespace utt
