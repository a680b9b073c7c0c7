#include <cstdlib>

#include "dist/communicator.h"

namespace utt {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string describe() const override { return "1 process"; }
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  void set_timeout(double) override {}
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  std::vector<int> meet(int64_t, double) override { return {}; }
  [[noreturn]] void abort(int exit_code) override { std::_Exit(exit_code); }
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() { return std::make_unique<SingleProcess>(); }

std::vector<double> values_of_every_rank(Communicator& ranks, double value) {
  std::vector<double> all(static_cast<size_t>(ranks.world_size()), 0.0);
  all[static_cast<size_t>(ranks.rank())] = value;
  ranks.all_reduce_sum(all.data(), all.size());
  return all;
}

}  // namespace utt
