// Streaming loader throughput and memory: MB/s and tokens/s of StreamingLoader (ByteEncoder,
// so the tokenizer's own speed is left out, or a BPE tokenizer.json with --tokenizer), side by side with its anchor, a plain
// DocumentStream pass over the same file (reading and JSON parsing only), and the resident
// memory while streaming, to show it stays flat whatever the file size; then the token
// cache: how long building it takes, and how long a later run waits before its first batch.
//
// Usage: data_loader_bench [--megabytes N] [--threads N] [--shuffle N] [--dir PATH]
//                          [--tokenizer tokenizer.json]   (the BPE tokenizer instead of bytes)
//                          [--input FILE]   (a JSON Lines file of yours instead of the generated one)
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "data/document_stream.h"
#include "data/cached_loader.h"
#include "data/streaming_loader.h"
#include "data/token_cache.h"
#include "tokenizer/tokenizer.h"
#include "train/tokenizer_encoder.h"
#include "util/text.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      int64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

// JSON Lines of documents of 200..4000 bytes of pseudo-random words.
void write_corpus(const std::string& path, int64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  uint64_t state = 12345;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  static const char* words[] = {"the", "union", "state", "of", "congress", "people", "nation",
                                "government", "year", "war", "peace", "law", "great", "public"};
  int64_t written = 0;
  std::string doc;
  while (written < bytes) {
    doc.clear();
    const uint64_t length = 200 + next() % 3800;
    while (doc.size() < length) {
      doc += words[next() % 14];
      doc += ' ';
    }
    const std::string line = "{\"text\": \"" + doc + "\"}\n";
    out << line;
    written += static_cast<int64_t>(line.size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t megabytes = 256;
  int threads = 2;
  size_t shuffle = 10000;
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string tokenizer_path;
  std::string input;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--megabytes") megabytes = utt::parse_int(argv[i + 1], flag);
    else if (flag == "--threads") threads = static_cast<int>(utt::parse_int(argv[i + 1], flag));
    else if (flag == "--shuffle") shuffle = static_cast<size_t>(utt::parse_int(argv[i + 1], flag));
    else if (flag == "--dir") dir = argv[i + 1];
    else if (flag == "--tokenizer") tokenizer_path = argv[i + 1];
    else if (flag == "--input") input = argv[i + 1];
  }
  const std::string path = input.empty() ? dir + "/utt-data-bench.jsonl" : input;
  if (input.empty()) write_corpus(path, megabytes << 20);
  const double file_mb = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
  fmt::print("corpus: {:.0f} MB of JSON Lines ({}), {} tokenizer threads, shuffle buffer {}\n",
             file_mb, input.empty() ? "generated" : input, threads, shuffle);

  // Anchor: reading and parsing alone.
  auto start = Clock::now();
  utt::DocumentStream stream({path}, "text");
  std::string_view text;
  int64_t text_bytes = 0;
  while (stream.next(text)) text_bytes += static_cast<int64_t>(text.size());
  const double read_seconds = seconds_since(start);

  utt::ByteEncoder bytes;
  std::optional<utt::Tokenizer> tokenizer;
  std::optional<utt::TokenizerEncoder> bpe;
  if (!tokenizer_path.empty()) {
    tokenizer = utt::Tokenizer::load(tokenizer_path);
    bpe.emplace(*tokenizer);
  }
  const utt::TokenEncoder& encoder = bpe ? static_cast<const utt::TokenEncoder&>(*bpe) : bytes;
  fmt::print("encoder: {}\n", bpe ? "BPE " + tokenizer_path : std::string("bytes"));
  utt::LoaderConfig config;
  config.files = {path};
  config.batch_size = 8;
  config.seq_len = 256;
  config.shuffle_buffer_size = shuffle;
  config.seed = 1;
  config.epochs = 1;
  config.worker_threads = threads;
  start = Clock::now();
  utt::StreamingLoader loader(config, encoder);
  std::vector<uint32_t> batch;
  int64_t tokens = 0, batches = 0;
  int64_t rss_min = INT64_MAX, rss_max = 0;
  auto last_sample = Clock::now();
  while (loader.next_batch(batch)) {
    tokens += static_cast<int64_t>(batch.size());
    ++batches;
    if (std::chrono::duration<double>(Clock::now() - last_sample).count() > 0.5) {
      last_sample = Clock::now();
      const int64_t rss = resident_bytes();
      // The first seconds fill the shuffle buffer; flat means flat after that.
      if (seconds_since(start) > 2.0) {
        rss_min = std::min(rss_min, rss);
        rss_max = std::max(rss_max, rss);
      }
    }
  }
  const double load_seconds = seconds_since(start);
  const double text_mb = static_cast<double>(text_bytes) / (1 << 20);
  fmt::print("{:<34} {:>10} {:>14} {:>8}\n", "", "MB/s", "tokens/s", "ratio");
  fmt::print("{:<34} {:>10.1f} {:>14} {:>8}\n", "anchor: DocumentStream (read+parse)",
             text_mb / read_seconds, "-", "1.00");
  fmt::print("{:<34} {:>10.1f} {:>14} {:>8.2f}\n", "StreamingLoader (B=8, T=256)",
             text_mb / load_seconds, utt::with_thousands(static_cast<int64_t>(tokens / load_seconds)),
             read_seconds / load_seconds);
  fmt::print("batches: {}, resident memory while streaming: {} .. {}\n", batches,
             utt::human_bytes(static_cast<double>(rss_min == INT64_MAX ? 0 : rss_min)),
             utt::human_bytes(static_cast<double>(rss_max)));

  // The token cache: built once (tokenizing in parallel), then opened as a later run would.
  utt::TokenCacheSource source{{path}, "train", "text", {}};
  const std::string cache_path = utt::token_cache_path(dir, source, encoder);
  std::filesystem::remove(cache_path);
  start = Clock::now();
  utt::build_token_cache(cache_path, source, encoder, threads);
  const double build_seconds = seconds_since(start);
  start = Clock::now();
  const utt::TokenCache cache(cache_path);
  utt::CachedLoader cached(config, cache, encoder);
  cached.next_batch(batch);
  const double open_seconds = seconds_since(start);
  fmt::print("token cache: built in {:.1f} s ({:.1f} MB/s, {}), opened and first batch in {:.3f} s\n",
             build_seconds, text_mb / build_seconds,
             utt::human_bytes(static_cast<double>(std::filesystem::file_size(cache_path))), open_seconds);
  std::filesystem::remove(cache_path);
  if (input.empty()) std::filesystem::remove(path);
  return 0;
}
