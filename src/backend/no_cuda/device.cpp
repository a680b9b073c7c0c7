// The CUDA side of a build without CUDA: it reports that no GPU can be used and why.
#include "backend/device.h"

namespace utt {

CudaStatus query_cuda() {
  CudaStatus status;
  status.built = false;
  status.problem = "this utt was built without CUDA support: install the CUDA toolkit and rebuild "
                   "with cmake -DUTT_CUDA=ON";
  return status;
}

int64_t gpu_free_memory(int) { return -1; }

}  // namespace utt
