// --batch-size auto: the largest micro-batch that fits, accumulation for the rest.
#include "config/batch_size.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/memory_estimate.h"
#include "config/presets.h"
#include "util/error.h"

namespace utt {
namespace {

ModelConfig preset_model(const std::string& name) {
  const ModelPreset& preset = find_preset(name);
  ModelConfig m;
  m.vocab_size = 8000;
  m.d_model = preset.d_model;
  m.num_layers = preset.num_layers;
  m.num_heads = preset.num_heads;
  m.num_kv_heads = preset.num_heads;
  m.d_ff = preset.d_ff;
  m.seq_len = 256;
  return m;
}

double need(const ModelConfig& m, int64_t rows) { return estimate_training_memory(m, rows, false).total_bytes(); }

TEST(AutoBatch, TakesTheLargestMicroBatchThatFitsAndAccumulatesTheRest) {
  const ModelConfig m = preset_model("small");
  const double memory = need(m, 10) / kAutoBatchMemoryShare;  // exactly 10 rows fit
  const BatchChoice choice = choose_batch_size(m, 64 * 256, memory, false, 1, "test");
  EXPECT_EQ(choice.largest_fitting, 10);
  EXPECT_LE(choice.micro_batch, 10);
  EXPECT_GE(choice.micro_batch * choice.accumulation, 64);
  EXPECT_EQ(choice.accumulation, 7);  // 64 rows in micro-batches of at most 10
  EXPECT_EQ(choice.micro_batch, 10);  // ceil(64 / 7)
  EXPECT_NE(choice.reason.find("at most 10 would fit"), std::string::npos) << choice.reason;
}

TEST(AutoBatch, NeedsNoAccumulationWhenTheTargetFits) {
  const ModelConfig m = preset_model("nano");
  const BatchChoice choice = choose_batch_size(m, 16 * 256, 1e12, false, 1, "test");
  EXPECT_EQ(choice.micro_batch, 16);
  EXPECT_EQ(choice.accumulation, 1);
  EXPECT_NE(choice.reason.find("the target needs no more rows"), std::string::npos) << choice.reason;
}

TEST(AutoBatch, SplitsTheTargetOverRanks) {
  const ModelConfig m = preset_model("nano");
  const BatchChoice choice = choose_batch_size(m, 64 * 256, 1e12, false, 4, "test");
  EXPECT_EQ(choice.micro_batch * choice.accumulation, 16);
}

TEST(AutoBatch, RefusesWhenNotEvenOneRowFits) {
  const ModelConfig m = preset_model("small");
  try {
    choose_batch_size(m, 64 * 256, need(m, 1) / 2, false, 1, "test");
    FAIL() << "accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("not even one row"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("--use-mixed-precision"), std::string::npos) << error.what();
  }
}

TEST(AutoBatch, DefaultTargetGrowsWithTheModel) {
  const int64_t nano = default_effective_batch_tokens(preset_model("nano"));
  const int64_t small = default_effective_batch_tokens(preset_model("small"));
  const int64_t large = default_effective_batch_tokens(preset_model("large"));
  EXPECT_LT(nano, small);
  EXPECT_LT(small, large);
  for (int64_t tokens : {nano, small, large}) EXPECT_EQ(tokens & (tokens - 1), 0) << tokens;  // a power of two
  // DeepSeek LLM's fit at ~125M parameters trained on 20 tokens each: ~0.25M tokens.
  ModelConfig m = preset_model("small");
  EXPECT_GE(default_effective_batch_tokens(m), 8192);
}

TEST(AutoBatch, BackingOffHalvesTheMicroBatchAndKeepsTheRows) {
  const auto halved = [](int64_t micro, int64_t accumulation) {
    const std::optional<BatchSplit> h = halve_micro_batch(micro, accumulation);
    return h ? std::pair<int64_t, int64_t>{h->micro_batch, h->accumulation} : std::pair<int64_t, int64_t>{0, 0};
  };
  EXPECT_EQ(halved(64, 1), (std::pair<int64_t, int64_t>{32, 2}));
  EXPECT_EQ(halved(16, 3), (std::pair<int64_t, int64_t>{8, 6}));
  EXPECT_EQ(halved(5, 1), (std::pair<int64_t, int64_t>{2, 3}));  // 6 rows: even micro-batches, none fewer
  EXPECT_EQ(halved(2, 7), (std::pair<int64_t, int64_t>{1, 14}));
  EXPECT_FALSE(halve_micro_batch(1, 8));
}

TEST(AutoBatch, KnowsThisMachinesMemory) { EXPECT_GT(available_host_memory().bytes, 1e8); }

// A fake /sys/fs/cgroup: files written under a temporary root, removed afterwards.
class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("utt_cgroup_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& relative, const std::string& text) {
    const std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text << "\n";
  }
  double headroom(const std::string& proc_self_cgroup) {
    return cgroup_memory_headroom_bytes(proc_self_cgroup, root_.string());
  }
  std::filesystem::path root_;
};

TEST_F(CgroupTree, V2LimitOfTheProcesssGroupIsLimitMinusUsage) {
  write("job/memory.max", "4000000000");
  write("job/memory.current", "1000000000");
  EXPECT_DOUBLE_EQ(headroom("0::/job\n"), 3e9);
}

TEST_F(CgroupTree, TheTightestAncestorWins) {
  write("slice/memory.max", "2000000000");
  write("slice/memory.current", "1500000000");
  write("slice/job/memory.max", "max");
  write("slice/job/memory.current", "1000000000");
  EXPECT_DOUBLE_EQ(headroom("0::/slice/job\n"), 5e8);
}

TEST_F(CgroupTree, ContainerNamespaceRootHoldsTheLimit) {
  write("memory.max", "8000000000");
  write("memory.current", "2000000000");
  EXPECT_DOUBLE_EQ(headroom("0::/\n"), 6e9);
}

TEST_F(CgroupTree, V1MemoryControllerAndItsUnlimitedValue) {
  write("memory/job/memory.limit_in_bytes", "3000000000");
  write("memory/job/memory.usage_in_bytes", "500000000");
  write("memory/memory.limit_in_bytes", "9223372036854771712");
  write("memory/memory.usage_in_bytes", "7000000000");
  EXPECT_DOUBLE_EQ(headroom("4:memory:/job\n3:cpuset:/\n"), 2.5e9);
  EXPECT_DOUBLE_EQ(headroom("4:cpu,memory:/job\n"), 2.5e9);
}

TEST_F(CgroupTree, NoLimitOrNothingReadableIsMinusOne) {
  write("job/memory.max", "max");
  write("job/memory.current", "1000");
  EXPECT_EQ(headroom("0::/job\n"), -1);
  EXPECT_EQ(headroom("0::/missing\n"), -1);
  EXPECT_EQ(headroom(""), -1);
  EXPECT_EQ(headroom("garbage without colons\n"), -1);
  EXPECT_EQ(headroom("0::/../escape\n"), -1);
}

TEST_F(CgroupTree, UsageAboveTheLimitLeavesNothing) {
  write("job/memory.max", "1000");
  write("job/memory.current", "5000");
  EXPECT_EQ(headroom("0::/job\n"), 0);
}

}  // namespace
}  // namespace utt
