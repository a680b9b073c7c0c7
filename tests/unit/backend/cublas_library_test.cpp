// The CUDA build opens cuBLASLt at run time instead of linking it (backend/cuda/cublas_library.h).
// Opening it needs no GPU, so every CUDA build checks here that the library the matmul will use
// opens and has every function it calls.
#include <gtest/gtest.h>

#include "backend/cuda/cublas_library.h"

namespace utt {
namespace {

TEST(CublasLibrary, OpensWithEveryFunctionTheMatmulCalls) {
  const cuda::CublasLtLibrary& library = cuda::cublas_lt();
  for (const void* function :
       {reinterpret_cast<const void*>(library.create), reinterpret_cast<const void*>(library.destroy),
        reinterpret_cast<const void*>(library.desc_create), reinterpret_cast<const void*>(library.desc_destroy),
        reinterpret_cast<const void*>(library.desc_set), reinterpret_cast<const void*>(library.layout_create),
        reinterpret_cast<const void*>(library.layout_destroy),
        reinterpret_cast<const void*>(library.preference_create),
        reinterpret_cast<const void*>(library.preference_destroy),
        reinterpret_cast<const void*>(library.preference_set), reinterpret_cast<const void*>(library.heuristic),
        reinterpret_cast<const void*>(library.matmul)}) {
    EXPECT_NE(function, nullptr);
  }
  EXPECT_STREQ(cuda::cublas_status_name(CUBLAS_STATUS_NOT_SUPPORTED), "CUBLAS_STATUS_NOT_SUPPORTED");
}

}  // namespace
}  // namespace utt
