// Causal self-attention with grouped-query heads, in two forms: "flash" (saves only the
// log-sum-exp per query and recomputes probabilities in the backward) and "naive" (saves the
// T x T probabilities). Both compute the same function; the reference recomputes scores rather
// than storing them so that it never allocates.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/reference/ops.h"

namespace utt::reference {
namespace {

// Pointers into one row of qkv: q heads, then k heads, then v heads.
struct QkvLayout {
  int64_t T, NH, KVH, HS;
  int64_t row_stride() const { return (NH + 2 * KVH) * HS; }
  int64_t kv_head(int64_t h) const { return h / (NH / KVH); }
  int64_t q(int64_t b, int64_t t, int64_t h) const { return (b * T + t) * row_stride() + h * HS; }
  int64_t k(int64_t b, int64_t t, int64_t h) const {
    return (b * T + t) * row_stride() + (NH + kv_head(h)) * HS;
  }
  int64_t v(int64_t b, int64_t t, int64_t h) const {
    return (b * T + t) * row_stride() + (NH + KVH + kv_head(h)) * HS;
  }
};

// The first key query i of row b sees: its document's first token (document masking), or 0.
int64_t first_key(const int32_t* doc_pos, int64_t b, int64_t T, int64_t i) {
  return doc_pos == nullptr ? 0 : std::max<int64_t>(0, i - doc_pos[b * T + i]);
}

template <typename S>
double dot(const S* a, const S* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

}  // namespace

template <typename S>
void attention_forward(S* out, S* lse, const S* qkv, const int32_t* doc_pos, int64_t B, int64_t T,
                       int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const int64_t first = first_key(doc_pos, b, T, i);
        const S* q = qkv + at.q(b, i, h);
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t j = first; j <= i; ++j) {
          max_score = std::max(max_score, dot(q, qkv + at.k(b, j, h), HS) * scale);
        }
        double sum = 0;
        for (int64_t j = first; j <= i; ++j) sum += std::exp(dot(q, qkv + at.k(b, j, h), HS) * scale - max_score);
        const double log_sum_exp = max_score + std::log(sum);
        S* o = out + (b * T + i) * NH * HS + h * HS;
        for (int64_t d = 0; d < HS; ++d) o[d] = 0;
        for (int64_t j = first; j <= i; ++j) {
          const double p = std::exp(dot(q, qkv + at.k(b, j, h), HS) * scale - log_sum_exp);
          const S* v = qkv + at.v(b, j, h);
          for (int64_t d = 0; d < HS; ++d) o[d] = static_cast<S>(o[d] + p * v[d]);
        }
        lse[(b * NH + h) * T + i] = static_cast<S>(log_sum_exp);
      }
    }
  }
}

// With p_ij = exp(s_ij - lse_i), D_i = dout_i . out_i:
//   dv_j += p_ij dout_i;  ds_ij = p_ij (dout_i . v_j - D_i);  dq_i += ds_ij k_j scale;
//   dk_j += ds_ij q_i scale.
template <typename S>
void attention_backward(S* dqkv, const S* dout, const S* qkv, const S* out, const S* lse,
                        const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  for (int64_t i = 0; i < B * T * at.row_stride(); ++i) dqkv[i] = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const int64_t first = first_key(doc_pos, b, T, i);
        const S* q = qkv + at.q(b, i, h);
        const S* d_o = dout + (b * T + i) * NH * HS + h * HS;
        const double D = dot(d_o, out + (b * T + i) * NH * HS + h * HS, HS);
        const double log_sum_exp = lse[(b * NH + h) * T + i];
        for (int64_t j = first; j <= i; ++j) {
          const S* k = qkv + at.k(b, j, h);
          const S* v = qkv + at.v(b, j, h);
          const double p = std::exp(dot(q, k, HS) * scale - log_sum_exp);
          const double ds = p * (dot(d_o, v, HS) - D) * scale;
          S* dq = dqkv + at.q(b, i, h);
          S* dk = dqkv + at.k(b, j, h);
          S* dv = dqkv + at.v(b, j, h);
          for (int64_t d = 0; d < HS; ++d) {
            dv[d] = static_cast<S>(dv[d] + p * d_o[d]);
            dq[d] = static_cast<S>(dq[d] + ds * k[d]);
            dk[d] = static_cast<S>(dk[d] + ds * q[d]);
          }
        }
      }
    }
  }
}

template <typename S>
void naive_attention_forward(S* out, S* att, const S* qkv, const int32_t* doc_pos, int64_t B, int64_t T,
                             int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const int64_t first = first_key(doc_pos, b, T, i);
        S* probabilities = att + ((b * NH + h) * T + i) * T;
        const S* q = qkv + at.q(b, i, h);
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t j = first; j <= i; ++j) {
          max_score = std::max(max_score, dot(q, qkv + at.k(b, j, h), HS) * scale);
        }
        double sum = 0;
        for (int64_t j = first; j <= i; ++j) sum += std::exp(dot(q, qkv + at.k(b, j, h), HS) * scale - max_score);
        for (int64_t j = 0; j < T; ++j) {
          probabilities[j] = j >= first && j <= i ? static_cast<S>(std::exp(dot(q, qkv + at.k(b, j, h), HS) * scale - max_score) / sum)
                                    : S(0);
        }
        S* o = out + (b * T + i) * NH * HS + h * HS;
        for (int64_t d = 0; d < HS; ++d) {
          double acc = 0;
          for (int64_t j = first; j <= i; ++j) acc += static_cast<double>(probabilities[j]) * qkv[at.v(b, j, h) + d];
          o[d] = static_cast<S>(acc);
        }
      }
    }
  }
}

template <typename S>
void naive_attention_backward(S* dqkv, S* datt, const S* dout, const S* qkv, const S* att,
                              const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH, int64_t KVH,
                              int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  for (int64_t i = 0; i < B * T * at.row_stride(); ++i) dqkv[i] = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const int64_t first = first_key(doc_pos, b, T, i);
        const S* probabilities = att + ((b * NH + h) * T + i) * T;
        S* dprobabilities = datt + ((b * NH + h) * T + i) * T;
        const S* d_o = dout + (b * T + i) * NH * HS + h * HS;
        double p_dot_dp = 0;
        for (int64_t j = first; j <= i; ++j) {
          const double dp = dot(d_o, qkv + at.v(b, j, h), HS);
          dprobabilities[j] = static_cast<S>(dp);
          p_dot_dp += probabilities[j] * dp;
          S* dv = dqkv + at.v(b, j, h);
          for (int64_t d = 0; d < HS; ++d) dv[d] = static_cast<S>(dv[d] + probabilities[j] * d_o[d]);
        }
        const S* q = qkv + at.q(b, i, h);
        S* dq = dqkv + at.q(b, i, h);
        for (int64_t j = first; j <= i; ++j) {
          const double ds = probabilities[j] * (dprobabilities[j] - p_dot_dp) * scale;
          const S* k = qkv + at.k(b, j, h);
          S* dk = dqkv + at.k(b, j, h);
          for (int64_t d = 0; d < HS; ++d) {
            dq[d] = static_cast<S>(dq[d] + ds * k[d]);
            dk[d] = static_cast<S>(dk[d] + ds * q[d]);
          }
        }
      }
    }
  }
}

#define UTT_INSTANTIATE(S)                                                                          \
  template void attention_forward<S>(S*, S*, const S*, const int32_t*, int64_t, int64_t, int64_t,     \
                                     int64_t, int64_t);                                              \
  template void attention_backward<S>(S*, const S*, const S*, const S*, const S*, const int32_t*,     \
                                      int64_t, int64_t, int64_t, int64_t, int64_t);                  \
  template void naive_attention_forward<S>(S*, S*, const S*, const int32_t*, int64_t, int64_t,        \
                                           int64_t, int64_t, int64_t);                               \
  template void naive_attention_backward<S>(S*, S*, const S*, const S*, const S*, const int32_t*,     \
                                            int64_t, int64_t, int64_t, int64_t, int64_t);
UTT_INSTANTIATE(float)
UTT_INSTANTIATE(double)
#undef UTT_INSTANTIATE

}  // namespace utt::reference
