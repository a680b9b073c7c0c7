// The per-row arithmetic of the CUDA attention kernels: one warp per query row (or per key row in
// the backward's dk/dv pass), lanes splitting the head dimension (d = lane, lane + 32, ...), dot
// products combined by the warp butterfly (row_math.h), softmax online over the keys in order.
// Host and device build these; tests/unit/backend/cuda_math_test.cpp runs whole rows on the CPU.
#pragma once

#include <math.h>

#include <cstdint>

#include "backend/cuda/row_math.h"
#include "backend/host_device.h"

namespace utt::cuda_math {

// Head sizes up to kMaxHeadSlots * 32 (256): a lane keeps HS / 32 (rounded up) output slots.
constexpr int kMaxHeadSlots = 8;

// Offsets into one row of qkv: q heads, then k heads, then v heads; query head h reads kv head
// h / (NH / KVH).
struct QkvLayout {
  int64_t T, NH, KVH, HS;
  UTT_HOST_DEVICE int64_t row_stride() const { return (NH + 2 * KVH) * HS; }
  UTT_HOST_DEVICE int64_t kv_head(int64_t h) const { return h / (NH / KVH); }
  UTT_HOST_DEVICE int64_t q(int64_t b, int64_t t, int64_t h) const { return (b * T + t) * row_stride() + h * HS; }
  UTT_HOST_DEVICE int64_t k(int64_t b, int64_t t, int64_t kvh) const {
    return (b * T + t) * row_stride() + (NH + kvh) * HS;
  }
  UTT_HOST_DEVICE int64_t v(int64_t b, int64_t t, int64_t kvh) const {
    return (b * T + t) * row_stride() + (NH + KVH + kvh) * HS;
  }
};

// Document masking (backend.h's doc_pos): the first key query t of row b sees, the first token of
// its document; 0 without doc_pos (plain causal). It never decreases with t.
UTT_HOST_DEVICE int64_t first_visible_key(const int32_t* doc_pos, int64_t b, int64_t T, int64_t t) {
  return doc_pos == nullptr ? 0 : t - doc_pos[b * T + t];
}

// The lane's part of a . b over HS.
UTT_HOST_DEVICE float lane_dot(const float* a, const float* b, int64_t HS, int lane) {
  float total = 0.0f;
  for (int64_t d = lane; d < HS; d += kWarpLanes) total += a[d] * b[d];
  return total;
}

// Online softmax over keys in order: the running max and sum of exp(score - max), and the lane's
// slots of sum p v, rescaled whenever the max grows.
struct OnlineSoftmax {
  float max = -INFINITY;
  float sum = 0.0f;
  float acc[kMaxHeadSlots] = {};
};

UTT_HOST_DEVICE void online_softmax_add(OnlineSoftmax* state, float score, const float* v, int64_t HS, int lane) {
  const float new_max = fmaxf(state->max, score);
  const float correction = expf(state->max - new_max);  // 0 for the first key (max was -inf)
  const float weight = expf(score - new_max);
  int slot = 0;
  for (int64_t d = lane; d < HS; d += kWarpLanes, ++slot) state->acc[slot] = state->acc[slot] * correction + weight * v[d];
  state->sum = state->sum * correction + weight;
  state->max = new_max;
}

UTT_HOST_DEVICE float online_softmax_lse(const OnlineSoftmax& state) { return state.max + logf(state.sum); }

// The gradient of a score: p (dp - D), with dp = dout . v and D = dout . out (= sum of p dp).
UTT_HOST_DEVICE float score_gradient(float p, float dp, float D) { return p * (dp - D); }

}  // namespace utt::cuda_math
