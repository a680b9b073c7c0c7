// NCCL, opened when the first GPU job starts rather than linked: a CPU run (and a build on a
// machine without NCCL at run time) never loads it. The functions the communicator uses, by
// pointer.
#pragma once

#include <nccl.h>

namespace utt::nccl {

struct NcclLibrary {
  decltype(&ncclGetVersion) get_version;
  decltype(&ncclGetUniqueId) get_unique_id;
  decltype(&ncclCommInitRankConfig) init_rank_config;
  decltype(&ncclCommDestroy) destroy;
  decltype(&ncclCommAbort) abort;
  decltype(&ncclCommGetAsyncError) async_error;
  decltype(&ncclGetErrorString) error_string;
  decltype(&ncclReduceScatter) reduce_scatter;
  decltype(&ncclAllGather) all_gather;
  decltype(&ncclReduce) reduce;
  decltype(&ncclBroadcast) broadcast;
};

// Opens libnccl.so.<major of the headers built against> once; throws UserError naming the
// library and the fix when it cannot be opened or lacks a function.
const NcclLibrary& library();

}  // namespace utt::nccl
