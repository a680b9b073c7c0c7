// Gradients summed in buckets while the backward pass runs, against the unbucketed sum after
// it: the same bits. Run as 3 ranks by mpirun (tests/unit/CMakeLists.txt), where the order of
// a float sum matters; each rank trains its own tokens on the same small models.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "dist/communicator.h"
#include "dist/gradient_buckets.h"
#include "model/transformer.h"
#include "unit/model/small_models.h"

namespace utt::test {
namespace {

Communicator& ranks() {
  static const std::unique_ptr<Communicator> communicator = make_mpi_communicator();
  return *communicator;
}

// This rank's tokens: rows of seq_len + 1 ids, different on every rank.
std::vector<int32_t> rank_tokens(const ModelConfig& config, int64_t rows) {
  std::mt19937 rng(static_cast<uint32_t>(100 + ranks().rank()));
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(rows * (config.seq_len + 1)));
  for (int32_t& t : tokens) t = token(rng);
  return tokens;
}

struct Sums {
  std::vector<float> after;       // backward, then one sum of the whole buffer
  std::vector<float> overlapped;  // buckets started as the backward pass makes them final
  size_t buckets = 0;
  size_t started_early = 0;
  std::vector<int64_t> reported;  // the offsets the backward pass reported, in order
};

Sums both_ways(const ModelConfig& config, size_t bucket_floats) {
  auto backend = make_cpu_backend({.reference_mode = true});
  Transformer model(config, *backend, 3);
  model.initialize(7);  // the same weights on every rank
  const std::vector<int32_t> tokens = rank_tokens(config, 3);
  const auto count = static_cast<size_t>(model.trainable_count());
  Sums sums;

  model.zero_gradients();
  model.forward(tokens.data(), 3, {.training = true});
  model.backward();
  ranks().all_reduce_sum(model.trainable_gradients(), count);
  sums.after = model.get_gradients();

  model.zero_gradients();
  model.forward(tokens.data(), 3, {.training = true});
  GradientBuckets buckets(ranks(), model.trainable_gradients(), count, bucket_floats);
  model.backward([&](int64_t offset) {
    sums.reported.push_back(offset);
    buckets.final_from(offset);
  });
  buckets.finish();
  sums.overlapped = model.get_gradients();
  sums.buckets = buckets.bucket_count();
  sums.started_early = buckets.started_early();
  return sums;
}

TEST(GradientBuckets, SumsAsTheBackwardPassRunsWithTheBitsOfTheSumAfterIt) {
  ASSERT_GE(ranks().world_size(), 2) << "run this test under mpirun";
  for (const NamedConfig& variant : architecture_variants()) {
    for (size_t bucket_floats : {size_t{97}, size_t{1000}, size_t{1} << 22}) {
      const Sums sums = both_ways(variant.config, bucket_floats);
      ASSERT_EQ(sums.after.size(), sums.overlapped.size());
      EXPECT_EQ(std::memcmp(sums.after.data(), sums.overlapped.data(), sums.after.size() * sizeof(float)), 0)
          << variant.name << ", buckets of " << bucket_floats;
      // The head, then each layer's two blocks, then the embeddings: every bucket started
      // inside the backward pass, the last ones first.
      EXPECT_EQ(sums.reported.size(), static_cast<size_t>(2 + 2 * variant.config.num_layers)) << variant.name;
      for (size_t i = 1; i < sums.reported.size(); ++i) {
        EXPECT_LT(sums.reported[i], sums.reported[i - 1]) << variant.name;
      }
      EXPECT_EQ(sums.reported.back(), 0) << variant.name;
      EXPECT_EQ(sums.started_early, sums.buckets) << variant.name;
    }
  }
}

TEST(GradientBuckets, TheSumsDifferFromOneRanksGradients) {
  // Guards the test above against summing nothing: the ranks' tokens differ, so their sum is
  // not this rank's gradient times the world.
  const ModelConfig config = architecture_variants()[0].config;
  auto backend = make_cpu_backend({.reference_mode = true});
  Transformer model(config, *backend, 3);
  model.initialize(7);
  const std::vector<int32_t> tokens = rank_tokens(config, 3);
  model.zero_gradients();
  model.forward(tokens.data(), 3, {.training = true});
  model.backward();
  const std::vector<float> mine = model.get_gradients();
  const Sums sums = both_ways(config, 97);
  size_t same = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (sums.overlapped[i] == mine[i] * static_cast<float>(ranks().world_size())) ++same;
  }
  EXPECT_LT(same, mine.size() / 2);
}

}  // namespace
}  // namespace utt::test
