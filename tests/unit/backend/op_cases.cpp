#include "unit/backend/op_cases.h"

#include <cmath>
#include <string>

#include "unit/backend/document_positions.h"
#include "unit/backend/float_vectors.h"

namespace utt::test {
namespace {

using Floats = std::vector<float>;
using Ints = std::vector<int32_t>;
using Fs = const std::vector<float*>&;
using Is = const std::vector<int32_t*>&;
using Scalars = std::vector<double>;

std::string shape_text(std::initializer_list<std::pair<const char*, int64_t>> dims) {
  std::string text;
  for (const auto& [name, value] : dims) text += (text.empty() ? "" : " ") + std::string(name) + "=" + std::to_string(value);
  return text;
}

// Token ids with repeats (embedding gradients must add them up): (i * 7) % distinct.
Ints repeating_tokens(int64_t n, int64_t distinct) {
  Ints tokens(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) tokens[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7) % distinct);
  return tokens;
}

Floats positive_floats(int64_t n, uint64_t seed) {
  Floats values = random_floats(n, seed);
  for (float& v : values) v = std::abs(v) + 0.01f;
  return values;
}

const char* activation_text(Activation act) {
  return act == Activation::kRelu ? " relu" : act == Activation::kGelu ? " gelu" : " silu";
}

std::vector<OpCase> matmul_cases() {
  struct Shape { int64_t M, N, K; };
  std::vector<OpCase> cases;
  for (const Shape s : {Shape{1, 1, 1}, Shape{1, 37, 5}, Shape{13, 7, 29}, Shape{64, 33, 130}, Shape{5, 3, 1031},
                        Shape{1, 515, 130}}) {
    for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        for (Accumulate acc : {Accumulate::kNo, Accumulate::kYes}) {
          for (bool bias : {false, true}) {
            OpCase c;
            c.shape = shape_text({{"M", s.M}, {"N", s.N}, {"K", s.K}}) + (ta == Transpose::kYes ? " At" : "") +
                      (tb == Transpose::kYes ? " Bt" : "") + (acc == Accumulate::kYes ? " +=" : "") +
                      (bias ? " bias" : "");
            c.floats = {random_floats(s.M * s.N, 1), random_floats(s.M * s.K, 2), random_floats(s.K * s.N, 3),
                        random_floats(s.N, 4)};
            c.run = [=](Backend& be, Fs f, Is) {
              be.matmul(f[0], f[1], f[2], bias ? f[3] : nullptr, s.M, s.N, s.K, ta, tb, acc);
              return Scalars{};
            };
            cases.push_back(std::move(c));
          }
        }
      }
    }
  }
  return cases;
}

std::vector<OpCase> bias_backward_cases() {
  std::vector<OpCase> cases;
  for (const auto& [N, OC] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {61, 200}, {3, 1031}, {1000, 3}}) {
    OpCase c;
    c.shape = shape_text({{"N", N}, {"OC", OC}});
    c.floats = {random_floats(OC, 5), random_floats(N * OC, 6)};
    c.run = [=](Backend& be, Fs f, Is) {
      be.bias_backward(f[0], f[1], N, OC);
      return Scalars{};
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

struct EmbeddingShape { int64_t B, T, C, V; };
constexpr EmbeddingShape kEmbeddingShapes[] = {{1, 1, 1, 3}, {2, 7, 13, 11}, {3, 37, 200, 50}, {1, 5, 1031, 4}};

std::vector<OpCase> embedding_cases(bool backward) {
  std::vector<OpCase> cases;
  for (const EmbeddingShape s : kEmbeddingShapes) {
    // Learned positions: none, by place in the row, or restarting with each document.
    for (int positions : {0, 1, 2}) {
      const int64_t N = s.B * s.T;
      const bool documents = positions == 2;
      OpCase c;
      c.shape = shape_text({{"B", s.B}, {"T", s.T}, {"C", s.C}, {"V", s.V}}) +
                (positions == 1 ? " wpe" : documents ? " wpe documents" : "");
      c.ints = {repeating_tokens(N, std::min<int64_t>(s.V, 5)), packed_document_positions(s.B, s.T)};
      if (backward) {
        c.floats = {random_floats(s.V * s.C, 7), random_floats(s.T * s.C, 8), random_floats(N * s.C, 9)};
        c.run = [=](Backend& be, Fs f, Is i) {
          be.embedding_backward(f[0], positions > 0 ? f[1] : nullptr, f[2], i[0], documents ? i[1] : nullptr, s.B,
                                s.T, s.C);
          return Scalars{};
        };
      } else {
        c.floats = {random_floats(N * s.C, 10), random_floats(s.V * s.C, 11), random_floats(s.T * s.C, 12)};
        c.run = [=](Backend& be, Fs f, Is i) {
          be.embedding_forward(f[0], i[0], f[1], positions > 0 ? f[2] : nullptr, documents ? i[1] : nullptr, s.B,
                               s.T, s.C);
          return Scalars{};
        };
      }
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

constexpr std::pair<int64_t, int64_t> kNormShapes[] = {{1, 1}, {1, 13}, {7, 200}, {5, 1031}, {37, 33}, {300, 64}};

std::vector<OpCase> rmsnorm_cases(bool backward) {
  std::vector<OpCase> cases;
  for (const auto& [N, C] : kNormShapes) {
    OpCase c;
    c.shape = shape_text({{"N", N}, {"C", C}});
    if (backward) {
      // dx, dweight, dout, x, weight, rstd (a plausible saved rstd: positive)
      c.floats = {random_floats(N * C, 13), random_floats(C, 14), random_floats(N * C, 15),
                  random_floats(N * C, 16), random_floats(C, 17), positive_floats(N, 18)};
      c.run = [=](Backend& be, Fs f, Is) {
        be.rmsnorm_backward(f[0], f[1], f[2], f[3], f[4], f[5], N, C);
        return Scalars{};
      };
    } else {
      c.floats = {random_floats(N * C, 19), Floats(static_cast<size_t>(N)), random_floats(N * C, 20, 2.0f),
                  random_floats(C, 21)};
      c.run = [=](Backend& be, Fs f, Is) {
        be.rmsnorm_forward(f[0], f[1], f[2], f[3], N, C, 1e-5f);
        return Scalars{};
      };
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> layernorm_cases(bool backward) {
  std::vector<OpCase> cases;
  for (const auto& [N, C] : kNormShapes) {
    OpCase c;
    c.shape = shape_text({{"N", N}, {"C", C}});
    if (backward) {
      // dx, dweight, dbias, dout, x, weight, mean, rstd
      c.floats = {random_floats(N * C, 22), random_floats(C, 23), random_floats(C, 24), random_floats(N * C, 25),
                  random_floats(N * C, 26, 3.0f), random_floats(C, 27), random_floats(N, 28), positive_floats(N, 29)};
      c.run = [=](Backend& be, Fs f, Is) {
        be.layernorm_backward(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], N, C);
        return Scalars{};
      };
    } else {
      Floats x = random_floats(N * C, 30, 3.0f);
      for (float& v : x) v += 5.0f;  // an offset the mean must remove
      c.floats = {random_floats(N * C, 31), Floats(static_cast<size_t>(N)), Floats(static_cast<size_t>(N)), x,
                  random_floats(C, 32), random_floats(C, 33)};
      c.run = [=](Backend& be, Fs f, Is) {
        be.layernorm_forward(f[0], f[1], f[2], f[3], f[4], f[5], N, C, 1e-5f);
        return Scalars{};
      };
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> rope_table_cases() {
  std::vector<OpCase> cases;
  struct Shape { int64_t T, HS; double theta; };
  for (const Shape s : {Shape{1, 2, 10000.0}, Shape{9, 6, 10000.0}, Shape{130, 16, 500000.0}, Shape{1024, 128, 10000.0}}) {
    OpCase c;
    c.shape = shape_text({{"T", s.T}, {"HS", s.HS}}) + " theta=" + std::to_string(static_cast<int64_t>(s.theta));
    c.floats = {Floats(static_cast<size_t>(s.T * s.HS / 2)), Floats(static_cast<size_t>(s.T * s.HS / 2))};
    c.run = [=](Backend& be, Fs f, Is) {
      be.rope_table(f[0], f[1], s.T, s.HS, s.theta);
      return Scalars{};
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> rope_cases(bool backward) {
  std::vector<OpCase> cases;
  struct Shape { int64_t B, T, heads, HS, stride; };
  for (const Shape s : {Shape{1, 1, 1, 2, 2}, Shape{2, 9, 3, 6, 23}, Shape{3, 130, 5, 16, 83}}) {
    // The table as rope_table defines it: angle t * theta^(-2i/HS).
    Floats cos(static_cast<size_t>(s.T * s.HS / 2)), sin(cos.size());
    for (int64_t t = 0; t < s.T; ++t) {
      for (int64_t i = 0; i < s.HS / 2; ++i) {
        const double angle = static_cast<double>(t) * std::pow(10000.0, -2.0 * static_cast<double>(i) / s.HS);
        cos[static_cast<size_t>(t * s.HS / 2 + i)] = static_cast<float>(std::cos(angle));
        sin[static_cast<size_t>(t * s.HS / 2 + i)] = static_cast<float>(std::sin(angle));
      }
    }
    OpCase c;
    c.shape = shape_text({{"B", s.B}, {"T", s.T}, {"heads", s.heads}, {"HS", s.HS}, {"stride", s.stride}});
    c.floats = {random_floats(s.B * s.T * s.stride, 34), cos, sin};
    c.run = [=](Backend& be, Fs f, Is) {
      if (backward) {
        be.rope_backward(f[0], f[1], f[2], s.B, s.T, s.heads, s.HS, s.stride);
      } else {
        be.rope_forward(f[0], f[1], f[2], s.B, s.T, s.heads, s.HS, s.stride);
      }
      return Scalars{};
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

struct AttentionShape { int64_t B, T, NH, KVH, HS; };
constexpr AttentionShape kAttentionShapes[] = {{1, 1, 1, 1, 4}, {2, 7, 4, 2, 8}, {1, 67, 3, 1, 16}, {2, 130, 2, 2, 6}};

std::string attention_text(const AttentionShape& s) {
  return shape_text({{"B", s.B}, {"T", s.T}, {"NH", s.NH}, {"KVH", s.KVH}, {"HS", s.HS}});
}

// Flash-style attention. The backward case runs the forward first on the same backend (its
// saved out and lse are the backward's inputs), so it checks both.
template <size_t kCount>
std::vector<OpCase> attention_cases(bool backward, const AttentionShape (&shapes)[kCount]) {
  std::vector<OpCase> cases;
  for (const AttentionShape s : shapes) {
    for (bool documents : {false, true}) {
      const int64_t width = (s.NH + 2 * s.KVH) * s.HS, N = s.B * s.T;
      OpCase c;
      c.shape = attention_text(s) + (documents ? " documents" : "");
      // out, lse, qkv, dqkv, dout; doc_pos
      c.floats = {random_floats(N * s.NH * s.HS, 35), random_floats(s.B * s.NH * s.T, 36),
                  random_floats(N * width, 37), random_floats(N * width, 38), random_floats(N * s.NH * s.HS, 39)};
      c.ints = {packed_document_positions(s.B, s.T)};
      c.run = [=](Backend& be, Fs f, Is i) {
        const int32_t* doc_pos = documents ? i[0] : nullptr;
        be.attention_forward(f[0], f[1], f[2], doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
        if (backward) be.attention_backward(f[3], f[4], f[2], f[0], f[1], doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
        return Scalars{};
      };
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

std::vector<OpCase> naive_attention_cases(bool backward) {
  std::vector<OpCase> cases;
  for (const AttentionShape s : kAttentionShapes) {
    for (bool documents : {false, true}) {
      const int64_t width = (s.NH + 2 * s.KVH) * s.HS, N = s.B * s.T;
      OpCase c;
      c.shape = attention_text(s) + (documents ? " documents" : "");
      // out, att, qkv, dqkv, datt (scratch), dout; doc_pos
      c.floats = {random_floats(N * s.NH * s.HS, 40), random_floats(s.B * s.NH * s.T * s.T, 41),
                  random_floats(N * width, 42), random_floats(N * width, 43),
                  random_floats(s.B * s.NH * s.T * s.T, 44), random_floats(N * s.NH * s.HS, 45)};
      c.scratch = {4};
      c.ints = {packed_document_positions(s.B, s.T)};
      c.run = [=](Backend& be, Fs f, Is i) {
        const int32_t* doc_pos = documents ? i[0] : nullptr;
        be.naive_attention_forward(f[0], f[1], f[2], doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
        if (backward) {
          be.naive_attention_backward(f[3], f[4], f[5], f[2], f[1], doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
        }
        return Scalars{};
      };
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

std::vector<OpCase> decode_attention_cases() {
  std::vector<OpCase> cases;
  struct Shape { int64_t B, length, capacity, NH, KVH, HS; };
  for (const Shape s : {Shape{1, 1, 1, 1, 1, 4}, Shape{2, 37, 40, 4, 2, 8}, Shape{3, 130, 131, 6, 3, 16},
                        Shape{1, 300, 300, 2, 1, 64}}) {
    const int64_t q_stride = s.NH * s.HS + 5;  // a qkv row's stride: queries first, then more
    const int64_t cache = s.B * s.capacity * s.KVH * s.HS;
    OpCase c;
    c.shape = shape_text({{"B", s.B}, {"length", s.length}, {"capacity", s.capacity}, {"NH", s.NH},
                          {"KVH", s.KVH}, {"HS", s.HS}});
    c.floats = {random_floats(s.B * s.NH * s.HS, 46), random_floats(s.B * q_stride, 47), random_floats(cache, 48),
                random_floats(cache, 49)};
    c.run = [=](Backend& be, Fs f, Is) {
      be.decode_attention(f[0], f[1], q_stride, f[2], f[3], s.B, s.length, s.capacity, s.NH, s.KVH, s.HS);
      return Scalars{};
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> glu_cases(bool backward) {
  std::vector<OpCase> cases;
  for (const auto& [N, F] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {5, 1031}}) {
    for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSilu}) {
      OpCase c;
      c.shape = shape_text({{"N", N}, {"F", F}}) + activation_text(act);
      if (backward) {
        c.floats = {random_floats(N * 2 * F, 50), random_floats(N * F, 51), random_floats(N * 2 * F, 52, 2.0f)};
        c.run = [=](Backend& be, Fs f, Is) {
          be.glu_backward(f[0], f[1], f[2], N, F, act);
          return Scalars{};
        };
      } else {
        c.floats = {random_floats(N * F, 53), random_floats(N * 2 * F, 54, 2.0f)};
        c.run = [=](Backend& be, Fs f, Is) {
          be.glu_forward(f[0], f[1], N, F, act);
          return Scalars{};
        };
      }
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

constexpr int64_t kElementCounts[] = {1, 1000, 4097};

std::vector<OpCase> activation_cases(bool backward) {
  std::vector<OpCase> cases;
  for (const int64_t n : kElementCounts) {
    for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSilu}) {
      for (bool aliased : {false, true}) {
        if (aliased && !backward) continue;
        OpCase c;
        c.shape = shape_text({{"n", n}}) + activation_text(act) + (aliased ? " dx=dout" : "");
        c.floats = {random_floats(n, 55), random_floats(n, 56), random_floats(n, 57, 3.0f)};
        c.run = [=](Backend& be, Fs f, Is) {
          if (backward) {
            be.activation_backward(aliased ? f[1] : f[0], f[1], f[2], n, act);
          } else {
            be.activation_forward(f[0], f[2], n, act);
          }
          return Scalars{};
        };
        cases.push_back(std::move(c));
      }
    }
  }
  return cases;
}

std::vector<OpCase> dropout_cases(bool with_residual) {
  std::vector<OpCase> cases;
  for (const int64_t n : {int64_t{1}, int64_t{1000}, int64_t{40001}}) {
    for (const float rate : {0.0f, 0.1f, 0.5f}) {
      for (int variant = 0; variant < (with_residual ? 3 : 1); ++variant) {
        // residual_dropout variants: out = residual + dropout(x); out = dropout(x); out aliasing residual.
        OpCase c;
        c.shape = shape_text({{"n", n}}) + " rate=" + std::to_string(rate) +
                  (!with_residual ? "" : variant == 0 ? " residual" : variant == 1 ? " no residual" : " out=residual");
        c.floats = {random_floats(n, 58), random_floats(n, 59), random_floats(n, 60)};
        const uint64_t key = 0x5eed0000u + static_cast<uint64_t>(n);
        c.run = [=](Backend& be, Fs f, Is) {
          if (!with_residual) {
            be.dropout(f[0], n, rate, key);
          } else if (variant == 0) {
            be.residual_dropout(f[0], f[1], f[2], n, rate, key);
          } else if (variant == 1) {
            be.residual_dropout(f[0], nullptr, f[2], n, rate, key);
          } else {
            be.residual_dropout(f[1], f[1], f[2], n, rate, key);
          }
          return Scalars{};
        };
        cases.push_back(std::move(c));
      }
    }
  }
  return cases;
}

std::vector<OpCase> cross_entropy_cases() {
  std::vector<OpCase> cases;
  for (const auto& [N, V] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 1031}, {2, 50257}, {40, 300}}) {
    for (LogitGradient gradient : {LogitGradient::kSkip, LogitGradient::kWrite}) {
      Ints targets(static_cast<size_t>(N));
      for (int64_t n = 0; n < N; ++n) {
        targets[static_cast<size_t>(n)] = n % 4 == 3 ? -1 : static_cast<int32_t>((n * 13) % V);  // some ignored
      }
      OpCase c;
      c.shape = shape_text({{"N", N}, {"V", V}}) + (gradient == LogitGradient::kWrite ? " gradient" : "");
      c.floats = {random_floats(N, 61), random_floats(N * V, 62, 4.0f)};
      c.ints = {targets};
      c.run = [=](Backend& be, Fs f, Is i) {
        be.cross_entropy_forward_backward(f[0], f[1], i[0], N, V, 7.0f, gradient);
        return Scalars{};
      };
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

std::vector<OpCase> elementwise_cases(Op op) {
  std::vector<OpCase> cases;
  for (const int64_t n : kElementCounts) {
    OpCase c;
    c.shape = shape_text({{"n", n}});
    c.floats = {random_floats(n, 63), random_floats(n, 64)};
    c.run = [=](Backend& be, Fs f, Is) {
      if (op == Op::kAddInplace) be.add_inplace(f[0], f[1], n);
      if (op == Op::kScale) be.scale(f[0], -0.37f, n);
      return Scalars{};
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> sum_cases(bool squares) {
  std::vector<OpCase> cases;
  for (const int64_t n : {int64_t{1}, int64_t{1000}, int64_t{(1 << 20) + 3}}) {
    OpCase c;
    c.shape = shape_text({{"n", n}});
    c.floats = {random_floats(n, 65)};
    double magnitude = 0;
    for (float v : c.floats[0]) magnitude += squares ? static_cast<double>(v) * v : std::abs(static_cast<double>(v));
    c.scalar_scale = magnitude;
    c.run = [=](Backend& be, Fs f, Is) { return Scalars{squares ? be.sum_of_squares(f[0], n) : be.sum(f[0], n)}; };
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<OpCase> adamw_cases() {
  std::vector<OpCase> cases;
  const std::vector<ParameterSegment> segments = {{0, 10, true}, {10, 1000, false}, {1000, 4099, true}};
  for (const int64_t step : {int64_t{1}, int64_t{7}}) {
    OpCase c;
    c.shape = "4099 parameters in 3 segments, step " + std::to_string(step);
    Floats v = random_floats(4099, 69, 0.01f);
    for (float& x : v) x = x * x;  // a second moment is never negative
    c.floats = {random_floats(4099, 66), random_floats(4099, 67), random_floats(4099, 68, 0.1f), v};
    AdamWHyper hyper;
    hyper.learning_rate = 3e-3;
    hyper.weight_decay = 0.1;
    hyper.step = step;
    c.run = [=](Backend& be, Fs f, Is) {
      be.adamw_step(f[0], f[1], f[2], f[3], segments.data(), static_cast<int64_t>(segments.size()), hyper, 0.5f);
      return Scalars{};
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

// The tensor-core kernel's head sizes; lengths of one row, a part tile, and several tiles of
// 64 with a remainder; grouped-query heads.
constexpr AttentionShape kFlashAttentionShapes[] = {
    {1, 1, 1, 1, 64}, {2, 67, 4, 2, 64}, {1, 200, 4, 1, 64}, {1, 45, 2, 2, 128}, {2, 130, 3, 1, 128}};

}  // namespace

std::vector<OpCase> flash_attention_cases() { return attention_cases(true, kFlashAttentionShapes); }

std::vector<OpCase> op_cases(Op op) {
  switch (op) {
    case Op::kMatmul: return matmul_cases();
    case Op::kBiasBackward: return bias_backward_cases();
    case Op::kEmbeddingForward: return embedding_cases(false);
    case Op::kEmbeddingBackward: return embedding_cases(true);
    case Op::kRmsnormForward: return rmsnorm_cases(false);
    case Op::kRmsnormBackward: return rmsnorm_cases(true);
    case Op::kLayernormForward: return layernorm_cases(false);
    case Op::kLayernormBackward: return layernorm_cases(true);
    case Op::kRopeTable: return rope_table_cases();
    case Op::kRopeForward: return rope_cases(false);
    case Op::kRopeBackward: return rope_cases(true);
    case Op::kAttentionForward: return attention_cases(false, kAttentionShapes);
    case Op::kAttentionBackward: return attention_cases(true, kAttentionShapes);
    case Op::kNaiveAttentionForward: return naive_attention_cases(false);
    case Op::kNaiveAttentionBackward: return naive_attention_cases(true);
    case Op::kDecodeAttention: return decode_attention_cases();
    case Op::kGluForward: return glu_cases(false);
    case Op::kGluBackward: return glu_cases(true);
    case Op::kActivationForward: return activation_cases(false);
    case Op::kActivationBackward: return activation_cases(true);
    case Op::kDropout: return dropout_cases(false);
    case Op::kResidualDropout: return dropout_cases(true);
    case Op::kCrossEntropy: return cross_entropy_cases();
    case Op::kAddInplace:
    case Op::kScale: return elementwise_cases(op);
    case Op::kSum: return sum_cases(false);
    case Op::kSumOfSquares: return sum_cases(true);
    case Op::kAdamwStep: return adamw_cases();
  }
  return {};
}

}  // namespace utt::test
