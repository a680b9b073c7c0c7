// The CUDA build opens cuBLAS at run time instead of linking it (backend/cuda/cublas_library.h).
// Opening it needs no GPU, so every CUDA build checks here that the library the matmul will use
// opens and has every function it calls.
#include <gtest/gtest.h>

#include "backend/cuda/cublas_library.h"

namespace utt {
namespace {

TEST(CublasLibrary, OpensWithEveryFunctionTheMatmulCalls) {
  const cuda::CublasLibrary& library = cuda::cublas();
  EXPECT_NE(library.create, nullptr);
  EXPECT_NE(library.destroy, nullptr);
  EXPECT_NE(library.set_stream, nullptr);
  EXPECT_NE(library.set_math_mode, nullptr);
  EXPECT_NE(library.set_workspace, nullptr);
  EXPECT_NE(library.sgemm, nullptr);
  EXPECT_NE(library.gemm_ex, nullptr);
  EXPECT_STREQ(library.status_name(CUBLAS_STATUS_SUCCESS), "CUBLAS_STATUS_SUCCESS");
}

}  // namespace
}  // namespace utt
