// Causal attention with grouped-query heads: flash-style (saves the log-sum-exp, recomputes
// probabilities in the backward) and naive (saves the probabilities att (B, NH, T, T)), and decode
// attention over a key/value cache. One warp per query row, keys visited in order with an online
// softmax (attention_math.h), so no T x T buffer is needed beyond naive's own and every result is
// deterministic. The backward splits in two passes without atomics: one warp per query row
// writes dq; one warp per key row sums dk and dv over the heads of its group and the queries
// after it, in order.
//
// Document masking (doc_pos, backend.h): query t visits keys first_visible_key(t) .. t only, and
// a key row's pass stops at the first query of a later document (first keys never decrease).
//
// These are the simple, obviously correct kernels: the `--no-flash-attention` path, attention in
// fp32 runs, and the fallback for head sizes the tensor-core kernel (flash_attention.cu) does not
// take. One dot product per key is a warp reduction, so they are far from the GPU's attention speed.
#include "backend/cuda/attention_math.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

using cuda_math::kWarpLanes;
using cuda_math::QkvLayout;

__device__ inline int64_t warp_row() {
  return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpLanes;
}
__device__ inline int warp_lane() { return static_cast<int>(threadIdx.x % kWarpLanes); }
__device__ inline float warp_dot(const float* a, const float* b, int64_t HS, int lane) {
  return warp_sum(cuda_math::lane_dot(a, b, HS, lane));
}

// Rows r = ((b * NH) + h) * T + t: a warp's neighbours share (b, h) and read the same keys.
__global__ void attention_forward_kernel(float* out, float* lse, float* att, const float* qkv,
                                         const int32_t* doc_pos, QkvLayout L, int64_t B) {
  const int64_t r = warp_row();
  const int lane = warp_lane();
  if (r >= B * L.NH * L.T) return;
  const int64_t t = r % L.T, h = (r / L.T) % L.NH, b = r / (L.T * L.NH), kvh = L.kv_head(h);
  const float scale = 1.0f / sqrtf(static_cast<float>(L.HS));
  const float* q = qkv + L.q(b, t, h);
  const int64_t first = cuda_math::first_visible_key(doc_pos, b, L.T, t);
  cuda_math::OnlineSoftmax state;
  for (int64_t s = first; s <= t; ++s) {
    const float score = warp_dot(q, qkv + L.k(b, s, kvh), L.HS, lane) * scale;
    cuda_math::online_softmax_add(&state, score, qkv + L.v(b, s, kvh), L.HS, lane);
  }
  float* o = out + (b * L.T + t) * L.NH * L.HS + h * L.HS;
  int slot = 0;
  for (int64_t d = lane; d < L.HS; d += kWarpLanes, ++slot) o[d] = state.acc[slot] / state.sum;
  const float log_sum_exp = cuda_math::online_softmax_lse(state);
  if (lse != nullptr && lane == 0) lse[r] = log_sum_exp;
  if (att != nullptr) {
    float* att_row = att + r * L.T;
    for (int64_t s = lane; s < first; s += kWarpLanes) att_row[s] = 0.0f;
    for (int64_t s = first; s <= t; ++s) {
      const float score = warp_dot(q, qkv + L.k(b, s, kvh), L.HS, lane) * scale;
      if (lane == 0) att_row[s] = expf(score - log_sum_exp);
    }
    for (int64_t s = t + 1 + lane; s < L.T; s += kWarpLanes) att_row[s] = 0.0f;
  }
}

// dq of one query row. Flash: p from lse, D = dout . out. Naive: p from att, D = sum p dp (a
// first pass), and the score gradients are kept in datt for the dk/dv pass.
template <bool kNaive>
__global__ void attention_dq_kernel(float* dqkv, float* datt, const float* dout, const float* qkv, const float* out,
                                    const float* lse, const float* att, const int32_t* doc_pos, QkvLayout L,
                                    int64_t B) {
  const int64_t r = warp_row();
  const int lane = warp_lane();
  if (r >= B * L.NH * L.T) return;
  const int64_t t = r % L.T, h = (r / L.T) % L.NH, b = r / (L.T * L.NH), kvh = L.kv_head(h);
  const float scale = 1.0f / sqrtf(static_cast<float>(L.HS));
  const float* q = qkv + L.q(b, t, h);
  const float* dout_row = dout + (b * L.T + t) * L.NH * L.HS + h * L.HS;
  const int64_t first = cuda_math::first_visible_key(doc_pos, b, L.T, t);
  float D = 0.0f;
  if constexpr (kNaive) {
    for (int64_t s = first; s <= t; ++s) D += att[r * L.T + s] * warp_dot(dout_row, qkv + L.v(b, s, kvh), L.HS, lane);
  } else {
    D = warp_dot(dout_row, out + (b * L.T + t) * L.NH * L.HS + h * L.HS, L.HS, lane);
  }
  float dq[cuda_math::kMaxHeadSlots] = {};
  for (int64_t s = first; s <= t; ++s) {
    const float* k = qkv + L.k(b, s, kvh);
    float p;
    if constexpr (kNaive) {
      p = att[r * L.T + s];
    } else {
      p = expf(warp_dot(q, k, L.HS, lane) * scale - lse[r]);
    }
    const float ds = cuda_math::score_gradient(p, warp_dot(dout_row, qkv + L.v(b, s, kvh), L.HS, lane), D);
    if constexpr (kNaive) {
      if (lane == 0) datt[r * L.T + s] = ds;
    }
    int slot = 0;
    for (int64_t d = lane; d < L.HS; d += kWarpLanes, ++slot) dq[slot] += ds * k[d];
  }
  float* dq_row = dqkv + L.q(b, t, h);
  int slot = 0;
  for (int64_t d = lane; d < L.HS; d += kWarpLanes, ++slot) dq_row[d] = dq[slot] * scale;
}

// dk and dv of one key row s of kv head kvh: sums over the group's query heads and queries t >= s.
// Rows r = ((b * KVH) + kvh) * T + s.
template <bool kNaive>
__global__ void attention_dkv_kernel(float* dqkv, const float* datt, const float* dout, const float* qkv,
                                     const float* out, const float* lse, const float* att, const int32_t* doc_pos,
                                     QkvLayout L, int64_t B) {
  const int64_t r = warp_row();
  const int lane = warp_lane();
  if (r >= B * L.KVH * L.T) return;
  const int64_t s = r % L.T, kvh = (r / L.T) % L.KVH, b = r / (L.T * L.KVH);
  const int64_t group = L.NH / L.KVH;
  const float scale = 1.0f / sqrtf(static_cast<float>(L.HS));
  const float* k = qkv + L.k(b, s, kvh);
  const float* v = qkv + L.v(b, s, kvh);
  float dk[cuda_math::kMaxHeadSlots] = {}, dv[cuda_math::kMaxHeadSlots] = {};
  for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
    for (int64_t t = s; t < L.T && cuda_math::first_visible_key(doc_pos, b, L.T, t) <= s; ++t) {
      const int64_t row = (b * L.NH + h) * L.T + t;
      const float* q = qkv + L.q(b, t, h);
      const float* dout_row = dout + (b * L.T + t) * L.NH * L.HS + h * L.HS;
      float p, ds;
      if constexpr (kNaive) {
        p = att[row * L.T + s];
        ds = datt[row * L.T + s];
      } else {
        p = expf(warp_dot(q, k, L.HS, lane) * scale - lse[row]);
        const float D = warp_dot(dout_row, out + (b * L.T + t) * L.NH * L.HS + h * L.HS, L.HS, lane);
        ds = cuda_math::score_gradient(p, warp_dot(dout_row, v, L.HS, lane), D);
      }
      int slot = 0;
      for (int64_t d = lane; d < L.HS; d += kWarpLanes, ++slot) {
        dk[slot] += ds * q[d];
        dv[slot] += p * dout_row[d];
      }
    }
  }
  float* dk_row = dqkv + L.k(b, s, kvh);
  float* dv_row = dqkv + L.v(b, s, kvh);
  int slot = 0;
  for (int64_t d = lane; d < L.HS; d += kWarpLanes, ++slot) {
    dk_row[d] = dk[slot] * scale;
    dv_row[d] = dv[slot];
  }
}

// One warp per (b, h): the newest position's query against `length` cached positions.
__global__ void decode_attention_kernel(float* out, const float* q, int64_t q_stride, const float* k_cache,
                                        const float* v_cache, int64_t B, int64_t length, int64_t capacity,
                                        int64_t NH, int64_t KVH, int64_t HS) {
  const int64_t r = warp_row();
  const int lane = warp_lane();
  if (r >= B * NH) return;
  const int64_t h = r % NH, b = r / NH, kvh = h / (NH / KVH);
  const float scale = 1.0f / sqrtf(static_cast<float>(HS));
  const float* query = q + b * q_stride + h * HS;
  cuda_math::OnlineSoftmax state;
  for (int64_t s = 0; s < length; ++s) {
    const int64_t at = (b * capacity + s) * KVH * HS + kvh * HS;
    cuda_math::online_softmax_add(&state, warp_dot(query, k_cache + at, HS, lane) * scale, v_cache + at, HS, lane);
  }
  int slot = 0;
  for (int64_t d = lane; d < HS; d += kWarpLanes, ++slot) out[r * HS + d] = state.acc[slot] / state.sum;
}

void check_heads(int64_t NH, int64_t KVH, int64_t HS) {
  UTT_CHECK(KVH >= 1 && NH % KVH == 0, "query heads must be a multiple of kv heads");
  UTT_CHECK(HS >= 1 && HS <= cuda_math::kMaxHeadSlots * kWarpLanes,
            "the CUDA attention kernels take head sizes up to 256, not " + std::to_string(HS));
}

}  // namespace

void attention_forward(float* out, float* lse, float* att, const float* qkv, const int32_t* doc_pos, int64_t B,
                       int64_t T, int64_t NH, int64_t KVH, int64_t HS, cudaStream_t stream) {
  check_heads(NH, KVH, HS);
  if (B * T <= 0) return;
  attention_forward_kernel<<<blocks_for_rows(B * NH * T), kThreadsPerBlock, 0, stream>>>(
      out, lse, att, qkv, doc_pos, QkvLayout{T, NH, KVH, HS}, B);
  CUDA_CHECK_LAUNCH();
}

void attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv, const float* out,
                        const float* lse, const float* att, const int32_t* doc_pos, int64_t B, int64_t T,
                        int64_t NH, int64_t KVH, int64_t HS, cudaStream_t stream) {
  check_heads(NH, KVH, HS);
  if (B * T <= 0) return;
  const QkvLayout L{T, NH, KVH, HS};
  if (att != nullptr) {
    attention_dq_kernel<true><<<blocks_for_rows(B * NH * T), kThreadsPerBlock, 0, stream>>>(dqkv, datt, dout, qkv,
                                                                                          out, lse, att, doc_pos, L, B);
    CUDA_CHECK_LAUNCH();
    attention_dkv_kernel<true><<<blocks_for_rows(B * KVH * T), kThreadsPerBlock, 0, stream>>>(dqkv, datt, dout, qkv,
                                                                                            out, lse, att, doc_pos, L, B);
  } else {
    attention_dq_kernel<false><<<blocks_for_rows(B * NH * T), kThreadsPerBlock, 0, stream>>>(dqkv, datt, dout, qkv,
                                                                                           out, lse, att, doc_pos, L, B);
    CUDA_CHECK_LAUNCH();
    attention_dkv_kernel<false><<<blocks_for_rows(B * KVH * T), kThreadsPerBlock, 0, stream>>>(dqkv, datt, dout,
                                                                                             qkv, out, lse, att, doc_pos, L, B);
  }
  CUDA_CHECK_LAUNCH();
}

void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache, const float* v_cache,
                      int64_t B, int64_t length, int64_t capacity, int64_t NH, int64_t KVH, int64_t HS,
                      cudaStream_t stream) {
  check_heads(NH, KVH, HS);
  if (B <= 0 || length <= 0) return;
  decode_attention_kernel<<<blocks_for_rows(B * NH), kThreadsPerBlock, 0, stream>>>(
      out, q, q_stride, k_cache, v_cache, B, length, capacity, NH, KVH, HS);
  CUDA_CHECK_LAUNCH();
}

}  // namespace utt::cuda
