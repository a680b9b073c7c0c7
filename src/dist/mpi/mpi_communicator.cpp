// MPI ranks (OpenMPI from Debian): processes started by mpirun, srun or `utt train
// --num-devices N`, talking through MPI_COMM_WORLD. Only the main thread calls MPI.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "dist/communicator.h"
#include "util/error.h"

namespace utt {
namespace {

template <typename T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <>
MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

// MPI counts are ints: larger buffers go through in pieces of this many elements.
constexpr size_t kMaxElementsPerCall = size_t{1} << 30;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // FUNNELED: the OpenMP threads of the kernels never call MPI.
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    // meet()'s messages travel apart from the collectives.
    MPI_Comm_dup(MPI_COMM_WORLD, &meetings_);
    counts_.resize(static_cast<size_t>(world_));
    offsets_.resize(static_cast<size_t>(world_));
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      MPI_Comm_free(&meetings_);
      MPI_Finalize();
    }
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string describe() const override { return "MPI, " + std::to_string(world_) + " ranks"; }

  void all_reduce_sum(float* data, size_t count) override { reduce_in_pieces(data, count); }
  void all_reduce_sum(double* data, size_t count) override { reduce_in_pieces(data, count); }
  void set_all_reduce_timeout(double seconds) override { timeout_seconds_ = seconds; }

  void broadcast(void* data, size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes; done += kMaxElementsPerCall) {
      const size_t n = std::min(kMaxElementsPerCall, bytes - done);
      MPI_Bcast(p + done, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD);
    }
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

  // Every rank sends its step to every other and waits for theirs, polling: a rank that never
  // sends is named instead of waited for. O(ranks) small messages per rank and call.
  std::vector<int> meet(int64_t step, double timeout_seconds) override {
    const auto world = static_cast<size_t>(world_);
    outgoing_step_ = step;
    incoming_steps_.assign(world, -1);
    requests_.assign(2 * world, MPI_REQUEST_NULL);
    for (int r = 0; r < world_; ++r) {
      if (r == rank_) continue;
      MPI_Irecv(&incoming_steps_[static_cast<size_t>(r)], 1, MPI_INT64_T, r, 0, meetings_, &requests_[static_cast<size_t>(r)]);
      MPI_Isend(&outgoing_step_, 1, MPI_INT64_T, r, 0, meetings_, &requests_[world + static_cast<size_t>(r)]);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
    std::vector<int> missing;
    for (;;) {
      // The receives, the first half of the requests, one by one: MPI_Test sets a completed
      // one to MPI_REQUEST_NULL (MPI_Testall changes none until all are complete).
      bool arrived = true;
      for (size_t r = 0; r < world; ++r) {
        if (requests_[r] == MPI_REQUEST_NULL) continue;
        int done = 0;
        MPI_Test(&requests_[r], &done, MPI_STATUS_IGNORE);
        arrived = arrived && done;
      }
      if (arrived) break;
      if (std::chrono::steady_clock::now() > deadline) {
        for (int r = 0; r < world_; ++r) {
          if (requests_[static_cast<size_t>(r)] != MPI_REQUEST_NULL) missing.push_back(r);
        }
        return missing;  // the job is about to stop; the open requests end with it
      }
      std::this_thread::yield();
    }
    // Everyone came, so everyone posted the receives these sends go to.
    MPI_Waitall(world_, requests_.data() + world, MPI_STATUSES_IGNORE);
    for (int r = 0; r < world_; ++r) {
      if (r != rank_ && incoming_steps_[static_cast<size_t>(r)] != step) {
        throw InternalError("rank " + std::to_string(r) + " met at step " +
                            std::to_string(incoming_steps_[static_cast<size_t>(r)]) + ", rank " +
                            std::to_string(rank_) + " at step " + std::to_string(step));
      }
    }
    return missing;
  }
  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this line is for the compiler
  }

 private:
  template <typename T>
  void reduce_in_pieces(T* data, size_t count) {
    for (size_t done = 0; done < count; done += kMaxElementsPerCall) {
      all_reduce_piece(data + done, std::min(kMaxElementsPerCall, count - done));
    }
  }

  // A reduce-scatter then an all-gather (the two halves of a ring all-reduce): each slice of
  // the buffer is summed on exactly one rank and its bits copied to the others, so every rank
  // holds the same result by construction. MPI_Allreduce does not promise that.
  template <typename T>
  void all_reduce_piece(T* data, size_t count) {
    const size_t share = count / static_cast<size_t>(world_);
    const size_t extra = count % static_cast<size_t>(world_);
    int offset = 0;
    for (size_t r = 0; r < counts_.size(); ++r) {
      counts_[r] = static_cast<int>(share + (r < extra ? 1 : 0));
      offsets_[r] = offset;
      offset += counts_[r];
    }
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Ireduce_scatter(MPI_IN_PLACE, data, counts_.data(), mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD, &request);
    wait_for(request);
    // In place, this rank's reduced slice arrives at the front of the buffer; the all-gather
    // expects it at the slice's own place.
    const auto mine = static_cast<size_t>(rank_);
    std::memmove(data + offsets_[mine], data, static_cast<size_t>(counts_[mine]) * sizeof(T));
    MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts_.data(), offsets_.data(), mpi_type<T>(),
                    MPI_COMM_WORLD, &request);
    wait_for(request);
  }

  // MPI_Wait, bounded by the all-reduce timeout. Testing in a loop (yielding the core between
  // tests) is also what drives OpenMPI's progress, as its blocking calls do by polling.
  void wait_for(MPI_Request& request) {
    if (timeout_seconds_ <= 0) {
      MPI_Wait(&request, MPI_STATUS_IGNORE);
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds_);
    for (uint64_t tests = 1;; ++tests) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) return;
      if (tests % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
        throw UserError("the ranks stopped answering in the middle of summing gradients or losses (all of them "
                        "had started it; waited " + std::to_string(static_cast<int64_t>(timeout_seconds_)) +
                        " s): a rank hung or was stopped; stopping the job (--rank-timeout sets the wait)");
      }
      std::this_thread::yield();
    }
  }

  int rank_ = 0;
  int world_ = 1;
  double timeout_seconds_ = 0;
  MPI_Comm meetings_ = MPI_COMM_NULL;
  int64_t outgoing_step_ = 0;
  std::vector<int64_t> incoming_steps_;
  std::vector<MPI_Request> requests_;
  std::vector<int> counts_;
  std::vector<int> offsets_;
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace utt
