// Causal attention with an optional document mask, in double, written plainly: the specification
// the tensor-core flash attention follows (its host emulation in flash_attention_test.cpp, the
// kernels themselves in flash_attention_gpu_test.cpp), with document positions to test it on.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cuda/attention_math.h"

namespace utt::test {

struct Shape { int64_t B, T, NH, KVH, HS; };

// Plain causal attention with a document mask, in double. doc_pos (B, T) or null: query t sees keys
// t - doc_pos[t] .. t; null is one document per row, and then this is reference::attention_*
// (flash_attention_test.cpp checks it).
struct Expected {
  std::vector<double> out, lse, dqkv;
};
inline Expected masked_attention(const std::vector<float>& qkv, const std::vector<float>& dout,
                                 const int32_t* doc_pos, const Shape& s) {
  const cuda_math::QkvLayout L{s.T, s.NH, s.KVH, s.HS};
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.HS));
  Expected e{std::vector<double>(static_cast<size_t>(s.B * s.T * s.NH * s.HS)),
             std::vector<double>(static_cast<size_t>(s.B * s.NH * s.T)), std::vector<double>(qkv.size())};
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.NH; ++h)
      for (int64_t t = 0; t < s.T; ++t) {
        const int64_t start = doc_pos == nullptr ? 0 : std::max<int64_t>(0, t - doc_pos[b * s.T + t]);
        const int64_t kvh = L.kv_head(h), o = (b * s.T + t) * s.NH * s.HS + h * s.HS;
        std::vector<double> p(static_cast<size_t>(t + 1), 0.0), dp(static_cast<size_t>(t + 1), 0.0);
        double largest = -INFINITY, sum = 0, delta = 0;
        for (int64_t k = start; k <= t; ++k) {
          double dot = 0;
          for (int64_t d = 0; d < s.HS; ++d) dot += static_cast<double>(qkv[L.q(b, t, h) + d]) * qkv[L.k(b, k, kvh) + d];
          p[k] = dot * scale;
          largest = std::max(largest, p[k]);
        }
        for (int64_t k = start; k <= t; ++k) sum += (p[k] = std::exp(p[k] - largest));
        for (int64_t k = start; k <= t; ++k) {
          p[k] /= sum;
          for (int64_t d = 0; d < s.HS; ++d) {
            e.out[o + d] += p[k] * qkv[L.v(b, k, kvh) + d];
            dp[k] += static_cast<double>(dout[o + d]) * qkv[L.v(b, k, kvh) + d];
          }
          delta += p[k] * dp[k];
        }
        e.lse[(b * s.NH + h) * s.T + t] = largest + std::log(sum);
        for (int64_t k = start; k <= t; ++k) {
          const double ds = p[k] * (dp[k] - delta);
          for (int64_t d = 0; d < s.HS; ++d) {
            e.dqkv[L.q(b, t, h) + d] += ds * qkv[L.k(b, k, kvh) + d] * scale;
            e.dqkv[L.k(b, k, kvh) + d] += ds * qkv[L.q(b, t, h) + d] * scale;
            e.dqkv[L.v(b, k, kvh) + d] += p[k] * dout[o + d];
          }
        }
      }
  return e;
}


// Largest |actual - expected| relative to the largest |expected| (NaN fails).
inline double relative_error(const std::vector<float>& actual, const std::vector<double>& expected) {
  double difference = 0, largest = 1e-30;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double d = std::abs(actual[i] - expected[i]);
    difference = std::isnan(d) ? INFINITY : std::max(difference, d);
    largest = std::max(largest, std::abs(expected[i]));
  }
  return difference / largest;
}


// Documents of lengths 1, 2, 3, ... then a long one, so masks start inside and across tiles.
inline std::vector<int32_t> document_positions(int64_t B, int64_t T) {
  std::vector<int32_t> positions(static_cast<size_t>(B * T));
  for (int64_t b = 0; b < B; ++b) {
    int32_t length = static_cast<int32_t>(b + 1), position = 0;
    for (int64_t t = 0; t < T; ++t) {
      positions[static_cast<size_t>(b * T + t)] = position;
      if (++position == length) {
        position = 0;
        length = length < 40 ? length * 3 : 1000;
      }
    }
  }
  return positions;
}

}  // namespace utt::test
