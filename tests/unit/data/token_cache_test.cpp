// The token cache and the loader over it.
#include "data/token_cache.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "data/cached_loader.h"
#include "unit/data/data_test_util.h"
#include "util/error.h"

namespace utt::test {
namespace {

namespace fs = std::filesystem;

// Ids above 65535, so the cache must store 32-bit tokens.
class WideEncoder final : public TokenEncoder {
 public:
  void encode(std::string_view text, std::vector<uint32_t>& out) const override {
    for (char c : text) out.push_back(70000u + static_cast<unsigned char>(c));
  }
  const DocumentFraming& framing() const override { return framing_; }
  uint32_t vocab_size() const override { return 70256; }
  std::string fingerprint() const override { return "wide-test-v1"; }

 private:
  DocumentFraming framing_{{}, {69999}};
};

std::string write_corpus(const std::string& dir, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) {
    text += "doc " + std::to_string(i) + " " + std::string(static_cast<size_t>(i % 23), 'q') + "\n";
  }
  write_file(dir + "/train.txt", text);
  return dir + "/train.txt";
}

std::vector<std::vector<uint32_t>> tokenized_directly(const std::string& file,
                                                      const TokenEncoder& encoder) {
  std::vector<std::vector<uint32_t>> docs;
  DocumentStream stream({file}, "text");
  std::string_view text;
  while (stream.next(text)) {
    docs.emplace_back();
    encoder.encode(text, docs.back());
  }
  return docs;
}

std::vector<std::vector<uint32_t>> cached_documents(const TokenCache& cache) {
  std::vector<std::vector<uint32_t>> docs(static_cast<size_t>(cache.num_documents()));
  for (int64_t d = 0; d < cache.num_documents(); ++d) cache.append_document(d, docs[static_cast<size_t>(d)]);
  return docs;
}

TEST(TokenCache, HoldsEveryDocumentsTokensInOrderAndIsBuiltOnce) {
  const std::string dir = make_scratch_dir("cache-build");
  const std::string file = write_corpus(dir, 500);
  ByteEncoder bytes;
  TokenCacheSource source{{file}, "train", "text", {}};
  const std::string path = token_cache_path(dir + "/cache", source, bytes);
  EXPECT_TRUE(build_token_cache(path, source, bytes, 3));
  EXPECT_FALSE(build_token_cache(path, source, bytes, 3));
  const TokenCache cache(path);
  EXPECT_EQ(cached_documents(cache), tokenized_directly(file, bytes));
  // 16-bit tokens for a vocabulary that fits: header + 2 bytes a token + aligned offsets.
  const uint64_t tokens_end = 64 + 2 * static_cast<uint64_t>(cache.num_tokens());
  EXPECT_EQ(fs::file_size(path), (tokens_end + 7) / 8 * 8 + 8 * (cache.num_documents() + 1));
}

TEST(TokenCache, LargeVocabulariesAreStoredIn32Bits) {
  const std::string dir = make_scratch_dir("cache-wide");
  const std::string file = write_corpus(dir, 50);
  WideEncoder wide;
  TokenCacheSource source{{file}, "train", "text", {}};
  const std::string path = token_cache_path(dir, source, wide);
  build_token_cache(path, source, wide, 2);
  const TokenCache cache(path);
  EXPECT_EQ(cached_documents(cache), tokenized_directly(file, wide));
  EXPECT_EQ(cache.eos_id(), 69999u);
}

TEST(TokenCache, TheKeyChangesWithTheDataTheSelectionAndTheEncoder) {
  const std::string dir = make_scratch_dir("cache-key");
  const std::string file = write_corpus(dir, 10);
  ByteEncoder bytes;
  WideEncoder wide;
  TokenCacheSource source{{file}, "train", "text", {}};
  const std::string path = token_cache_path(dir, source, bytes);
  EXPECT_NE(token_cache_path(dir, source, wide), path);
  TokenCacheSource capped = source;
  capped.selection.max_documents = 5;
  EXPECT_NE(token_cache_path(dir, capped, bytes), path);
  write_file(file, read_file(file) + "one more document\n");
  EXPECT_NE(token_cache_path(dir, source, bytes), path);
}

TEST(TokenCache, AFailedBuildLeavesNoCacheBehind) {
  const std::string dir = make_scratch_dir("cache-failed");
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string gz = gzip_bytes(text);
  write_file(dir + "/data/train.txt.gz", gz.substr(0, gz.size() - 100));
  write_file(dir + "/empty/train.txt", "\n\n\n");
  ByteEncoder bytes;
  for (const std::string& file : {dir + "/data/train.txt.gz", dir + "/empty/train.txt"}) {
    TokenCacheSource source{{file}, "train", "text", {}};
    const std::string path = token_cache_path(dir + "/cache", source, bytes);
    EXPECT_THROW(build_token_cache(path, source, bytes, 2), UserError) << file;
    EXPECT_TRUE(fs::is_empty(dir + "/cache")) << file;
  }
}

TEST(TokenCache, ACorruptOrForeignCacheIsRefusedWithAHint) {
  const std::string dir = make_scratch_dir("cache-corrupt");
  const std::string file = write_corpus(dir, 30);
  ByteEncoder bytes;
  TokenCacheSource source{{file}, "train", "text", {}};
  const std::string path = token_cache_path(dir, source, bytes);
  build_token_cache(path, source, bytes, 1);
  const std::string good = read_file(path);
  write_file(dir + "/cut.bin", good.substr(0, good.size() - 9));
  std::string newer = good;
  newer[8] = 2;  // version 2
  write_file(dir + "/newer.bin", newer);
  write_file(dir + "/foreign.bin", std::string(100, 'x'));
  for (const char* name : {"cut.bin", "newer.bin", "foreign.bin"}) {
    try {
      TokenCache cache(dir + "/" + name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find("delete it"), std::string::npos) << error.what();
    }
  }
}

LoaderConfig cached_config() {
  LoaderConfig config;
  config.batch_size = 4;
  config.seq_len = 12;
  config.stride = 9;
  config.seed = 3;
  config.epochs = 3;
  return config;
}

std::vector<std::vector<uint32_t>> all_batches(BatchLoader& loader, int64_t limit = -1) {
  std::vector<std::vector<uint32_t>> batches;
  std::vector<uint32_t> batch;
  while ((limit < 0 || static_cast<int64_t>(batches.size()) < limit) && loader.next_batch(batch)) {
    batches.push_back(batch);
  }
  return batches;
}

TEST(CachedLoader, StepsAreKnownBeforeStepOneAndResumeIsExact) {
  const std::string dir = make_scratch_dir("cache-loader");
  const std::string file = write_corpus(dir, 400);
  ByteEncoder bytes;
  TokenCacheSource source{{file}, "train", "text", {}};
  const std::string path = token_cache_path(dir, source, bytes);
  build_token_cache(path, source, bytes, 2);
  const TokenCache cache(path);

  for (int64_t block : {int64_t{1}, int64_t{6}, int64_t{4096}}) {
    LoaderConfig config = cached_config();
    config.window_shuffle_windows = block;
    CachedLoader uninterrupted(config, cache, bytes);
    const int64_t steps = count_optimizer_steps(uninterrupted.stream_tokens_per_epoch(), 4, 12, 9, 1, 3, config.seed);
    const auto expected = all_batches(uninterrupted);
    EXPECT_EQ(static_cast<int64_t>(expected.size()), steps);
    const size_t per_epoch = expected.size() / 3;
    EXPECT_NE(expected[0], expected[per_epoch]);  // a new permutation each epoch
    for (int64_t stop : {int64_t{1}, int64_t{9}, static_cast<int64_t>(per_epoch), static_cast<int64_t>(per_epoch) + 5}) {
      CachedLoader first(config, cache, bytes);
      auto got = all_batches(first, stop);
      CachedLoader resumed(config, cache, bytes, LoaderState::from_json(first.state().to_json()));
      const auto rest = all_batches(resumed);
      got.insert(got.end(), rest.begin(), rest.end());
      EXPECT_EQ(got, expected) << "blocks of " << block << " windows, stopped after " << stop;
    }
  }
}

TEST(CachedLoader, RanksPackDisjointShares) {
  const std::string dir = make_scratch_dir("cache-ranks");
  const std::string file = write_corpus(dir, 300);
  ByteEncoder bytes;
  TokenCacheSource source{{file}, "train", "text", {}};
  const std::string path = token_cache_path(dir, source, bytes);
  build_token_cache(path, source, bytes, 2);
  const TokenCache cache(path);
  int64_t total = 0;
  for (int64_t rank = 0; rank < 3; ++rank) {
    LoaderConfig config = cached_config();
    config.selection.rank = rank;
    config.selection.world = 3;
    total += CachedLoader(config, cache, bytes).stream_tokens_per_epoch();
  }
  EXPECT_EQ(total, cache.num_tokens() + cache.num_documents());
}

}  // namespace
}  // namespace utt::test
