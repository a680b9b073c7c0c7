// The CUDA backend of a build without CUDA: it refuses with the reason query_cuda() gives.
#include "backend/cuda_backend.h"

#include "backend/device.h"
#include "util/error.h"

namespace utt {

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions&) {
  throw UserError("--device cuda: " + query_cuda().problem);
}

}  // namespace utt
