// Decode attention: the attention of one new position per sequence over a key/value cache
// (backend.h). Written as the last row of the causal attention in attention.cpp: scores against
// every cached position, a softmax, the weighted sum of the values; recomputing the scores rather
// than storing them, so that it never allocates.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/reference/ops.h"

namespace utt::reference {
namespace {

template <typename S>
double dot(const S* a, const S* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

}  // namespace

template <typename S>
void decode_attention(S* out, const S* q, int64_t q_stride, const S* k_cache, const S* v_cache,
                      int64_t B, int64_t length, int64_t capacity, int64_t NH, int64_t KVH,
                      int64_t HS) {
  const int64_t kv_width = KVH * HS;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t g = h / (NH / KVH);
      const S* query = q + b * q_stride + h * HS;
      // Key and value of position j for this head.
      auto key = [&](int64_t j) { return k_cache + (b * capacity + j) * kv_width + g * HS; };
      auto value = [&](int64_t j) { return v_cache + (b * capacity + j) * kv_width + g * HS; };
      double max_score = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < length; ++j) max_score = std::max(max_score, dot(query, key(j), HS) * scale);
      double sum = 0;
      for (int64_t j = 0; j < length; ++j) sum += std::exp(dot(query, key(j), HS) * scale - max_score);
      const double log_sum_exp = max_score + std::log(sum);
      S* o = out + (b * NH + h) * HS;
      for (int64_t d = 0; d < HS; ++d) o[d] = 0;
      for (int64_t j = 0; j < length; ++j) {
        const double p = std::exp(dot(query, key(j), HS) * scale - log_sum_exp);
        const S* v = value(j);
        for (int64_t d = 0; d < HS; ++d) o[d] = static_cast<S>(o[d] + p * v[d]);
      }
    }
  }
}

template void decode_attention<float>(float*, const float*, int64_t, const float*, const float*,
                                      int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
template void decode_attention<double>(double*, const double*, int64_t, const double*,
                                       const double*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                       int64_t);

}  // namespace utt::reference
