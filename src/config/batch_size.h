// --batch-size auto: the largest micro-batch the device's memory holds, with gradient
// accumulation making up the batch per optimizer step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/model_config.h"

namespace utt {

// Share of the device's free memory a run plans to use: the rest is for what the estimate
// leaves out (allocator overhead, workspaces, the data stage, the operating system).
inline constexpr double kAutoBatchMemoryShare = 0.8;

// Tokens per optimizer step when --effective-batch-tokens is not given: the compute-optimal
// batch of DeepSeek LLM (DeepSeek-AI 2024, "Scaling Open-Source Language Models with
// Longtermism"): B = 0.292 C^0.3271 tokens, for the compute C = 6 N D of a model of N
// parameters trained compute-optimally (D = 20 N), rounded down to a power of two, at least
// one window of seq_len.
int64_t default_effective_batch_tokens(const ModelConfig& model);

struct BatchChoice {
  int64_t micro_batch = 1;   // --batch-size: rows per rank and micro-batch
  int64_t accumulation = 1;  // --gradient-accumulation-steps
  int64_t target_tokens = 0;
  int64_t largest_fitting = 0;  // the largest micro-batch the memory holds
  double memory_bytes = 0;      // what the device has free
  std::string reason;           // one line for the banner and the dry run
};

// The micro-batch and accumulation that reach `target_tokens` per optimizer step over `ranks`
// ranks with the largest micro-batch that fits kAutoBatchMemoryShare of `memory_bytes` (by
// estimate_training_memory). Throws UserError when not even one row fits.
BatchChoice choose_batch_size(const ModelConfig& model, int64_t target_tokens, double memory_bytes,
                              bool mixed_precision, int64_t ranks, const std::string& device);

// A step's rows as micro-batches: rows per micro-batch, and micro-batches per step.
struct BatchSplit {
  int64_t micro_batch = 1;
  int64_t accumulation = 1;
};

// The micro-batch after an out-of-memory: at most half of `micro_batch`, with the accumulation
// that keeps at least its `micro_batch` x `accumulation` rows per step (even micro-batches, as
// choose_batch_size spreads them). nullopt for a micro-batch of 1, which cannot shrink.
std::optional<BatchSplit> halve_micro_batch(int64_t micro_batch, int64_t accumulation);

// Memory a run may plan with, and where the figure comes from (for the lines that cite it).
struct FreeMemory {
  double bytes = 0;    // 0 when unknown
  std::string source;  // "this machine", "the cgroup memory limit", or the GPU's name
};

// Bytes this process can use without swapping or meeting its memory limit: /proc/meminfo's
// MemAvailable, or less where a control group (a container's --memory, a systemd MemoryMax=,
// a batch scheduler's job limit) allows less.
FreeMemory available_host_memory();

// What the control groups of this process still allow it to allocate: the least, over the
// process's memory cgroup and its ancestors, of limit minus usage (v2 memory.max -
// memory.current, v1 memory.limit_in_bytes - memory.usage_in_bytes). `proc_self_cgroup` is the
// text of /proc/self/cgroup and `cgroup_root` the mount point of the hierarchies
// (/sys/fs/cgroup). -1 when no limit applies or none can be read.
double cgroup_memory_headroom_bytes(const std::string& proc_self_cgroup, const std::string& cgroup_root);

}  // namespace utt
