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
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on a chain of string +.
    text.append("d").append(std::to_string(i)).append(":");
    text.append(static_cast<size_t>(i % 17), static_cast<char>('a' + i % 26)).append("\n");
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

DocumentFraming ends_with(uint32_t eos) { return DocumentFraming{{}, {eos}}; }

TEST(WindowPacker, WindowsTileTheStreamOfDocumentsJoinedByEndOfText) {
  WindowPacker packer(3, 3);
  packer.add_document({1, 2}, ends_with(9));
  packer.add_document({3, 4, 5, 6, 7}, ends_with(9));  // stream: 1 2 9 3 4 5 6 7 9
  std::vector<uint32_t> window(4);
  ASSERT_TRUE(packer.has_window());
  EXPECT_EQ(packer.take_window(window.data()), 0);  // starts in document 0
  EXPECT_EQ(window, (std::vector<uint32_t>{1, 2, 9, 3}));
  ASSERT_TRUE(packer.has_window());
  EXPECT_EQ(packer.take_window(window.data()), 1);
  EXPECT_EQ(window, (std::vector<uint32_t>{3, 4, 5, 6}));
  EXPECT_FALSE(packer.has_window());
  EXPECT_EQ(packer.state().tokens, (std::vector<uint32_t>{6, 7, 9}));
  EXPECT_EQ(packer.state().first_document, 1);
}

TEST(WindowPacker, DocumentPositionsRestartWhereDocumentsStartCountedFromTheWindow) {
  WindowPacker packer(5, 3);
  packer.add_document({1, 2}, ends_with(9));
  packer.add_document({3}, ends_with(9));
  packer.add_document({4, 5, 6, 7}, ends_with(9));  // stream: 1 2 9 | 3 9 | 4 5 6 7 9
  std::vector<uint32_t> window(6);
  std::vector<int32_t> doc_pos(5);
  packer.take_window(window.data(), doc_pos.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{1, 2, 9, 3, 9, 4}));
  EXPECT_EQ(doc_pos, (std::vector<int32_t>{0, 1, 2, 0, 1}));  // inputs only: the last id is a target
  packer.take_window(window.data(), doc_pos.data());  // starts in document 1, at its end of text
  EXPECT_EQ(window, (std::vector<uint32_t>{3, 9, 4, 5, 6, 7}));
  EXPECT_EQ(doc_pos, (std::vector<int32_t>{0, 1, 0, 1, 2}));
  // A <bos> template: a document starts at its <bos>.
  WindowPacker bos(4, 4);
  bos.add_document({1, 2}, DocumentFraming{{7}, {}});
  bos.add_document({3, 4}, DocumentFraming{{7}, {}});  // 7 1 2 7 3 4
  bos.take_window(window.data(), doc_pos.data());
  EXPECT_EQ(std::vector<int32_t>(doc_pos.begin(), doc_pos.begin() + 4), (std::vector<int32_t>{0, 1, 2, 0}));
}

TEST(WindowPacker, AStrideBelowSeqLenOverlapsWindows) {
  WindowPacker packer(4, 2);
  packer.add_document({1, 2, 3, 4, 5, 6, 7, 8}, ends_with(0));
  std::vector<uint32_t> window(5);
  packer.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  packer.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(count_windows(9, 4, 2), 3);
}

TEST(WindowPacker, AnEpochOffsetSkipsTheStreamsFirstTokensAcrossDocuments) {
  WindowPacker packer(2, 2);
  packer.start(4);
  packer.add_document({1, 2}, ends_with(9));     // 1 2 9: all skipped
  packer.add_document({3, 4, 5}, ends_with(9));  // 3 skipped; 4 5 9 kept
  packer.add_document({6}, ends_with(9));
  std::vector<uint32_t> window(3);
  EXPECT_EQ(packer.take_window(window.data()), 1);
  EXPECT_EQ(window, (std::vector<uint32_t>{4, 5, 9}));
  EXPECT_EQ(packer.take_window(window.data()), 1);  // its first token ends document 1
  EXPECT_EQ(window, (std::vector<uint32_t>{9, 6, 9}));
  EXPECT_EQ(count_windows(9, 2, 2, 4), 2);
}

TEST(WindowPacker, ATemplateFramesEveryDocumentAndTheOffsetCanCutIntoIt) {
  // Llama-3 style: <bos> before each document, nothing after. Offset 1 drops the first <bos>.
  const DocumentFraming bos_first{{7}, {}};
  WindowPacker packer(3, 3);
  packer.start(1);
  packer.add_document({1, 2}, bos_first);  // (7) 1 2
  packer.add_document({3, 4}, bos_first);  // 7 3 4
  std::vector<uint32_t> window(4);
  ASSERT_TRUE(packer.has_window());
  EXPECT_EQ(packer.take_window(window.data()), 0);
  EXPECT_EQ(window, (std::vector<uint32_t>{1, 2, 7, 3}));
  // Framing on both sides, longer than one token each.
  const DocumentFraming both{{5, 6}, {8, 9}};
  WindowPacker framed(3, 3);
  framed.add_document({1}, both);
  ASSERT_TRUE(framed.has_window());
  framed.take_window(window.data());
  EXPECT_EQ(window, (std::vector<uint32_t>{5, 6, 1, 8}));
}

TEST(WindowPacker, ItsStateRestoresWindowsAndTheirDocuments) {
  WindowPacker packer(3, 2);
  for (uint32_t d = 0; d < 6; ++d) packer.add_document(std::vector<uint32_t>(d % 3 + 1, 10 + d), ends_with(99));
  std::vector<uint32_t> window(4), again(4);
  packer.take_window(window.data());
  WindowPacker resumed(3, 2);
  resumed.restore(packer.state());
  EXPECT_EQ(resumed.state(), packer.state());
  while (packer.has_window()) {
    ASSERT_TRUE(resumed.has_window());
    EXPECT_EQ(packer.take_window(window.data()), resumed.take_window(again.data()));
    EXPECT_EQ(window, again);
  }
  EXPECT_FALSE(resumed.has_window());
  PackerState damaged = packer.state();
  damaged.document_starts = {5, 2};
  EXPECT_THROW(resumed.restore(damaged), UserError);
}

TEST(WindowPacker, StepsAreKnownFromTheTokenCountAndTheSeedAlone) {
  // 1000 tokens, T = 16, stride 16: 62 windows at offset 0 ((1000 - 17) / 16 + 1), 61 at
  // offsets above 7; 15 batches of 4 per epoch either way: 45 batches, 22 steps of 2.
  EXPECT_EQ(count_optimizer_steps(1000, 4, 16, 16, 2, 3, 42), 22);
  EXPECT_EQ(count_optimizer_steps(10, 4, 16, 16, 1, 3, 42), 0);
  // The offset of each epoch is below the stride and differs between epochs.
  std::set<int64_t> offsets;
  for (int64_t epoch = 0; epoch < 20; ++epoch) {
    const int64_t offset = epoch_window_offset(42, epoch, 16);
    EXPECT_GE(offset, 0);
    EXPECT_LT(offset, 16);
    offsets.insert(offset);
  }
  EXPECT_GT(offsets.size(), 5u);
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

  for (int64_t block : {int64_t{1}, int64_t{7}, int64_t{1000}}) {
    config.window_shuffle_windows = block;
    StreamingLoader loader(config, bytes);
    const Batches batches = all_batches(loader);
    EXPECT_EQ(static_cast<int64_t>(batches.size()),
              count_optimizer_steps(stream_tokens, 3, 16, 16, 1, 2, config.seed));
    for (const auto& batch : batches) ASSERT_EQ(batch.size(), 3u * 17u);
  }
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
  // No shuffles at all: the stream in file order from the epoch's offset.
  config.shuffle_buffer_size = 0;
  config.window_shuffle_windows = 1;
  StreamingLoader unshuffled(config, bytes);
  const Batches in_order = all_batches(unshuffled);
  EXPECT_NE(a, in_order);
  std::vector<uint32_t> stream;  // the first documents joined by end of text
  DocumentStream documents({file}, "text");
  std::string_view text;
  while (stream.size() < 80 && documents.next(text)) {
    bytes.encode(text, stream);
    stream.push_back(ByteEncoder::kEndOfText);
  }
  const auto offset = static_cast<std::ptrdiff_t>(epoch_window_offset(config.seed, 0, 16));
  for (std::ptrdiff_t b = 0; b < 3; ++b) {  // windows of 17 tokens every 16
    EXPECT_EQ(std::vector<uint32_t>(in_order[0].begin() + 17 * b, in_order[0].begin() + 17 * (b + 1)),
              std::vector<uint32_t>(stream.begin() + offset + 16 * b, stream.begin() + offset + 16 * b + 17));
  }
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

// `count` documents of `length` bytes, document i made of the letter 'a' + i only, so every
// token tells which document it came from.
std::string write_long_documents(const std::string& name, int count, size_t length) {
  const std::string dir = make_scratch_dir(name);
  std::string text;
  for (int i = 0; i < count; ++i) text += std::string(length, static_cast<char>('a' + i)) + "\n";
  write_file(dir + "/train.txt", text);
  return dir + "/train.txt";
}

// Distinct documents among the windows of a batch, told by each window's first letter.
size_t documents_in(const std::vector<uint32_t>& batch, int64_t batch_size, int64_t seq_len) {
  std::set<uint32_t> letters;
  for (int64_t b = 0; b < batch_size; ++b) {
    for (int64_t t = 0; t <= seq_len; ++t) {
      const uint32_t token = batch[static_cast<size_t>(b * (seq_len + 1) + t)];
      if (token != ByteEncoder::kEndOfText) {
        letters.insert(token);
        break;
      }
    }
  }
  return letters.size();
}

TEST(StreamingLoader, ABatchMixesWindowsOfManyDocumentsOnACorpusOfLongDocuments) {
  // 8 documents of 3,000 tokens: about 190 windows of 16 each. In stream order a batch of 8 is
  // 8 neighbouring windows of one document (two at a boundary); shuffled, it mixes most of them.
  const std::string file = write_long_documents("loader-long-documents", 8, 3000);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  config.batch_size = 8;
  config.epochs = 1;
  config.window_shuffle_windows = default_window_shuffle_windows(config.seq_len, config.batch_size);
  StreamingLoader shuffled(config, bytes);
  const Batches mixed = all_batches(shuffled);
  ASSERT_GT(mixed.size(), 100u);
  double total = 0;
  for (const auto& batch : mixed) {
    const size_t documents = documents_in(batch, 8, 16);
    EXPECT_GE(documents, 3u);  // 8 draws from 8 equal documents: P(<= 2 distinct) < 1e-4
    total += static_cast<double>(documents);
  }
  EXPECT_GT(total / static_cast<double>(mixed.size()), 4.5);  // 8 * (1 - (7/8)^8) = 5.25 expected
  EXPECT_NEAR(shuffled.mix().documents_per_batch(), total / static_cast<double>(mixed.size()), 0.3);

  config.window_shuffle_windows = 1;
  StreamingLoader in_order(config, bytes);
  for (const auto& batch : all_batches(in_order)) EXPECT_LE(documents_in(batch, 8, 16), 2u);
  EXPECT_LE(in_order.mix().documents_per_batch(), 1.1);
}

TEST(StreamingLoader, WindowBoundariesMoveBetweenEpochs) {
  // One long document, no shuffles: epoch 1's windows are epoch 0's shifted by the difference
  // of their offsets, so no window of one epoch is a window of the other.
  const std::string dir = make_scratch_dir("loader-offsets");
  std::string text;
  uint32_t state = 1;  // letters from a linear congruential generator: no repeated stretch
  for (int i = 0; i < 400; ++i) {
    state = state * 1664525u + 1013904223u;
    text += static_cast<char>('a' + (state >> 24) % 26);
  }
  write_file(dir + "/train.txt", text + "\n");
  ByteEncoder bytes;
  LoaderConfig config = small_config(dir + "/train.txt");
  config.batch_size = 1;
  config.shuffle_buffer_size = 0;
  config.window_shuffle_windows = 1;
  ASSERT_NE(epoch_window_offset(config.seed, 0, 16), epoch_window_offset(config.seed, 1, 16));
  StreamingLoader loader(config, bytes);
  const Batches windows = all_batches(loader);
  const size_t first_epoch = static_cast<size_t>(count_windows(401, 16, 16, epoch_window_offset(config.seed, 0, 16)));
  ASSERT_GT(windows.size(), first_epoch);
  const std::set<std::vector<uint32_t>> epoch0(windows.begin(), windows.begin() + static_cast<std::ptrdiff_t>(first_epoch));
  for (size_t i = first_epoch; i < windows.size(); ++i) EXPECT_EQ(epoch0.count(windows[i]), 0u) << i;
}

TEST(StreamingLoader, AResumedLoaderYieldsExactlyTheBatchesOfAnUninterruptedOne) {
  const std::string file = write_corpus("loader-resume", 300);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  config.stride = 11;  // overlapping windows: the packer's tokens matter
  for (int64_t block : {int64_t{1}, int64_t{5}, int64_t{64}}) {
    config.window_shuffle_windows = block;
    StreamingLoader uninterrupted(config, bytes);
    const Batches expected = all_batches(uninterrupted);
    ASSERT_GT(expected.size(), 20u);
    const int64_t per_epoch = static_cast<int64_t>(expected.size()) / 2;
    for (int64_t stop : {int64_t{1}, int64_t{7}, int64_t{21}, per_epoch - 1, per_epoch, per_epoch + 3}) {
      StreamingLoader first(config, bytes);
      Batches got = all_batches(first, stop);
      const std::string saved = first.state().to_json();
      StreamingLoader resumed(config, bytes, LoaderState::from_json(saved));
      const Batches rest = all_batches(resumed);
      got.insert(got.end(), rest.begin(), rest.end());
      EXPECT_EQ(got, expected) << "blocks of " << block << " windows, stopped after " << stop << " batches";
    }
  }
}

// Document positions come from the packer's state, which a checkpoint carries: a resumed loader
// gives the same ones, and they restart exactly after each end of text (the byte encoder's 256).
TEST(StreamingLoader, DocumentPositionsFollowEndOfTextAndResumeExactly) {
  const std::string file = write_corpus("loader-doc-pos", 200);
  ByteEncoder bytes;
  LoaderConfig config = small_config(file);
  config.window_shuffle_windows = 5;
  auto batches_with_positions = [&](StreamingLoader& loader, int64_t limit) {
    std::vector<std::pair<std::vector<uint32_t>, std::vector<int32_t>>> out;
    std::vector<uint32_t> tokens;
    std::vector<int32_t> doc_pos;
    while ((limit < 0 || static_cast<int64_t>(out.size()) < limit) && loader.next_batch(tokens, doc_pos)) {
      out.emplace_back(tokens, doc_pos);
    }
    return out;
  };
  StreamingLoader uninterrupted(config, bytes);
  const auto expected = batches_with_positions(uninterrupted, -1);
  ASSERT_GT(expected.size(), 10u);
  const int64_t T = config.seq_len;
  for (const auto& [tokens, doc_pos] : expected) {
    ASSERT_EQ(doc_pos.size(), static_cast<size_t>(config.batch_size * T));
    for (int64_t b = 0; b < config.batch_size; ++b) {
      EXPECT_EQ(doc_pos[static_cast<size_t>(b * T)], 0);
      for (int64_t t = 1; t < T; ++t) {
        const bool after_end_of_text = tokens[static_cast<size_t>(b * (T + 1) + t - 1)] == 256;
        const int32_t previous = doc_pos[static_cast<size_t>(b * T + t - 1)];
        EXPECT_EQ(doc_pos[static_cast<size_t>(b * T + t)], after_end_of_text ? 0 : previous + 1);
      }
    }
  }
  StreamingLoader first(config, bytes);
  auto got = batches_with_positions(first, 7);
  StreamingLoader resumed(config, bytes, LoaderState::from_json(first.state().to_json()));
  const auto rest = batches_with_positions(resumed, -1);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, expected);
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
  config.seq_len = 16;
  config.window_shuffle_windows = 3;
  EXPECT_THROW(StreamingLoader(config, bytes, first.state()), UserError);
  EXPECT_THROW(LoaderState::from_json("{\"version\": 1}"), UserError);
  EXPECT_THROW(LoaderState::from_json("{\"version\": 2}"), UserError);
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
