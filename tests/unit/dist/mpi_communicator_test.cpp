// The MPI communicator, run as several ranks by mpirun (tests/unit/CMakeLists.txt): every rank
// runs every test, and the collectives must agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/launch_environment.h"
#include "dist/rank_waits.h"

namespace utt::test {
namespace {

Communicator& ranks() {
  static const std::unique_ptr<Communicator> communicator = make_mpi_communicator();
  return *communicator;
}

// Rank 0's bytes of `data`, on every rank.
template <typename T>
std::vector<T> rank0_copy(const std::vector<T>& data) {
  std::vector<T> copy = data;
  ranks().broadcast(copy.data(), copy.size() * sizeof(T), 0);
  return copy;
}

TEST(MpiCommunicator, RanksAreTheLaunchersRanks) {
  const LaunchEnvironment env = detect_launch_environment();
  ASSERT_TRUE(env.started_by_launcher()) << "run this test under mpirun";
  EXPECT_EQ(ranks().rank(), env.rank);
  EXPECT_EQ(ranks().world_size(), env.world_size);
  EXPECT_GE(ranks().world_size(), 2);
}

TEST(MpiCommunicator, AllReduceSumsEveryElementForAwkwardSizes) {
  const int world = ranks().world_size(), rank = ranks().rank();
  // Sizes that do not split evenly, smaller than the world, and one past a million.
  for (size_t count : {size_t{0}, size_t{1}, size_t{2}, size_t{5}, size_t{1000003}}) {
    std::vector<float> data(count);
    for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 1000));
    ranks().all_reduce_sum(data.data(), count);
    const int rank_sum = world * (world + 1) / 2;  // small integers: the sum is exact
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(data[i], static_cast<float>(rank_sum * static_cast<int>(i % 1000))) << "element " << i << " of " << count;
    }
  }
}

TEST(MpiCommunicator, EveryRankEndsWithTheSameBits) {
  const int rank = ranks().rank();
  std::vector<float> data(123457);
  for (size_t i = 0; i < data.size(); ++i) data[i] = 0.1f * static_cast<float>(rank + 1) / static_cast<float>(i + 3);
  ranks().all_reduce_sum(data.data(), data.size());
  const std::vector<float> reference = rank0_copy(data);
  EXPECT_EQ(std::memcmp(data.data(), reference.data(), data.size() * sizeof(float)), 0);

  std::vector<double> values = {1.0 / (rank + 3), 1e-17 * rank, 3.0};
  ranks().all_reduce_sum(values.data(), values.size());
  const std::vector<double> reference_values = rank0_copy(values);
  EXPECT_EQ(std::memcmp(values.data(), reference_values.data(), values.size() * sizeof(double)), 0);
  EXPECT_EQ(values[2], 3.0 * ranks().world_size());
}

TEST(MpiCommunicator, RanksMeetAtEveryStepAndSumWithinTheTimeout) {
  ranks().set_timeout(60);
  for (int64_t step = 1; step <= 50; ++step) {
    EXPECT_TRUE(ranks().meet(step, 60).empty()) << "step " << step;
    double one = 1;
    ranks().all_reduce_sum(&one, 1);
    EXPECT_EQ(one, ranks().world_size());
  }
  ranks().set_timeout(0);
}

// Rank r's values: spread over many orders of magnitude, so that the order of a sum shows in
// its bits. Every rank can make every rank's.
std::vector<float> spread_values(int rank, size_t count) {
  std::vector<float> values(count);
  uint32_t state = 12345u + 977u * static_cast<uint32_t>(rank);
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    const float mantissa = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    v = std::ldexp(mantissa, static_cast<int>(state % 40) - 20);
  }
  return values;
}

TEST(MpiCommunicator, EachElementIsAddedInRankOrderHoweverTheBufferIsCut) {
  const int world = ranks().world_size(), rank = ranks().rank();
  const size_t count = 10007;
  std::vector<std::vector<float>> every_rank;
  for (int r = 0; r < world; ++r) every_rank.push_back(spread_values(r, count));
  std::vector<float> expected = every_rank[0];
  for (int r = 1; r < world; ++r) {
    for (size_t i = 0; i < count; ++i) expected[i] += every_rank[static_cast<size_t>(r)][i];
  }
  std::vector<float> whole = spread_values(rank, count);
  ranks().all_reduce_sum(whole.data(), count);
  EXPECT_EQ(std::memcmp(whole.data(), expected.data(), count * sizeof(float)), 0);
  // The same buffer in pieces started together, last piece first, as the gradient buckets go.
  for (size_t piece : {size_t{1}, size_t{2}, size_t{333}, size_t{4096}}) {
    std::vector<float> cut = spread_values(rank, count);
    const size_t pieces = (count + piece - 1) / piece;
    for (size_t k = pieces; k-- > 0;) {
      ranks().start_all_reduce_sum(cut.data() + k * piece, std::min(piece, count - k * piece));
      if (k % 3 == 0) ranks().progress_all_reduces();
    }
    ranks().finish_all_reduces();
    EXPECT_EQ(std::memcmp(cut.data(), expected.data(), count * sizeof(float)), 0) << "pieces of " << piece;
  }
  // The rank order shows: at least some elements differ from the sum in reverse order.
  if (world >= 3) {
    size_t differ = 0;
    for (size_t i = 0; i < count; ++i) {
      float reverse = every_rank.back()[i];
      for (int r = world - 2; r >= 0; --r) reverse += every_rank[static_cast<size_t>(r)][i];
      if (reverse != expected[i]) ++differ;
    }
    EXPECT_GT(differ, 0u);
  }
}

TEST(MpiCommunicator, BroadcastCopiesTheRootsBytes) {
  const int root = ranks().world_size() - 1;
  std::string text = ranks().rank() == root ? std::string("from the last rank") : std::string(18, '?');
  ranks().broadcast(text.data(), text.size(), root);
  EXPECT_EQ(text, "from the last rank");
  ranks().barrier();
}

TEST(MpiCommunicator, RanksWaitForRankZerosWorkLongerThanTheTimeoutWhileItSendsNews) {
  ranks().set_timeout(1);
  int done_on = -1;
  // 2.5 s of work against a 1 s timeout: the others hear from rank 0 every quarter second.
  leader_works(ranks(), 1, "a test's work", [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    done_on = ranks().rank();
  });
  EXPECT_EQ(done_on, ranks().rank() == 0 ? 0 : -1) << "rank 0 alone works";
  wait_for_ranks(ranks(), setup_tag(1), 60, "the end of the test");
  ranks().set_timeout(0);
}

}  // namespace
}  // namespace utt::test
