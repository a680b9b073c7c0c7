// The build without CUDA: no GPU ranks.
#include "dist/communicator.h"
#include "util/error.h"

namespace utt {

bool nccl_built() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, int) {
  throw UserError("this utt was built without CUDA, so it has no NCCL for data parallelism on GPUs: rebuild "
                  "with the CUDA toolkit installed (-DUTT_CUDA=ON), or train with --device cpu");
}

}  // namespace utt
