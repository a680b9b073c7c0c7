#include "dist/nccl/nccl_library.h"

#include <dlfcn.h>

#include <string>

#include "util/error.h"

namespace utt::nccl {
namespace {

template <typename Function>
void resolve(void* handle, const char* symbol, Function* out, const std::string& file) {
  void* address = dlsym(handle, symbol);
  if (address == nullptr) {
    throw UserError(file + " has no " + symbol + ": install NCCL " + std::to_string(NCCL_MAJOR) + "." +
                    std::to_string(NCCL_MINOR) + " or newer (the headers utt was built with)");
  }
  *out = reinterpret_cast<Function>(address);
}

NcclLibrary open_nccl() {
  const std::string file = "libnccl.so." + std::to_string(NCCL_MAJOR);
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
  if (handle == nullptr) {
    throw UserError("data parallelism on GPUs needs NCCL, and " + file + " cannot be opened (" + dlerror() +
                    "): install NCCL " + std::to_string(NCCL_MAJOR) +
                    " (libnccl2) or add its folder (e.g. /usr/local/cuda/lib64) to LD_LIBRARY_PATH");
  }
  NcclLibrary l{};
  resolve(handle, "ncclGetVersion", &l.get_version, file);
  resolve(handle, "ncclGetUniqueId", &l.get_unique_id, file);
  resolve(handle, "ncclCommInitRankConfig", &l.init_rank_config, file);
  resolve(handle, "ncclCommDestroy", &l.destroy, file);
  resolve(handle, "ncclCommAbort", &l.abort, file);
  resolve(handle, "ncclCommGetAsyncError", &l.async_error, file);
  resolve(handle, "ncclGetErrorString", &l.error_string, file);
  resolve(handle, "ncclReduceScatter", &l.reduce_scatter, file);
  resolve(handle, "ncclAllGather", &l.all_gather, file);
  resolve(handle, "ncclReduce", &l.reduce, file);
  resolve(handle, "ncclBroadcast", &l.broadcast, file);
  return l;
}

}  // namespace

const NcclLibrary& library() {
  static const NcclLibrary opened = open_nccl();
  return opened;
}

}  // namespace utt::nccl
