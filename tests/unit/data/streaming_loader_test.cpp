// The streaming loader: packing, shuffling, sharding, epochs and exact resume.
#include "data/streaming_loader.h"

#include <gtest/gtest.h>

#include <set>

#include "data/document_stream.h"
#include "unit/data/data_test_util.h"
#include "util/error.h"

namespace utt::test {
namespace {

using Batches = std::vector<std::vector<uint32_t>>;

// `count` documents "d<i>:" followed by i % 17 letters, one per line.
std::string write_corpus(const std::string& name, int count) {
  const std::string dir = make_scratch_dir(name);
  std::string text;
  for (int i = 0; i < count; ++i) {
    text += "d" + std::to_string(i) + ":" + std::string(static_cast<size_t>(i % 17), 'a' + i % 26) + "\n";
  }
  write_file(dir + "/train.txt", text);
  return dir + "/train.txt";
}

LoaderConfig small_config(const std::string& file) {
  LoaderConfig config;
  config.files = {file};
  config.batch_size = 3;
  config.seq_len = 16;
  config.shuffle_buffer_size = 50;
  config.seed = 7;
  config.epochs = 2;
  config.worker_threads = 2;
  return config;
}

Batches all_batches(StreamingLoader& loader, int64_t limit = -1) {
  Batches batches;
  std::vector<uint32_t> batch;
  while ((limit < 0 || static_cast<int64_t>(batches.size()) < limit) && loader.next_batch(batch)) {
    batches.push_back(batch);
  }
  return batches;
}

TEST(WindowPacker, WindowsTileTheStreamOfDocumentsJoinedByEndOfText) {
  WindowPacker packer(3, 3);
  packer.add_document({1, 2}, 9);
  packer.add_document({3, 4, 5, 6, 7}, 9);  // stream: 1 2 9 3 4 5 6 7 9
  std::vector<uint32_t> window(4);
  ASSERT_TRUE(packer.has_window());
  packer.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{1, 2, 9, 3}));
  ASSERT_TRUE(packer.has_window());
  packer.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{3, 4, 5, 6}));
  EXPECT_FALSE(packer.has_window());
  EXPECT_EQ(packer.pending(), (std::vector<uint32_t>{6, 7, 9}));
}

TEST(WindowPacker, AStrideBelowSeqLenOverlapsWindows) {
  WindowPacker packer(4, 2);
  packer.add_document({1, 2, 3, 4, 5, 6, 7, 8}, 0);
  std::vector<uint32_t> window(5);
  packer.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  packer.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(count_windows(9, 4, 2), 3);
}

TEST(WindowPacker, StepsAreKnownFromTheTokenCountAlone) {
  // 1000 tokens, T = 16, stride 16: (1000 - 17) / 16 + 1 = 62 windows; 62 / 4 = 15 batches
  // per epoch; 3 epochs = 45 batches; 2 per step = 22 steps.
  EXPECT_EQ(count_optimizer_steps(1000, 4, 16, 16, 2, 3), 22);
  EXPECT_EQ(count_optimizer_steps(10, 4, 16, 16, 1, 3), 0);
}

TEST(StreamingLoader, BatchCountMatchesTheStepCountAndEveryTokenIsPacked) {
  const std::string file = write_corpus("loader-count", 300);
  LoaderConfig config = small_config(file);
  ByteEncoder bytes;
  // Stream tokens of one epoch: every document's bytes plus one end of text.
  int64_t stream_tokens = 0;
  DocumentStream stream({file}, "text");
  std::string_view text;
  while (stream.next(text)) stream_tokens += static_cast<int64_t>(text.size()) + 1;

  StreamingLoader loader(config, bytes);
  const Batches batches = all_batches(loader);
  EXPECT_EQ(static_cast<int64_t>(batches.size()),
            count_optimizer_steps(stream_tokens, 3, 16, 16, 1, 2));
  for (const auto& batch : batches) ASSERT_EQ(batch.size(), 3u * 17u);
}

TEST(StreamingLoader, TheOrderIsSeededAndIndependentOfTheThreadCount) {
  const std::string file = write_corpus("loader-seeded", 400);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  StreamingLoader one_thread([&] { auto c = config; c.worker_threads = 1; return c; }(), bytes);
  StreamingLoader four_threads([&] { auto c = config; c.worker_threads = 4; return c; }(), bytes);
  const Batches a = all_batches(one_thread);
  EXPECT_EQ(a, all_batches(four_threads));
  config.seed = 8;
  StreamingLoader other_seed(config, bytes);
  EXPECT_NE(a, all_batches(other_seed));
  config.shuffle_buffer_size = 0;
  StreamingLoader unshuffled(config, bytes);
  const Batches in_order = all_batches(unshuffled);
  EXPECT_NE(a, in_order);
  EXPECT_EQ(in_order[0][0], static_cast<uint32_t>('d'));
  EXPECT_EQ(in_order[0][1], static_cast<uint32_t>('0'));
}

TEST(StreamingLoader, EpochsAreShuffledDifferently) {
  const std::string file = write_corpus("loader-epochs", 200);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  StreamingLoader loader(config, bytes);
  const Batches batches = all_batches(loader);
  const size_t per_epoch = batches.size() / 2;
  ASSERT_GT(per_epoch, 0u);
  EXPECT_NE(Batches(batches.begin(), batches.begin() + static_cast<std::ptrdiff_t>(per_epoch)),
            Batches(batches.begin() + static_cast<std::ptrdiff_t>(per_epoch), batches.end()));
}

TEST(StreamingLoader, AResumedLoaderYieldsExactlyTheBatchesOfAnUninterruptedOne) {
  const std::string file = write_corpus("loader-resume", 300);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  config.stride = 11;  // overlapping windows: the pending tokens matter
  StreamingLoader uninterrupted(config, bytes);
  const Batches expected = all_batches(uninterrupted);
  ASSERT_GT(expected.size(), 20u);
  const int64_t per_epoch = static_cast<int64_t>(expected.size()) / 2;
  for (int64_t stop : {int64_t{1}, int64_t{7}, per_epoch - 1, per_epoch, per_epoch + 3}) {
    StreamingLoader first(config, bytes);
    Batches got = all_batches(first, stop);
    const std::string saved = first.state().to_json();
    StreamingLoader resumed(config, bytes, LoaderState::from_json(saved));
    const Batches rest = all_batches(resumed);
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, expected) << "stopped after " << stop << " batches";
  }
}

TEST(StreamingLoader, ResumingWithOtherSettingsIsRefused) {
  const std::string file = write_corpus("loader-resume-refused", 100);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  StreamingLoader first(config, bytes);
  std::vector<uint32_t> batch;
  ASSERT_TRUE(first.next_batch(batch));
  config.seq_len = 8;
  EXPECT_THROW(StreamingLoader(config, bytes, first.state()), UserError);
  EXPECT_THROW(LoaderState::from_json("{\"version\": 1}"), UserError);
}

TEST(StreamingLoader, ADatasetTooSmallForOneBatchIsAUserError) {
  const std::string file = write_corpus("loader-tiny", 2);
  ByteEncoder bytes;
  StreamingLoader loader(small_config(file), bytes);
  std::vector<uint32_t> batch;
  EXPECT_THROW(loader.next_batch(batch), UserError);
}

std::vector<std::string> documents_of(const std::string& file, DocumentSelection selection) {
  DocumentStream stream({file}, "text", selection);
  std::vector<std::string> documents;
  std::string_view text;
  while (stream.next(text)) documents.emplace_back(text);
  return documents;
}

TEST(Sharding, RanksReadDisjointBalancedSharesThatCoverTheDataset) {
  const std::string file = write_corpus("shards", 301);
  const std::vector<std::string> all = documents_of(file, {});
  std::multiset<std::string> union_of_shares;
  for (int64_t rank = 0; rank < 4; ++rank) {
    DocumentSelection selection;
    selection.rank = rank;
    selection.world = 4;
    const std::vector<std::string> share = documents_of(file, selection);
    EXPECT_GE(share.size(), 75u);
    EXPECT_LE(share.size(), 76u);
    union_of_shares.insert(share.begin(), share.end());
  }
  EXPECT_EQ(union_of_shares, std::multiset<std::string>(all.begin(), all.end()));
}

TEST(Selection, AValFractionHoldsOutASeededDisjointShareAndCapsCount) {
  const std::string file = write_corpus("val-fraction", 1000);
  DocumentSelection train{HoldOut::keep_train, 0.1, 42, std::nullopt, 0, 1};
  DocumentSelection validation{HoldOut::keep_validation, 0.1, 42, std::nullopt, 0, 1};
  const auto train_docs = documents_of(file, train);
  const auto val_docs = documents_of(file, validation);
  EXPECT_EQ(train_docs.size() + val_docs.size(), 1000u);
  EXPECT_GT(val_docs.size(), 60u);  // 100 expected; binomial sd 9.5
  EXPECT_LT(val_docs.size(), 140u);
  std::set<std::string> overlap(train_docs.begin(), train_docs.end());
  for (const std::string& doc : val_docs) EXPECT_EQ(overlap.count(doc), 0u) << doc;
  validation.seed = 43;
  EXPECT_NE(documents_of(file, validation), val_docs);
  train.max_documents = 10;
  EXPECT_EQ(documents_of(file, train).size(), 10u);
}

}  // namespace
}  // namespace utt::test
