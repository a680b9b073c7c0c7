// Decode attention on the CPU: one new query position per sequence against the key/value cache
// (backend.h). The cost is reading the cache once: O(length * KVH * HS) per sequence and layer,
// where running the causal attention over every cached row again (as generation did before) cost
// O(length^2) per token.
//
// Work is split by (sequence, kv head, group of its query heads). The query heads that share a kv
// head are processed together, so each key and value row is read from memory once per group and
// then reused from L1 by every head of it (grouped-query attention's point). Keys are visited in
// blocks of kKeyBlock with an online softmax: per block, each head's scores into a small stack
// array, the block max, a rescale of the running sum and of the output row when the max grows,
// then out += p v. The output row itself is the accumulator, divided by the sum at the end, so the
// kernel needs no scratch beyond a few KB of stack, whatever the length.
//
// Each head's arithmetic is the same whichever task or thread runs it: results do not depend on
// the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/ops.h"
#include "backend/cpu/qkv_rows.h"
#include "backend/cpu/vector_math.h"

namespace utt::cpu {
namespace {

// Keys per online-softmax step, and query heads per task: their scores (8 x 128 floats, 4 KB)
// stay on the stack and in L1.
constexpr int64_t kKeyBlock = 128;
constexpr int64_t kMaxHeadsPerTask = 8;

// A decode step is far smaller than a training step (one query row per head), so it goes
// parallel only from more work than kMinParallelWork: below this many multiply-adds a parallel
// region's start-up (tens of microseconds on a busy machine) outweighs what a second thread
// saves.
constexpr int64_t kMinParallelDecodeWork = 1 << 18;

// Heads [h0, h0 + heads) of sequence b, all reading kv head g.
void attend_heads(float* out, const float* q, int64_t q_stride, const float* k_cache,
                  const float* v_cache, int64_t b, int64_t g, int64_t h0, int64_t heads,
                  int64_t length, int64_t capacity, int64_t NH, int64_t KVH, int64_t HS) {
  const int64_t kv_width = KVH * HS;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const float* keys = k_cache + b * capacity * kv_width + g * HS;
  const float* values = v_cache + b * capacity * kv_width + g * HS;
  const float* queries = q + b * q_stride + h0 * HS;
  float* outputs = out + (b * NH + h0) * HS;

  float scores[kMaxHeadsPerTask][kKeyBlock];
  float running_max[kMaxHeadsPerTask];
  float running_sum[kMaxHeadsPerTask];
  std::fill_n(running_max, heads, -std::numeric_limits<float>::infinity());
  std::fill_n(running_sum, heads, 0.0f);
  std::fill_n(outputs, heads * HS, 0.0f);

  for (int64_t k0 = 0; k0 < length; k0 += kKeyBlock) {
    const int64_t count = std::min(kKeyBlock, length - k0);
    for (int64_t j = 0; j < count; ++j) {
      const float* key = keys + (k0 + j) * kv_width;
      for (int64_t i = 0; i < heads; ++i) scores[i][j] = dot(queries + i * HS, key, HS) * scale;
    }
    for (int64_t i = 0; i < heads; ++i) {
      float* s = scores[i];
      float block_max = running_max[i];
      for (int64_t j = 0; j < count; ++j) block_max = std::max(block_max, s[j]);
      // The first block: exp(-inf) is 0 in std::exp, and the sum and output are still 0 anyway.
      const float correction = std::exp(running_max[i] - block_max);
      float block_sum = 0;
#pragma omp simd reduction(+ : block_sum)
      for (int64_t j = 0; j < count; ++j) {
        s[j] = fast_exp(s[j] - block_max);
        block_sum += s[j];
      }
      running_sum[i] = running_sum[i] * correction + block_sum;
      running_max[i] = block_max;
      if (correction != 1.0f) {
        float* o = outputs + i * HS;
#pragma omp simd
        for (int64_t d = 0; d < HS; ++d) o[d] *= correction;
      }
    }
    for (int64_t j = 0; j < count; ++j) {
      const float* value = values + (k0 + j) * kv_width;
      for (int64_t i = 0; i < heads; ++i) axpy(outputs + i * HS, scores[i][j], value, HS);
    }
  }
  for (int64_t i = 0; i < heads; ++i) {
    const float inverse_sum = 1.0f / running_sum[i];
    float* o = outputs + i * HS;
#pragma omp simd
    for (int64_t d = 0; d < HS; ++d) o[d] *= inverse_sum;
  }
}

}  // namespace

void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache,
                      const float* v_cache, int64_t B, int64_t length, int64_t capacity, int64_t NH,
                      int64_t KVH, int64_t HS) {
  const int64_t group = NH / KVH;
  const bool parallel = B * NH * length * HS >= kMinParallelDecodeWork;
  // Heads per task: a whole group (up to kMaxHeadsPerTask), halved while there are fewer tasks
  // than threads (one sequence with few kv heads, e.g. multi-query attention).
  int64_t heads_per_task = std::min(group, kMaxHeadsPerTask);
  const int64_t threads = parallel ? thread_count() : 1;
  auto task_count = [&](int64_t per) { return B * KVH * ((group + per - 1) / per); };
  while (heads_per_task > 1 && task_count(heads_per_task) < threads) heads_per_task = (heads_per_task + 1) / 2;
  const int64_t chunks = (group + heads_per_task - 1) / heads_per_task;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t task = 0; task < B * KVH * chunks; ++task) {
    const int64_t b = task / (KVH * chunks);
    const int64_t g = task / chunks % KVH;
    const int64_t h0 = g * group + task % chunks * heads_per_task;
    const int64_t heads = std::min(heads_per_task, (g + 1) * group - h0);
    attend_heads(out, q, q_stride, k_cache, v_cache, b, g, h0, heads, length, capacity, NH, KVH, HS);
  }
}

}  // namespace utt::cpu
