// Causal attention on the CPU.
//
// Flash-style forward: one query row at a time against tiles of kKeyTile keys, with an online
// softmax (running max and running sum, the partial output rescaled when the max grows). The
// output row itself is the accumulator, so no T x T matrix and no scratch beyond one tile of
// scores on the stack. Saves lse = max + log(sum) per query for the backward, which recomputes
// the probabilities.
//
// Backward (both forms): threads own a (batch, kv head) pair, so the dk/dv rows of that kv head
// and the dq rows of its query heads are written by one thread only: no atomics, no scratch.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/ops.h"
#include "backend/cpu/vector_math.h"

namespace utt::cpu {
namespace {

// Scores of one tile live on the stack; 64 keys keep a tile of K and V (64 x HS floats each) in L1/L2.
constexpr int64_t kKeyTile = 64;

struct QkvLayout {
  int64_t T, NH, KVH, HS;
  int64_t row_stride() const { return (NH + 2 * KVH) * HS; }
  int64_t group() const { return NH / KVH; }
  int64_t q(int64_t b, int64_t t, int64_t h) const { return (b * T + t) * row_stride() + h * HS; }
  int64_t k(int64_t b, int64_t t, int64_t g) const { return (b * T + t) * row_stride() + (NH + g) * HS; }
  int64_t v(int64_t b, int64_t t, int64_t g) const {
    return (b * T + t) * row_stride() + (NH + KVH + g) * HS;
  }
};

inline float dot(const float* a, const float* b, int64_t n) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline void axpy(float* y, float alpha, const float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// Zeroes the parts of dqkv that the (b, g) owner writes: its query heads, its k head, its v head.
void zero_owned_rows(float* dqkv, const QkvLayout& at, int64_t b, int64_t g) {
  for (int64_t t = 0; t < at.T; ++t) {
    std::fill_n(dqkv + at.q(b, t, g * at.group()), at.group() * at.HS, 0.0f);
    std::fill_n(dqkv + at.k(b, t, g), at.HS, 0.0f);
    std::fill_n(dqkv + at.v(b, t, g), at.HS, 0.0f);
  }
}

}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, int64_t B, int64_t T, int64_t NH,
                       int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for collapse(2) schedule(dynamic, 4) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bh = 0; bh < B * NH; ++bh) {
    for (int64_t i = 0; i < T; ++i) {
      const int64_t b = bh / NH;
      const int64_t h = bh % NH;
      const int64_t g = h / at.group();
      const float* q = qkv + at.q(b, i, h);
      float* o = out + (b * T + i) * NH * HS + h * HS;
      std::fill_n(o, HS, 0.0f);
      float running_max = -std::numeric_limits<float>::infinity();
      float running_sum = 0;
      float scores[kKeyTile];
      for (int64_t tile = 0; tile <= i; tile += kKeyTile) {
        const int64_t count = std::min(kKeyTile, i + 1 - tile);
        float tile_max = running_max;
        for (int64_t j = 0; j < count; ++j) {
          scores[j] = dot(q, qkv + at.k(b, tile + j, g), HS) * scale;
          tile_max = std::max(tile_max, scores[j]);
        }
        // Rescale what was accumulated under the old max (exp(-inf) = 0 on the first tile).
        const float correction = fast_exp(running_max - tile_max);
        running_sum *= correction;
#pragma omp simd
        for (int64_t d = 0; d < HS; ++d) o[d] *= correction;
        for (int64_t j = 0; j < count; ++j) {
          const float p = fast_exp(scores[j] - tile_max);
          running_sum += p;
          axpy(o, p, qkv + at.v(b, tile + j, g), HS);
        }
        running_max = tile_max;
      }
      const float inverse_sum = 1.0f / running_sum;
#pragma omp simd
      for (int64_t d = 0; d < HS; ++d) o[d] *= inverse_sum;
      lse[(b * NH + h) * T + i] = running_max + std::log(running_sum);
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(dynamic, 1) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bg = 0; bg < B * KVH; ++bg) {
    const int64_t b = bg / KVH;
    const int64_t g = bg % KVH;
    zero_owned_rows(dqkv, at, b, g);
    for (int64_t h = g * at.group(); h < (g + 1) * at.group(); ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const float* q = qkv + at.q(b, i, h);
        const float* d_o = dout + (b * T + i) * NH * HS + h * HS;
        const float D = dot(d_o, out + (b * T + i) * NH * HS + h * HS, HS);
        const float log_sum_exp = lse[(b * NH + h) * T + i];
        float* dq = dqkv + at.q(b, i, h);
        for (int64_t j = 0; j <= i; ++j) {
          const float* k = qkv + at.k(b, j, g);
          const float* v = qkv + at.v(b, j, g);
          const float p = fast_exp(dot(q, k, HS) * scale - log_sum_exp);
          const float ds = p * (dot(d_o, v, HS) - D) * scale;
          axpy(dqkv + at.v(b, j, g), p, d_o, HS);
          axpy(dq, ds, k, HS);
          axpy(dqkv + at.k(b, j, g), ds, q, HS);
        }
      }
    }
  }
}

void naive_attention_forward(float* out, float* att, const float* qkv, int64_t B, int64_t T,
                             int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for collapse(2) schedule(dynamic, 4) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bh = 0; bh < B * NH; ++bh) {
    for (int64_t i = 0; i < T; ++i) {
      const int64_t b = bh / NH;
      const int64_t h = bh % NH;
      const int64_t g = h / at.group();
      const float* q = qkv + at.q(b, i, h);
      float* probabilities = att + (bh * T + i) * T;
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j <= i; ++j) {
        probabilities[j] = dot(q, qkv + at.k(b, j, g), HS) * scale;
        max_score = std::max(max_score, probabilities[j]);
      }
      float sum = 0;
      for (int64_t j = 0; j <= i; ++j) {
        probabilities[j] = fast_exp(probabilities[j] - max_score);
        sum += probabilities[j];
      }
      const float inverse_sum = 1.0f / sum;
      float* o = out + (b * T + i) * NH * HS + h * HS;
      std::fill_n(o, HS, 0.0f);
      for (int64_t j = 0; j <= i; ++j) {
        probabilities[j] *= inverse_sum;
        axpy(o, probabilities[j], qkv + at.v(b, j, g), HS);
      }
      std::fill(probabilities + i + 1, probabilities + T, 0.0f);
    }
  }
}

void naive_attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv,
                              const float* att, int64_t B, int64_t T, int64_t NH, int64_t KVH,
                              int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(dynamic, 1) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bg = 0; bg < B * KVH; ++bg) {
    const int64_t b = bg / KVH;
    const int64_t g = bg % KVH;
    zero_owned_rows(dqkv, at, b, g);
    for (int64_t h = g * at.group(); h < (g + 1) * at.group(); ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const float* probabilities = att + ((b * NH + h) * T + i) * T;
        float* dprobabilities = datt + ((b * NH + h) * T + i) * T;
        const float* d_o = dout + (b * T + i) * NH * HS + h * HS;
        float p_dot_dp = 0;
        for (int64_t j = 0; j <= i; ++j) {
          dprobabilities[j] = dot(d_o, qkv + at.v(b, j, g), HS);
          p_dot_dp += probabilities[j] * dprobabilities[j];
          axpy(dqkv + at.v(b, j, g), probabilities[j], d_o, HS);
        }
        const float* q = qkv + at.q(b, i, h);
        float* dq = dqkv + at.q(b, i, h);
        for (int64_t j = 0; j <= i; ++j) {
          const float ds = probabilities[j] * (dprobabilities[j] - p_dot_dp) * scale;
          axpy(dq, ds, qkv + at.k(b, j, g), HS);
          axpy(dqkv + at.k(b, j, g), ds, q, HS);
        }
      }
    }
  }
}

}  // namespace utt::cpu
