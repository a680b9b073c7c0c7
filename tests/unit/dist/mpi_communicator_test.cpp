// The MPI communicator, run as several ranks by mpirun (tests/unit/CMakeLists.txt): every rank
// runs every test, and the collectives must agree.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/launch_environment.h"

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
  ranks().set_all_reduce_timeout(60);
  for (int64_t step = 1; step <= 50; ++step) {
    EXPECT_TRUE(ranks().meet(step, 60).empty()) << "step " << step;
    double one = 1;
    ranks().all_reduce_sum(&one, 1);
    EXPECT_EQ(one, ranks().world_size());
  }
  ranks().set_all_reduce_timeout(0);
}

TEST(MpiCommunicator, BroadcastCopiesTheRootsBytes) {
  const int root = ranks().world_size() - 1;
  std::string text = ranks().rank() == root ? std::string("from the last rank") : std::string(18, '?');
  ranks().broadcast(text.data(), text.size(), root);
  EXPECT_EQ(text, "from the last rank");
  ranks().barrier();
}

}  // namespace
}  // namespace utt::test
