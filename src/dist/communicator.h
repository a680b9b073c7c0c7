// The data-parallel ranks of one training job, as the model and the trainer see them: who am I,
// how many are we, sum a buffer over all of us, copy one rank's bytes to all, wait for all,
// stop all. Implementations: one process (single_process.cpp), MPI processes (mpi/), and, for
// GPUs, NCCL over the same interface (buffers are then device memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace utt {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;        // 0 .. world_size() - 1
  virtual int world_size() const = 0;  // ranks in the job
  // A few words for banners and errors: "1 process", "MPI, 2 ranks".
  virtual std::string describe() const = 0;

  // Sums `count` values over every rank, in place. Every rank ends with the same bits (the
  // ranks' weights must never drift apart), and a given job computes the same sums in every run
  // (bit-exact resume). The MPI communicator adds each element in rank order, so its bits do
  // not depend on how a buffer is cut into calls either.
  virtual void all_reduce_sum(float* data, size_t count) = 0;
  virtual void all_reduce_sum(double* data, size_t count) = 0;
  // The same sum started now and finished later, so that a backward pass can hand over each
  // bucket of gradients as soon as it is final and go on computing while the bucket travels.
  // The buffer must be left alone until finish_all_reduces() returns; every rank starts the
  // same sums in the same order. The default sums at once, where the library cannot overlap.
  virtual void start_all_reduce_sum(float* data, size_t count) { all_reduce_sum(data, count); }
  // Lets the started sums move on (MPI moves data only inside its calls): cheap, call often.
  virtual void progress_all_reduces() {}
  // Waits for every started sum, bounded like the collectives (set_timeout).
  virtual void finish_all_reduces() {}
  // A collective (all-reduce, broadcast, barrier) that waits longer than this for the other
  // ranks throws UserError (a rank hung or stopped inside it); 0, the default, waits for ever.
  // Where one rank works alone while the others wait (rank 0 building a token cache), the
  // wait is bounded by the worker's news instead (dist/rank_waits.h).
  virtual void set_timeout(double seconds) = 0;
  // Copies `bytes` bytes of rank `root`'s buffer into every other rank's.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Waits until every rank has called meet() with the same `step`, or `timeout_seconds` have
  // passed; returns the ranks that did not come (empty when all did). A rank that hangs or is
  // stopped would otherwise keep the others waiting in a collective forever.
  virtual std::vector<int> meet(int64_t step, double timeout_seconds) = 0;
  // Ends every rank's process with `exit_code`, without the collectives the others may be
  // waiting in: the job's way out of an error on one rank. Never returns.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

// A world of one: every collective is a no-op, abort exits.
std::unique_ptr<Communicator> make_single_process_communicator();

// Every rank's `value`, indexed by rank, on every rank: an all-gather, as each rank's value summed
// into a slot of its own (a collective: every rank calls it).
std::vector<double> values_of_every_rank(Communicator& ranks, double value);

// True when this build has MPI (no_mpi/ answers false).
bool mpi_built();

// The MPI ranks this process belongs to (started by mpirun, srun or `utt train
// --num-devices N`). MPI_Init happens here; throws UserError when this build has no MPI.
std::unique_ptr<Communicator> make_mpi_communicator();

// True when this build has the NCCL communicator (the CUDA build; no_nccl/ answers false).
bool nccl_built();

// GPU ranks (nccl/): `mpi`'s ranks, this one on CUDA device `device` (its rank among the ranks
// of its machine). Sums and broadcasts of device memory go through NCCL, bootstrapped over
// `mpi`; host memory and the meetings through `mpi`, which must outlive the result. NCCL
// itself is opened here, at run time. Throws UserError when this build has no CUDA, NCCL
// cannot be opened, or the machine has fewer GPUs than ranks.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& mpi, int device);

}  // namespace utt
