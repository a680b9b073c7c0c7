// MPI ranks (OpenMPI from Debian): processes started by mpirun, srun or `utt train
// --num-devices N`, talking through MPI_COMM_WORLD. Only the main thread calls MPI.
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
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
    counts_.resize(static_cast<size_t>(world_));
    offsets_.resize(static_cast<size_t>(world_));
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string describe() const override { return "MPI, " + std::to_string(world_) + " ranks"; }

  void all_reduce_sum(float* data, size_t count) override { reduce_in_pieces(data, count); }
  void all_reduce_sum(double* data, size_t count) override { reduce_in_pieces(data, count); }

  void broadcast(void* data, size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes; done += kMaxElementsPerCall) {
      const size_t n = std::min(kMaxElementsPerCall, bytes - done);
      MPI_Bcast(p + done, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD);
    }
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
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
    MPI_Reduce_scatter(MPI_IN_PLACE, data, counts_.data(), mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD);
    // In place, this rank's reduced slice arrives at the front of the buffer; the all-gather
    // expects it at the slice's own place.
    const auto mine = static_cast<size_t>(rank_);
    std::memmove(data + offsets_[mine], data, static_cast<size_t>(counts_[mine]) * sizeof(T));
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts_.data(), offsets_.data(), mpi_type<T>(),
                   MPI_COMM_WORLD);
  }

  int rank_ = 0;
  int world_ = 1;
  std::vector<int> counts_;
  std::vector<int> offsets_;
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace utt
