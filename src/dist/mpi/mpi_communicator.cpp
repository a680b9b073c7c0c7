// MPI ranks (OpenMPI from Debian): processes started by mpirun, srun or `utt train
// --num-devices N`, talking through MPI_COMM_WORLD. Only the main thread calls MPI.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
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
    MPI_Comm_dup(MPI_COMM_WORLD, &exchanges_);
    MPI_Comm_dup(MPI_COMM_WORLD, &gathers_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      MPI_Comm_free(&meetings_);
      MPI_Comm_free(&exchanges_);
      MPI_Comm_free(&gathers_);
      MPI_Finalize();
    }
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string describe() const override { return "MPI, " + std::to_string(world_) + " ranks"; }

  void all_reduce_sum(float* data, size_t count) override {
    start_sum(data, count);
    finish_all_reduces();
  }
  void all_reduce_sum(double* data, size_t count) override {
    start_sum(data, count);
    finish_all_reduces();
  }
  void start_all_reduce_sum(float* data, size_t count) override {
    start_sum(data, count);
    progress_all_reduces();
  }
  void progress_all_reduces() override {
    // Each sum's exchange finishes in the order the sums started; its gather starts only then,
    // so every rank starts the gathers in the same order too.
    bool earlier_exchanging = false;
    for (auto& sum : sums_) {
      if (sum->stage == Stage::kExchanging && !earlier_exchanging) {
        if (done(sum->request)) sum->gather(gathers_);
      }
      if (sum->stage == Stage::kExchanging) earlier_exchanging = true;
      if (sum->stage == Stage::kGathering && done(sum->request)) sum->stage = Stage::kDone;
    }
    std::erase_if(sums_, [](const std::unique_ptr<Sum>& sum) { return sum->stage == Stage::kDone; });
  }
  void finish_all_reduces() override {
    const auto deadline = deadline_from_now();
    for (uint64_t polls = 1; !sums_.empty(); ++polls) {
      progress_all_reduces();
      if (polls % 256 == 0 && std::chrono::steady_clock::now() > deadline) throw stopped_answering(kSumming);
      std::this_thread::yield();
    }
  }
  void set_timeout(double seconds) override { timeout_seconds_ = seconds; }

  void broadcast(void* data, size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes; done += kMaxElementsPerCall) {
      const size_t n = std::min(kMaxElementsPerCall, bytes - done);
      MPI_Request request = MPI_REQUEST_NULL;
      MPI_Ibcast(p + done, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD, &request);
      wait_for(request, "copying rank " + std::to_string(root) + "'s data to the others");
    }
  }
  void barrier() override {
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Ibarrier(MPI_COMM_WORLD, &request);
    wait_for(request, "waiting for each other");
  }

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
  enum class Stage { kExchanging, kGathering, kDone };

  // One sum in flight: a reduce-scatter made of an all-to-all (each rank receives every rank's
  // copy of its slice) and a sum in rank order, then an all-gather of the summed slices. Each
  // element is added as ((x0 + x1) + x2) + ..., on one rank, whatever the slices, the buffer's
  // cut into calls or MPI's choice of algorithm: every rank gets the same bits, and a bucketed
  // sum the bits of one sum of the whole buffer.
  struct Sum {
    virtual ~Sum() = default;
    virtual void gather(MPI_Comm gathers) = 0;  // the exchange is done: sum the slice, start the gather
    MPI_Request request = MPI_REQUEST_NULL;
    Stage stage = Stage::kExchanging;
  };

  template <typename T>
  struct TypedSum final : Sum {
    TypedSum(T* buffer, size_t count, int this_rank, int world, MPI_Comm exchanges) : data(buffer), rank(this_rank) {
      const auto ranks = static_cast<size_t>(world);
      const size_t share = count / ranks, extra = count % ranks;
      counts.resize(ranks);
      offsets.resize(ranks);
      int offset = 0;
      for (size_t r = 0; r < ranks; ++r) {
        counts[r] = static_cast<int>(share + (r < extra ? 1 : 0));
        offsets[r] = offset;
        offset += counts[r];
      }
      const int mine = counts[static_cast<size_t>(rank)];
      copies.resize(ranks * static_cast<size_t>(mine));
      mine_counts.assign(ranks, mine);
      mine_offsets.resize(ranks);
      for (size_t r = 0; r < ranks; ++r) mine_offsets[r] = static_cast<int>(r) * mine;
      MPI_Ialltoallv(data, counts.data(), offsets.data(), mpi_type<T>(), copies.data(), mine_counts.data(),
                     mine_offsets.data(), mpi_type<T>(), exchanges, &request);
    }
    void gather(MPI_Comm gathers) override {
      const auto r0 = static_cast<size_t>(rank);
      const auto n = static_cast<size_t>(counts[r0]);
      T* slice = data + offsets[r0];
      for (size_t i = 0; i < n; ++i) {
        T total = copies[i];
        for (size_t r = 1; r < counts.size(); ++r) total += copies[r * n + i];
        slice[i] = total;
      }
      MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), offsets.data(), mpi_type<T>(),
                      gathers, &request);
      stage = Stage::kGathering;
    }
    T* data;
    int rank;
    std::vector<int> counts, offsets;            // every rank's slice of the buffer
    std::vector<T> copies;                       // every rank's copy of this rank's slice, in rank order
    std::vector<int> mine_counts, mine_offsets;  // where they land in `copies`
  };

  template <typename T>
  void start_sum(T* data, size_t count) {
    if (count == 0) return;
    for (size_t done = 0; done < count; done += kMaxElementsPerCall) {
      sums_.push_back(std::make_unique<TypedSum<T>>(data + done, std::min(kMaxElementsPerCall, count - done), rank_,
                                                    world_, exchanges_));
    }
  }

  static bool done(MPI_Request& request) {
    int flag = 0;
    MPI_Test(&request, &flag, MPI_STATUS_IGNORE);
    return flag != 0;
  }

  std::chrono::steady_clock::time_point deadline_from_now() const {
    if (timeout_seconds_ <= 0) return std::chrono::steady_clock::time_point::max();
    return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(timeout_seconds_));
  }

  UserError stopped_answering(const std::string& what) const {
    return UserError("the ranks stopped answering in the middle of " + what + " (all of them had started it; "
                     "waited " + std::to_string(static_cast<int64_t>(timeout_seconds_)) +
                     " s): a rank hung or was stopped; stopping the job (--rank-timeout sets the wait)");
  }

  static constexpr const char* kSumming = "summing gradients or losses";

  // MPI_Wait, bounded by the timeout. Testing in a loop (yielding the core between tests) is
  // also what drives OpenMPI's progress, as its blocking calls do by polling. `what` the ranks
  // were doing, for the message.
  void wait_for(MPI_Request& request, const std::string& what) {
    if (timeout_seconds_ <= 0) {
      MPI_Wait(&request, MPI_STATUS_IGNORE);
      return;
    }
    const auto deadline = deadline_from_now();
    for (uint64_t tests = 1;; ++tests) {
      if (done(request)) return;
      if (tests % 256 == 0 && std::chrono::steady_clock::now() > deadline) throw stopped_answering(what);
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
  // The sums' two stages travel on communicators of their own, so that each sees its
  // collectives started in the same order on every rank.
  MPI_Comm exchanges_ = MPI_COMM_NULL;
  MPI_Comm gathers_ = MPI_COMM_NULL;
  std::deque<std::unique_ptr<Sum>> sums_;  // started, oldest first
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace utt
