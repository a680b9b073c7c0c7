// Data parallelism at the data stage: each rank's share of an epoch, as the trainer takes it
// (rank_share of the step's whole batch).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "data/streaming_loader.h"
#include "unit/data/data_test_util.h"

namespace utt::test {
namespace {

using Window = std::vector<uint32_t>;

// Document i is the line "<i>"; NumberedEncoder turns it into 3 + i % 11 ids of its own, so no
// id repeats except the end of text, and every window of the packed stream is distinct.
std::string write_numbered_corpus(const std::string& name, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text.append(std::to_string(i)).append("\n");
  const std::string dir = make_scratch_dir(name);
  write_file(dir + "/train.txt", text);
  return dir + "/train.txt";
}

class NumberedEncoder final : public TokenEncoder {
 public:
  void encode(std::string_view text, std::vector<uint32_t>& out) const override {
    const auto number = static_cast<uint32_t>(std::stoul(std::string(text)));
    for (uint32_t k = 0; k < 3 + number % 11; ++k) out.push_back(1 + number * 16 + k);
  }
  const DocumentFraming& framing() const override { return framing_; }
  uint32_t vocab_size() const override { return 1 << 20; }
  std::string fingerprint() const override { return "numbered-v1"; }

 private:
  DocumentFraming framing_{{}, {0}};
};

LoaderConfig one_epoch(const std::string& file, int64_t batch_size) {
  LoaderConfig config;
  config.files = {file};
  config.batch_size = batch_size;
  config.seq_len = 12;
  config.shuffle_buffer_size = 40;
  config.window_shuffle_windows = 16;
  config.seed = 11;
  config.epochs = 1;
  config.worker_threads = 1;
  return config;
}

std::vector<Window> rows_of(const std::vector<uint32_t>& ids, size_t row) {
  std::vector<Window> rows;
  for (size_t start = 0; start < ids.size(); start += row) rows.emplace_back(ids.begin() + start, ids.begin() + start + row);
  return rows;
}

TEST(DataParallelShards, RanksSharesOfAnEpochAreDisjointAndCoverItsBatchesOnce) {
  const std::string file = write_numbered_corpus("shards", 300);
  NumberedEncoder numbered;
  const size_t row = 13;
  // The epoch's windows in order: a loader taking one window at a time drops none.
  StreamingLoader single(one_epoch(file, 1), numbered);
  std::vector<Window> epoch;
  for (std::vector<uint32_t> batch; single.next_batch(batch);) epoch.push_back(batch);
  std::map<Window, int> distinct;
  for (const Window& w : epoch) ++distinct[w];
  ASSERT_EQ(distinct.size(), epoch.size()) << "the corpus must make every window distinct";

  const int64_t rows_per_rank = 3;
  for (int64_t ranks : {2, 3, 4}) {
    StreamingLoader loader(one_epoch(file, ranks * rows_per_rank), numbered);
    std::vector<std::vector<Window>> shares(static_cast<size_t>(ranks));
    for (std::vector<uint32_t> batch; loader.next_batch(batch);) {
      for (int64_t r = 0; r < ranks; ++r) {
        const std::span<const uint32_t> share = rank_share(batch, r, ranks);
        ASSERT_EQ(share.size(), static_cast<size_t>(rows_per_rank) * row);
        for (const Window& w : rows_of(std::vector<uint32_t>(share.begin(), share.end()), row)) {
          shares[static_cast<size_t>(r)].push_back(w);
        }
      }
    }
    // Every window trained by some rank is a window of the epoch, trained by exactly one rank.
    std::map<Window, int> trained;
    for (const auto& share : shares) {
      for (const Window& w : share) ++trained[w];
    }
    size_t total = 0;
    for (const auto& [window, times] : trained) {
      EXPECT_EQ(times, 1) << "a window was trained twice with " << ranks << " ranks";
      EXPECT_TRUE(distinct.count(window)) << "a window that is not in the epoch";
      total += static_cast<size_t>(times);
    }
    // All of the epoch but its partial last step: fewer than ranks x B windows are left out.
    const size_t step_rows = static_cast<size_t>(ranks * rows_per_rank);
    EXPECT_EQ(total, epoch.size() / step_rows * step_rows) << ranks << " ranks";
    // And in the epoch's own order: step s is windows [s R B, (s + 1) R B), rank r's rows r B...
    for (size_t i = 0; i < total; ++i) {
      const size_t step = i / step_rows, within = i % step_rows;
      const size_t rank = within / static_cast<size_t>(rows_per_rank);
      const size_t k = step * static_cast<size_t>(rows_per_rank) + within % static_cast<size_t>(rows_per_rank);
      ASSERT_EQ(shares[rank][k], epoch[i]) << "window " << i << " with " << ranks << " ranks";
    }
  }
}

TEST(DataParallelShards, AShareIsTheRanksBlockOfRows) {
  const std::vector<uint32_t> batch = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(std::vector<uint32_t>(rank_share(batch, 0, 3).begin(), rank_share(batch, 0, 3).end()),
            (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(std::vector<uint32_t>(rank_share(batch, 2, 3).begin(), rank_share(batch, 2, 3).end()),
            (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(rank_share(batch, 0, 1).size(), 6u);
}

}  // namespace
}  // namespace utt::test
