// The training step allocates nothing once warmed up. Every heap allocation, whether made by our
// code, the C++ runtime, OpenMP or oneDNN, goes through malloc and its relatives, which this binary
// replaces with counting versions (so this test is its own executable). A large block allocated
// each step costs a round trip to the kernel: mmap, page faults on memory touched for the first
// time, and its release. Small ones cost the allocator.
//
// Two libraries allocate small blocks inside calls we cannot change, and are counted apart: oneDNN
// (its execution context for each primitive call) and libgomp (a parallel region whose `if` clause
// keeps it on one thread gets a fresh one-thread team). An allocation is theirs when a frame of
// theirs is on the stack above malloc.
#include <dlfcn.h>
#include <execinfo.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "model/kv_cache.h"
#include "model/transformer.h"
#include "small_models.h"
#include "train/adamw.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* pointer);
}

namespace {

// Blocks from this size up come from mmap (glibc's threshold starts at 128 KiB) or grow the heap.
constexpr size_t kLargeBytes = 64 * 1024;

struct Counts {
  std::atomic<int64_t> ours{0};
  std::atomic<int64_t> libraries{0};  // oneDNN and libgomp internals
  std::atomic<int64_t> large{0};      // anyone's, >= kLargeBytes
  std::atomic<int64_t> bytes{0};      // anyone's, all sizes
};

std::atomic<bool> counting{false};
Counts counts;
thread_local bool inside_count = false;

bool is_library_frame(void* address) {
  Dl_info info;
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return false;
  return std::strstr(info.dli_fname, "libdnnl") != nullptr || std::strstr(info.dli_fname, "libgomp") != nullptr;
}

void count(size_t size) {
  if (!counting.load(std::memory_order_relaxed) || inside_count) return;
  inside_count = true;
  if (size >= kLargeBytes) counts.large.fetch_add(1);
  counts.bytes.fetch_add(static_cast<int64_t>(size));
  void* frames[16];
  const int depth = backtrace(frames, 16);
  bool library = false;
  for (int i = 1; i < depth && !library; ++i) library = is_library_frame(frames[i]);
  (library ? counts.libraries : counts.ours).fetch_add(1);
  inside_count = false;
}

}  // namespace

extern "C" {
void* malloc(size_t size) {
  count(size);
  return __libc_malloc(size);
}
void* calloc(size_t count_, size_t size) {
  count(count_ * size);
  return __libc_calloc(count_, size);
}
void* realloc(void* pointer, size_t size) {
  count(size);
  return __libc_realloc(pointer, size);
}
void* memalign(size_t alignment, size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  count(size);
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* pointer) { __libc_free(pointer); }
}

namespace utt {
namespace {

struct StepAllocations {
  int64_t ours = 0;
  int64_t libraries = 0;
  int64_t large = 0;
};

// Steps of the trainer's inner loop (Trainer::train_step): zero the gradients, forward, backward,
// clip, AdamW. Counts the allocations of `steps` steps after `warmup` uncounted ones.
StepAllocations allocations_in_steps(const ModelConfig& config, int64_t batch, int warmup, int steps,
                                     bool bf16_matmuls = false) {
  auto backend = make_cpu_backend({.reference_mode = false, .threads = 2, .bf16_matmuls = bf16_matmuls});
  Transformer model(config, *backend, batch);
  model.initialize(3);
  AdamW optimizer(*backend, model.layout().optimizer_segments(), model.parameter_count(), AdamWSettings{});
  std::mt19937 rng(4);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(batch * (config.seq_len + 1)));
  for (int32_t& t : tokens) t = token(rng);

  void* warm[1];
  backtrace(warm, 1);  // its first call loads libgcc_s, allocating
  counts.ours = counts.libraries = counts.large = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    counting = step >= warmup;
    model.zero_gradients();
    ForwardOptions options;
    options.training = true;
    options.step = step;
    model.forward(tokens.data(), batch, options);
    model.backward();
    const GradientNorm norm = measure_grad_norm(*backend, model.gradients(), model.parameter_count(), 1.0);
    optimizer.step(model.parameters(), model.gradients(), 1e-3, norm.scale);
    counting = false;
  }
  return {counts.ours.load(), counts.libraries.load(), counts.large.load()};
}

int64_t model_bytes(const ModelConfig& config) {
  return ParameterLayout(config).total() * static_cast<int64_t>(sizeof(float));
}

// Large enough that the matmuls go to oneDNN and the element-wise ops open parallel regions.
ModelConfig threaded_config(const ModelConfig& architecture) {
  ModelConfig c = architecture;
  c.vocab_size = 512;
  c.d_model = 64;
  c.num_heads = 4;
  c.num_kv_heads = architecture.num_kv_heads == architecture.num_heads ? 4 : 2;
  c.d_ff = 128;
  c.seq_len = 64;
  return c;
}

TEST(TrainingStep, AllocatesNothingAfterWarmUpInEveryArchitecture) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    ModelConfig c = threaded_config(variant.config);
    c.dropout_rate = 0.1;
    const StepAllocations counted = allocations_in_steps(c, 8, 2, 3);
    EXPECT_EQ(counted.ours, 0) << variant.name;
    EXPECT_EQ(counted.large, 0) << variant.name;
    // Theirs are small and few: oneDNN's per call, libgomp's per single-thread region.
    EXPECT_LT(counted.libraries, 3 * 400) << variant.name;
  }
}

// --use-mixed-precision: the bf16 matmuls' packing buffers grow during warm-up, then are reused.
TEST(TrainingStep, MixedPrecisionAllocatesNothingAfterWarmUp) {
  const ModelConfig c = threaded_config(test::architecture_variants().front().config);
  const StepAllocations counted = allocations_in_steps(c, 8, 2, 3, /*bf16_matmuls=*/true);
  EXPECT_EQ(counted.ours, 0);
  EXPECT_EQ(counted.large, 0);
  EXPECT_LT(counted.libraries, 3 * 400);
}

// Loading for generation: the weights and the KV cache, and nothing of training (no gradients,
// no activations kept for a backward: a training model's would double the weights' bytes alone).
TEST(Generation, AWeightsOnlyModelAndItsCacheAllocateNoGradientsOrTrainingActivations) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    const ModelConfig c = threaded_config(variant.config);
    auto backend = make_cpu_backend({.reference_mode = false, .threads = 2});
    counts.bytes = 0;
    counting = true;
    {
      Transformer model(c, *backend, 0, ModelUse::kInference);
      KvCacheDecoder decoder(model);
      counting = false;
    }
    const int64_t weights = model_bytes(c);
    const int64_t cache = 2 * c.num_layers * c.seq_len * c.kv_dim() * static_cast<int64_t>(sizeof(float));
    // One position's activations, the RoPE tables and the bookkeeping around them.
    const int64_t one_position = 64 * 1024;
    EXPECT_GE(counts.bytes.load(), weights + cache) << variant.name;
    EXPECT_LT(counts.bytes.load(), weights + cache + one_position) << variant.name;
  }
}

// A decoding step, once warm, allocates only the logits vector it returns.
TEST(Generation, DecodingStepsAllocateOnlyTheLogitsTheyReturn) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    const ModelConfig c = threaded_config(variant.config);
    auto backend = make_cpu_backend({.reference_mode = false, .threads = 2});
    Transformer model(c, *backend, 0, ModelUse::kInference);
    model.initialize(5);
    KvCacheDecoder decoder(model);
    constexpr int kWarmup = 2;
    constexpr int kSteps = 40;
    counts.ours = counts.libraries = counts.large = 0;
    for (int step = 0; step < kWarmup + kSteps; ++step) {
      counting = step >= kWarmup;
      const std::vector<float> logits = decoder.append(static_cast<int32_t>(step * 5 % c.vocab_size));
      counting = false;
    }
    EXPECT_LE(counts.ours.load(), kSteps) << variant.name;
    EXPECT_EQ(counts.large.load(), 0) << variant.name;
  }
}

TEST(TrainingStep, TheCounterSeesAllocations) {
  // The counting malloc is the one in use: allocations inside the counted window are seen and
  // attributed to our code, and a large one is flagged.
  counts.ours = counts.libraries = counts.large = 0;
  counting = true;
  auto* small = new std::vector<float>(10);
  auto* large = new std::vector<float>(100000);
  counting = false;
  delete small;
  delete large;
  EXPECT_EQ(counts.ours.load(), 4);
  EXPECT_EQ(counts.large.load(), 1);
  EXPECT_EQ(counts.libraries.load(), 0);
}

}  // namespace
}  // namespace utt
