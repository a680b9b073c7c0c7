#include "backend/cuda/cublas_library.h"

#include <dlfcn.h>

#include <string>

#include "util/error.h"

namespace utt::cuda {
namespace {

template <typename Function>
void resolve(void* library, const char* symbol, Function* out, const std::string& file) {
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    throw UserError(file + " has no " + symbol + ": install the cuBLAS of CUDA " +
                    std::to_string(CUBLAS_VER_MAJOR) + " (the toolkit utt was built with)");
  }
  *out = reinterpret_cast<Function>(address);
}

CublasLtLibrary open_cublas_lt() {
  const std::string file = "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
  if (library == nullptr) {
    throw UserError("the CUDA backend needs cuBLASLt, and " + file + " cannot be opened (" + dlerror() +
                    "): install CUDA " + std::to_string(CUBLAS_VER_MAJOR) +
                    "'s cuBLAS or add its folder (e.g. /usr/local/cuda/lib64) to LD_LIBRARY_PATH");
  }
  CublasLtLibrary l{};
  resolve(library, "cublasLtCreate", &l.create, file);
  resolve(library, "cublasLtDestroy", &l.destroy, file);
  resolve(library, "cublasLtMatmulDescCreate", &l.desc_create, file);
  resolve(library, "cublasLtMatmulDescDestroy", &l.desc_destroy, file);
  resolve(library, "cublasLtMatmulDescSetAttribute", &l.desc_set, file);
  resolve(library, "cublasLtMatrixLayoutCreate", &l.layout_create, file);
  resolve(library, "cublasLtMatrixLayoutDestroy", &l.layout_destroy, file);
  resolve(library, "cublasLtMatmulPreferenceCreate", &l.preference_create, file);
  resolve(library, "cublasLtMatmulPreferenceDestroy", &l.preference_destroy, file);
  resolve(library, "cublasLtMatmulPreferenceSetAttribute", &l.preference_set, file);
  resolve(library, "cublasLtMatmulAlgoGetHeuristic", &l.heuristic, file);
  resolve(library, "cublasLtMatmul", &l.matmul, file);
  return l;
}

}  // namespace

const CublasLtLibrary& cublas_lt() {
  static const CublasLtLibrary library = open_cublas_lt();
  return library;
}

const char* cublas_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "an unknown cuBLAS status";
}

}  // namespace utt::cuda
