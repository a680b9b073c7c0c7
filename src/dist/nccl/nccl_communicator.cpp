// GPU ranks: MPI processes (mpirun, srun or `utt train --num-devices N`), one GPU each, whose
// sums of device memory go through NCCL. MPI starts the job and carries everything that lives
// in host memory (the ranks' meetings, the losses, the set-up's broadcasts); NCCL is
// bootstrapped over it (rank 0's unique id, broadcast by MPI).
//
// The same bits on every rank: a sum is a reduce-scatter then an all-gather, as in the MPI
// communicator. Each slice of the buffer is summed on exactly one rank and its bits copied to
// the others, so the ranks cannot drift apart, whatever order NCCL adds in. The few elements
// that do not split evenly are reduced onto rank 0 and broadcast from it, likewise. The same
// bits in every run: NCCL chooses its algorithm and ring order from the message size and the
// topology, so a job on the same machines with the same NCCL adds in the same order each time
// (a resume on other machines may differ by float rounding).
//
// Never run on a GPU yet: scripts/gpu-check runs the one-rank and two-rank checks.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "dist/communicator.h"
#include "dist/nccl/nccl_library.h"
#include "util/error.h"

namespace utt {
namespace {

void check_cuda(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    throw InternalError(std::string(what) + ": CUDA error " + cudaGetErrorName(error) + ": " +
                        cudaGetErrorString(error));
  }
}

template <typename T>
ncclDataType_t nccl_type();
template <>
ncclDataType_t nccl_type<float>() { return ncclFloat32; }
template <>
ncclDataType_t nccl_type<double>() { return ncclFloat64; }

// True for memory of a CUDA device (or managed memory); host memory goes through MPI.
bool on_device(const void* data) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, data) != cudaSuccess) {
    (void)cudaGetLastError();  // an unknown host pointer: not an error worth keeping
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& mpi, int device) : mpi_(&mpi), nccl_(nccl::library()) {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    if (device >= devices) {
      throw UserError("rank " + std::to_string(mpi_->rank()) + " is rank " + std::to_string(device) +
                      " on its machine, which has " + std::to_string(devices) +
                      " GPU(s) visible: start at most one rank per GPU on each machine");
    }
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    ncclUniqueId id{};
    if (mpi_->rank() == 0) check(nccl_.get_unique_id(&id), "ncclGetUniqueId");
    mpi_->broadcast(&id, sizeof id, 0);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    // Calls return at once and are polled (settle, wait_for_stream), so that a rank that hangs
    // or dies is noticed within the timeout instead of blocking the others inside NCCL.
    config.blocking = 0;
    check(nccl_.init_rank_config(&comm_, mpi_->world_size(), id, mpi_->rank(), &config), "ncclCommInitRankConfig");
    settle("starting NCCL");
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr) nccl_.destroy(comm_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  int rank() const override { return mpi_->rank(); }
  int world_size() const override { return mpi_->world_size(); }
  std::string describe() const override { return "NCCL, " + std::to_string(world_size()) + " ranks"; }

  void all_reduce_sum(float* data, size_t count) override { sum(data, count); }
  void all_reduce_sum(double* data, size_t count) override { sum(data, count); }
  // A bucket of gradients: queued on the communicator's stream behind what the GPU has
  // computed so far, while the backward pass goes on queueing its next kernels.
  void start_all_reduce_sum(float* data, size_t count) override {
    if (!on_device(data)) return mpi_->all_reduce_sum(data, count);
    queue_sum(data, count);
  }
  void finish_all_reduces() override { wait_for_stream(kSumming); }
  void set_timeout(double seconds) override {
    timeout_seconds_ = seconds;
    mpi_->set_timeout(seconds);
  }

  void broadcast(void* data, size_t bytes, int root) override {
    if (!on_device(data)) return mpi_->broadcast(data, bytes, root);
    // The buffer's producer may still be running on the backend's stream.
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    check(nccl_.broadcast(data, data, bytes, ncclUint8, root, comm_, stream_), "ncclBroadcast");
    settle("copying rank " + std::to_string(root) + "'s data to the others");
    wait_for_stream("copying rank " + std::to_string(root) + "'s data to the others");
  }
  void barrier() override { mpi_->barrier(); }
  std::vector<int> meet(int64_t step, double timeout_seconds) override { return mpi_->meet(step, timeout_seconds); }
  [[noreturn]] void abort(int exit_code) override {
    if (comm_ != nullptr) nccl_.abort(comm_);  // unblocks this rank's queued collectives
    comm_ = nullptr;
    mpi_->abort(exit_code);
    std::_Exit(exit_code);  // MPI's abort does not return; this line is for the compiler
  }

 private:
  template <typename T>
  void sum(T* data, size_t count) {
    if (!on_device(data)) return mpi_->all_reduce_sum(data, count);
    queue_sum(data, count);
    wait_for_stream(kSumming);
  }

  template <typename T>
  void queue_sum(T* data, size_t count) {
    const auto world = static_cast<size_t>(world_size());
    const size_t share = count / world;
    const size_t tail = count % world;
    // The gradients come from the backend's stream, which this one does not wait for.
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    if (share > 0) {
      // In place: this rank's slice is summed where it lies, then every slice goes to every rank.
      T* mine = data + static_cast<size_t>(rank()) * share;
      check(nccl_.reduce_scatter(data, mine, share, nccl_type<T>(), ncclSum, comm_, stream_), "ncclReduceScatter");
      settle(kSumming);
      check(nccl_.all_gather(mine, data, share, nccl_type<T>(), comm_, stream_), "ncclAllGather");
      settle(kSumming);
    }
    if (tail > 0) {
      T* rest = data + world * share;
      check(nccl_.reduce(rest, rest, tail, nccl_type<T>(), ncclSum, 0, comm_, stream_), "ncclReduce");
      settle(kSumming);
      check(nccl_.broadcast(rest, rest, tail, nccl_type<T>(), 0, comm_, stream_), "ncclBroadcast");
      settle(kSumming);
    }
  }

  static constexpr const char* kSumming = "summing gradients";

  void check(ncclResult_t result, const char* call) {
    if (result == ncclSuccess || result == ncclInProgress) return;
    throw InternalError(std::string(call) + ": NCCL error: " + nccl_.error_string(result));
  }

  // A non-blocking communicator's call has returned; waits until NCCL has taken it in.
  void settle(const std::string& what) {
    const auto deadline = start_deadline();
    for (;;) {
      ncclResult_t state = ncclSuccess;
      check(nccl_.async_error(comm_, &state), "ncclCommGetAsyncError");
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) fail(what, std::string("NCCL error: ") + nccl_.error_string(state));
      if (past(deadline)) fail(what, "");
      std::this_thread::yield();
    }
  }

  // Until the queued collectives are done: polled, bounded by the timeout, and ended early by
  // an error NCCL reports (a peer's connection lost).
  void wait_for_stream(const std::string& what) {
    const auto deadline = start_deadline();
    for (;;) {
      const cudaError_t status = cudaStreamQuery(stream_);
      if (status == cudaSuccess) return;
      if (status != cudaErrorNotReady) check_cuda(status, "cudaStreamQuery");
      ncclResult_t state = ncclSuccess;
      check(nccl_.async_error(comm_, &state), "ncclCommGetAsyncError");
      if (state != ncclSuccess && state != ncclInProgress) {
        fail(what, std::string("NCCL error: ") + nccl_.error_string(state));
      }
      if (past(deadline)) fail(what, "");
      std::this_thread::yield();
    }
  }

  using Clock = std::chrono::steady_clock;
  Clock::time_point start_deadline() const {
    return timeout_seconds_ > 0 ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(timeout_seconds_))
                                : Clock::time_point::max();
  }
  static bool past(Clock::time_point deadline) { return Clock::now() > deadline; }

  [[noreturn]] void fail(const std::string& what, const std::string& error) {
    nccl_.abort(comm_);  // its collectives would never finish
    comm_ = nullptr;
    if (!error.empty()) {
      throw UserError("NCCL failed in the middle of " + what + " (" + error +
                      "): a rank died or its GPU failed; stopping the job");
    }
    throw UserError("the ranks stopped answering in the middle of " + what + " (all of them had started it; "
                    "waited " + std::to_string(static_cast<int64_t>(timeout_seconds_)) +
                    " s): a rank hung or was stopped; stopping the job (--rank-timeout sets the wait)");
  }

  Communicator* mpi_;  // the caller's
  const nccl::NcclLibrary& nccl_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  double timeout_seconds_ = 0;
};

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& mpi, int device) {
  return std::make_unique<NcclCommunicator>(mpi, device);
}

}  // namespace utt
