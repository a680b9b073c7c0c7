// Embeddings, RoPE, feed-forward nonlinearities (plain and gated), dropout and the element-wise helpers.
#include <algorithm>
#include <cmath>

#include "backend/dropout_hash.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/vector_math.h"

namespace utt::cpu {
namespace {

constexpr float kGeluCubic = 0.044715f;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr int64_t kColumnBlock = 64;

inline float sigmoid(float x) { return fast_sigmoid(x); }

}  // namespace

void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for if ((B * T * C) >= kMinParallelWork)
  for (int64_t n = 0; n < B * T; ++n) {
    const float* token_row = wte + static_cast<int64_t>(tokens[n]) * C;
    float* o = out + n * C;
    if (wpe != nullptr) {
      const float* position_row = wpe + (doc_pos != nullptr ? doc_pos[n] : n % T) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) o[c] = token_row[c] + position_row[c];
    } else {
      std::copy(token_row, token_row + C, o);
    }
  }
}

// Several rows may share a token: threads split the columns, never the rows.
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for if ((B * T * C) >= kMinParallelWork)
  for (int64_t block = 0; block < C; block += kColumnBlock) {
    const int64_t width = std::min(kColumnBlock, C - block);
    for (int64_t n = 0; n < B * T; ++n) {
      float* token_row = dwte + static_cast<int64_t>(tokens[n]) * C + block;
      const float* drow = dout + n * C + block;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) token_row[c] += drow[c];
    }
  }
  if (dwpe == nullptr) return;
  if (doc_pos != nullptr) {
    // Documents restart their positions, so rows share position rows like tokens: columns again.
#pragma omp parallel for if ((B * T * C) >= kMinParallelWork)
    for (int64_t block = 0; block < C; block += kColumnBlock) {
      const int64_t width = std::min(kColumnBlock, C - block);
      for (int64_t n = 0; n < B * T; ++n) {
        float* position_row = dwpe + static_cast<int64_t>(doc_pos[n]) * C + block;
        const float* drow = dout + n * C + block;
#pragma omp simd
        for (int64_t c = 0; c < width; ++c) position_row[c] += drow[c];
      }
    }
    return;
  }
#pragma omp parallel for if ((B * T * C) >= kMinParallelWork)
  for (int64_t t = 0; t < T; ++t) {
    float* position_row = dwpe + t * C;
    for (int64_t b = 0; b < B; ++b) {
      const float* drow = dout + (b * T + t) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) position_row[c] += drow[c];
    }
  }
}

void rope_rotate(float* x, const float* cos, const float* sin, int64_t B, int64_t T, int64_t heads,
                 int64_t HS, int64_t row_stride, int direction) {
  const int64_t half = HS / 2;
  const float sign = static_cast<float>(direction);
#pragma omp parallel for if ((B * T * heads * HS) >= kMinParallelWork)
  for (int64_t n = 0; n < B * T; ++n) {
    const float* c = cos + (n % T) * half;
    const float* s = sin + (n % T) * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* head = x + n * row_stride + h * HS;
#pragma omp simd
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = head[i];
        const float x1 = head[i + half];
        head[i] = x0 * c[i] - x1 * sign * s[i];
        head[i + half] = x1 * c[i] + x0 * sign * s[i];
      }
    }
  }
}

namespace {

// Each activation as a value and a derivative, inlined into the loops below so that every
// (op, activation) pair is one vectorized loop.
struct Relu {
  static float value(float x) { return x > 0.0f ? x : 0.0f; }
  static float derivative(float x) { return x > 0.0f ? 1.0f : 0.0f; }
};
struct Gelu {  // tanh form
  static float value(float x) { return 0.5f * x * (1.0f + fast_tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x))); }
  static float derivative(float x) {
    const float th = fast_tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
  }
};
struct Silu {
  static float value(float x) { return x * sigmoid(x); }
  static float derivative(float x) {
    const float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
  }
};

template <class F>
void with_activation(Activation act, F&& run) {
  switch (act) {
    case Activation::kRelu: return run(Relu{});
    case Activation::kGelu: return run(Gelu{});
    case Activation::kSilu: return run(Silu{});
  }
}

}  // namespace

void glu_forward(float* out, const float* h, int64_t N, int64_t F, Activation act) {
  with_activation(act, [&](auto a) {
    using A = decltype(a);
#pragma omp parallel for if ((N * F) >= kMinParallelWork)
    for (int64_t n = 0; n < N; ++n) {
      const float* gate = h + n * 2 * F;
      const float* up = gate + F;
      float* o = out + n * F;
#pragma omp simd
      for (int64_t f = 0; f < F; ++f) o[f] = A::value(gate[f]) * up[f];
    }
  });
}

void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F, Activation act) {
  with_activation(act, [&](auto a) {
    using A = decltype(a);
#pragma omp parallel for if ((N * F) >= kMinParallelWork)
    for (int64_t n = 0; n < N; ++n) {
      const float* gate = h + n * 2 * F;
      const float* up = gate + F;
      const float* d = dout + n * F;
      float* dgate = dh + n * 2 * F;
      float* dup = dgate + F;
#pragma omp simd
      for (int64_t f = 0; f < F; ++f) {
        dgate[f] = d[f] * up[f] * A::derivative(gate[f]);
        dup[f] = d[f] * A::value(gate[f]);
      }
    }
  });
}

void activation_forward(float* out, const float* x, int64_t n, Activation act) {
  with_activation(act, [&](auto a) {
    using A = decltype(a);
#pragma omp parallel for simd if ((n) >= kMinParallelWork)
    for (int64_t i = 0; i < n; ++i) out[i] = A::value(x[i]);
  });
}

void activation_backward(float* dx, const float* dout, const float* x, int64_t n, Activation act) {
  with_activation(act, [&](auto a) {
    using A = decltype(a);
#pragma omp parallel for simd if ((n) >= kMinParallelWork)
    for (int64_t i = 0; i < n; ++i) dx[i] = dout[i] * A::derivative(x[i]);
  });
}

void dropout(float* x, int64_t n, float rate, uint64_t key) {
  if (rate <= 0.0f) return;
  const float keep_scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
#pragma omp parallel for if ((n) >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) x[i] = dropout_uniform(key, i) >= rate ? x[i] * keep_scale : 0.0f;
}

void residual_dropout(float* out, const float* residual, const float* x, int64_t n, float rate,
                      uint64_t key) {
  const float keep_scale = rate > 0.0f ? static_cast<float>(1.0 / (1.0 - static_cast<double>(rate))) : 1.0f;
  if (residual == nullptr) {
#pragma omp parallel for if ((n) >= kMinParallelWork)
    for (int64_t i = 0; i < n; ++i) out[i] = dropout_uniform(key, i) >= rate ? x[i] * keep_scale : 0.0f;
  } else {
#pragma omp parallel for if ((n) >= kMinParallelWork)
    for (int64_t i = 0; i < n; ++i) {
      out[i] = residual[i] + (dropout_uniform(key, i) >= rate ? x[i] * keep_scale : 0.0f);
    }
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for simd if ((n) >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale(float* x, float factor, int64_t n) {
#pragma omp parallel for simd if ((n) >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

// A fixed number of chunks, each summed in a fixed order, then the chunks in order: the result does
// not depend on the thread count or on thread timing (an OpenMP reduction across threads would),
// which bit-exact resume needs, since the gradient norm feeds the clipping scale. Within a chunk the
// elements go to kLanes partial sums (a vector register of doubles), combined in a fixed order: still
// deterministic, and no longer one dependent scalar add per element.
template <typename Term>
double deterministic_sum(int64_t n, Term term) {
  constexpr int64_t kChunks = 64;
  constexpr int64_t kLanes = 8;
  double partial[kChunks] = {};
  const int64_t chunk_size = (n + kChunks - 1) / kChunks;
#pragma omp parallel for if ((n) >= kMinParallelWork)
  for (int64_t chunk = 0; chunk < kChunks; ++chunk) {
    const int64_t end = std::min(n, (chunk + 1) * chunk_size);
    double lanes[kLanes] = {};
    int64_t i = chunk * chunk_size;
    for (; i + kLanes <= end; i += kLanes) {
#pragma omp simd
      for (int64_t lane = 0; lane < kLanes; ++lane) lanes[lane] += term(i + lane);
    }
    double total = 0;
    for (; i < end; ++i) total += term(i);
    for (double lane : lanes) total += lane;
    partial[chunk] = total;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

double sum(const float* x, int64_t n) {
  return deterministic_sum(n, [x](int64_t i) { return static_cast<double>(x[i]); });
}

double sum_of_squares(const float* x, int64_t n) {
  return deterministic_sum(n, [x](int64_t i) { return static_cast<double>(x[i]) * x[i]; });
}

}  // namespace utt::cpu
