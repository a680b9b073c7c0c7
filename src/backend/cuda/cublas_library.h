// cuBLAS, opened when the first CUDA backend is made rather than linked: linking it costs every
// utt process ~0.4 s of start-up (libcublasLt alone is 540 MB), a CPU run included, and the
// end-to-end tests start utt hundreds of times. The functions the matmul uses, by pointer.
#pragma once

#include <cublas_v2.h>

namespace utt::cuda {

struct CublasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSetWorkspace_v2) set_workspace;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasSgemm_v2) sgemm;
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
};

// Opens libcublas.so.<major of the headers built against> once; throws UserError naming the
// library and the fix when it cannot be opened or lacks a function.
const CublasLibrary& cublas();

}  // namespace utt::cuda
