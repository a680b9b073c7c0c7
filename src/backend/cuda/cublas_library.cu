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

CublasLibrary open_cublas() {
  const std::string file = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
  if (library == nullptr) {
    throw UserError("the CUDA backend needs cuBLAS, and " + file + " cannot be opened (" + dlerror() +
                    "): install CUDA " + std::to_string(CUBLAS_VER_MAJOR) +
                    "'s cuBLAS or add its folder (e.g. /usr/local/cuda/lib64) to LD_LIBRARY_PATH");
  }
  CublasLibrary l{};
  resolve(library, "cublasCreate_v2", &l.create, file);
  resolve(library, "cublasDestroy_v2", &l.destroy, file);
  resolve(library, "cublasSetStream_v2", &l.set_stream, file);
  resolve(library, "cublasSetMathMode", &l.set_math_mode, file);
  resolve(library, "cublasSetWorkspace_v2", &l.set_workspace, file);
  resolve(library, "cublasGetStatusName", &l.status_name, file);
  resolve(library, "cublasGetStatusString", &l.status_string, file);
  resolve(library, "cublasSgemm_v2", &l.sgemm, file);
  resolve(library, "cublasGemmEx", &l.gemm_ex, file);
  return l;
}

}  // namespace

const CublasLibrary& cublas() {
  static const CublasLibrary library = open_cublas();
  return library;
}

}  // namespace utt::cuda
