// The NCCL communicator on GPUs, run by mpirun as one rank per GPU (scripts/gpu-check: one
// rank, and two where two GPUs are visible). Every rank runs every test; without a GPU they
// are skipped.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "dist/communicator.h"
#include "dist/launch_environment.h"

namespace utt::test {
namespace {

int visible_gpus() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

Communicator& mpi() {
  static const std::unique_ptr<Communicator> communicator = make_mpi_communicator();
  return *communicator;
}

Communicator& ranks() {
  static const std::unique_ptr<Communicator> communicator =
      make_nccl_communicator(mpi(), detect_launch_environment().local_rank);
  return *communicator;
}

class NcclCommunicator : public ::testing::Test {
 protected:
  void SetUp() override {
    if (visible_gpus() == 0) GTEST_SKIP() << "no GPU is visible: the NCCL communicator needs one GPU per rank (scripts/gpu-check runs it)";
  }
};

// A device copy of `values`, and back.
template <typename T>
T* to_device(const std::vector<T>& values) {
  T* device = nullptr;
  EXPECT_EQ(cudaMalloc(&device, std::max<size_t>(values.size(), 1) * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(device, values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return device;
}
template <typename T>
std::vector<T> to_host(const T* device, size_t count) {
  std::vector<T> values(count);
  EXPECT_EQ(cudaMemcpy(values.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return values;
}

TEST_F(NcclCommunicator, IsTheLaunchersRanks) {
  EXPECT_EQ(ranks().rank(), mpi().rank());
  EXPECT_EQ(ranks().world_size(), mpi().world_size());
  EXPECT_NE(ranks().describe().find("NCCL"), std::string::npos);
}

TEST_F(NcclCommunicator, SumsDeviceMemoryForAwkwardSizes) {
  const int world = ranks().world_size(), rank = ranks().rank();
  ranks().set_timeout(60);
  for (size_t count : {size_t{1}, size_t{2}, size_t{5}, size_t{1000003}}) {
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 1000));
    float* device = to_device(values);
    ranks().all_reduce_sum(device, count);
    const std::vector<float> sums = to_host(device, count);
    cudaFree(device);
    const int rank_sum = world * (world + 1) / 2;  // small integers: the sum is exact
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(sums[i], static_cast<float>(rank_sum * static_cast<int>(i % 1000))) << i << " of " << count;
    }
  }
}

TEST_F(NcclCommunicator, EveryRankAndEveryRepeatEndsWithTheSameBits) {
  const int rank = ranks().rank();
  std::vector<float> values(123457);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>(rank + 1) / static_cast<float>(i + 3);
  std::vector<float> first;
  for (int repeat = 0; repeat < 3; ++repeat) {
    float* device = to_device(values);
    ranks().all_reduce_sum(device, values.size());
    const std::vector<float> sums = to_host(device, values.size());
    cudaFree(device);
    if (repeat == 0) first = sums;
    EXPECT_EQ(std::memcmp(sums.data(), first.data(), sums.size() * sizeof(float)), 0) << "repeat " << repeat;
  }
  // Rank 0's bits, through MPI (host memory), against this rank's.
  std::vector<float> rank0 = first;
  mpi().broadcast(rank0.data(), rank0.size() * sizeof(float), 0);
  EXPECT_EQ(std::memcmp(rank0.data(), first.data(), first.size() * sizeof(float)), 0);
}

TEST_F(NcclCommunicator, BucketsStartedTogetherEndAsTheirSums) {
  const int world = ranks().world_size(), rank = ranks().rank();
  const size_t count = 100003, bucket = 4099;
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 1000));
  float* device = to_device(values);
  for (size_t k = (count + bucket - 1) / bucket; k-- > 0;) {
    ranks().start_all_reduce_sum(device + k * bucket, std::min(bucket, count - k * bucket));
    ranks().progress_all_reduces();
  }
  ranks().finish_all_reduces();
  const std::vector<float> sums = to_host(device, count);
  cudaFree(device);
  const int rank_sum = world * (world + 1) / 2;
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(sums[i], static_cast<float>(rank_sum * static_cast<int>(i % 1000))) << i;
  }
}

TEST_F(NcclCommunicator, HostBuffersGoThroughMpi) {
  double values[2] = {1.0, static_cast<double>(ranks().rank())};
  ranks().all_reduce_sum(values, 2);
  const int world = ranks().world_size();
  EXPECT_EQ(values[0], world);
  EXPECT_EQ(values[1], world * (world - 1) / 2);
}

TEST_F(NcclCommunicator, BroadcastCopiesTheRootsDeviceBytes) {
  const int root = ranks().world_size() - 1;
  std::vector<float> values(1001, ranks().rank() == root ? 2.5f : -1.0f);
  float* device = to_device(values);
  ranks().broadcast(device, values.size() * sizeof(float), root);
  const std::vector<float> copied = to_host(device, values.size());
  cudaFree(device);
  for (float value : copied) ASSERT_EQ(value, 2.5f);
  ranks().barrier();
}

}  // namespace
}  // namespace utt::test
