// cuBLASLt, opened when the first CUDA backend is made rather than linked: linking it costs every
// utt process ~0.4 s of start-up (libcublasLt alone is 540 MB), a CPU run included, and the
// end-to-end tests start utt hundreds of times. The functions the matmul uses, by pointer.
#pragma once

#include <cublasLt.h>

namespace utt::cuda {

struct CublasLtLibrary {
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtDestroy) destroy;
  decltype(&cublasLtMatmulDescCreate) desc_create;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set;
  decltype(&cublasLtMatrixLayoutCreate) layout_create;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
  decltype(&cublasLtMatmulPreferenceCreate) preference_create;
  decltype(&cublasLtMatmulPreferenceDestroy) preference_destroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) preference_set;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
  decltype(&cublasLtMatmul) matmul;
};

// Opens libcublasLt.so.<major of the headers built against> once; throws UserError naming the
// library and the fix when it cannot be opened or lacks a function.
const CublasLtLibrary& cublas_lt();

// "CUBLAS_STATUS_NOT_SUPPORTED" (cuBLASLt has no function of its own for the names).
const char* cublas_status_name(cublasStatus_t status);

}  // namespace utt::cuda
