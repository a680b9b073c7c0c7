// Every optimized CPU kernel against its reference twin, through the Backend interface, on random
// inputs of awkward sizes (1 row, odd widths, long rows, more keys than one attention tile), and
// sizes above cpu::kMinParallelWork so the threaded paths run too.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vector_math.h"
#include "unit/backend/document_positions.h"
#include "unit/backend/float_vectors.h"

namespace utt {
namespace {

using test::packed_document_positions;
using test::random_floats;

using Buffers = std::vector<std::vector<float>>;
using Op = std::function<void(Backend&, Buffers&)>;

// float kernels vs double-accumulating reference: agreement to ~1e-6 of the largest magnitude,
// with headroom for long reductions (K up to ~1000).
constexpr double kTolerance = 2e-5;

class CpuKernels : public testing::Test {
 protected:
  // Runs `op` on identical copies of `inputs` with both backends and compares every buffer after,
  // relative to the largest magnitude or `scale_floor`, whichever is larger.
  void expect_same(const std::string& what, const Buffers& inputs, const Op& op, double scale_floor = 1e-30) {
    Buffers optimized_buffers = inputs;
    Buffers reference_buffers = inputs;
    op(*optimized_, optimized_buffers);
    op(*reference_, reference_buffers);
    for (size_t b = 0; b < inputs.size(); ++b) {
      double largest = 0, difference = 0;
      for (size_t i = 0; i < inputs[b].size(); ++i) {
        largest = std::max(largest, std::abs(static_cast<double>(reference_buffers[b][i])));
        difference = std::max(difference, std::abs(static_cast<double>(optimized_buffers[b][i]) -
                                                   reference_buffers[b][i]));
      }
      EXPECT_LE(difference, kTolerance * std::max(largest, scale_floor)) << what << ", buffer " << b;
    }
  }

  std::unique_ptr<Backend> optimized_ = make_cpu_backend({.reference_mode = false, .threads = 2});
  std::unique_ptr<Backend> reference_ = make_cpu_backend({.reference_mode = true});
};

TEST_F(CpuKernels, MatmulEveryTransposeBiasAndAccumulate) {
  struct Shape { int64_t M, N, K; };
  for (const Shape s : {Shape{1, 1, 1}, Shape{1, 37, 5}, Shape{13, 7, 29}, Shape{64, 33, 130},
                        Shape{3, 515, 17}, Shape{5, 3, 1031}, Shape{301, 200, 64},
                        Shape{1, 515, 130}, Shape{1, 3001, 700}}) {  // one row: sgemv, threaded
    for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        for (Accumulate acc : {Accumulate::kNo, Accumulate::kYes}) {
          for (bool with_bias : {false, true}) {
            const std::string what = "matmul " + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                                     std::to_string(s.K) + (ta == Transpose::kYes ? " At" : "") +
                                     (tb == Transpose::kYes ? " Bt" : "") +
                                     (acc == Accumulate::kYes ? " +=" : "") + (with_bias ? " bias" : "");
            expect_same(what, {random_floats(s.M * s.N, 1), random_floats(s.M * s.K, 2), random_floats(s.K * s.N, 3),
                               random_floats(s.N, 4)},
                        [&](Backend& be, Buffers& x) {
                          be.matmul(x[0].data(), x[1].data(), x[2].data(), with_bias ? x[3].data() : nullptr,
                                    s.M, s.N, s.K, ta, tb, acc);
                        });
          }
        }
      }
    }
  }
}

TEST_F(CpuKernels, BiasBackwardAndEmbeddings) {
  for (const auto& [N, C] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {61, 200}, {3, 1031}, {173, 200}}) {
    expect_same("bias_backward", {random_floats(C, 5), random_floats(N * C, 6)},
                [&](Backend& be, Buffers& x) { be.bias_backward(x[0].data(), x[1].data(), N, C); });
    const int64_t V = 11, B = 1, T = N;
    std::vector<int32_t> tokens(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) tokens[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7) % 5);  // repeats
    expect_same("embedding", {random_floats(N * C, 7), random_floats(V * C, 8), random_floats(T * C, 9),
                              random_floats(V * C, 10), random_floats(T * C, 11), random_floats(N * C, 12)},
                [&](Backend& be, Buffers& x) {
                  be.embedding_forward(x[0].data(), tokens.data(), x[1].data(), x[2].data(), nullptr, B, T, C);
                  be.embedding_backward(x[3].data(), x[4].data(), x[5].data(), tokens.data(), nullptr, B, T, C);
                });
    const std::vector<int32_t> doc_pos = packed_document_positions(B, T);
    expect_same("embedding, positions by document",
                {random_floats(N * C, 7), random_floats(V * C, 8), random_floats(T * C, 9), random_floats(V * C, 10),
                 random_floats(T * C, 11), random_floats(N * C, 12)},
                [&](Backend& be, Buffers& x) {
                  be.embedding_forward(x[0].data(), tokens.data(), x[1].data(), x[2].data(), doc_pos.data(), B, T, C);
                  be.embedding_backward(x[3].data(), x[4].data(), x[5].data(), tokens.data(), doc_pos.data(), B, T,
                                        C);
                });
  }
}

TEST_F(CpuKernels, NormsForwardAndBackward) {
  for (const auto& [N, C] : {std::pair<int64_t, int64_t>{1, 1}, {1, 13}, {7, 200}, {5, 1031}, {37, 1031}}) {
    expect_same("rmsnorm", {random_floats(N * C, 13), random_floats(C, 14), random_floats(N * C, 15),
                            std::vector<float>(N), random_floats(N * C, 16), random_floats(N * C, 17),
                            random_floats(C, 18)},
                [&](Backend& be, Buffers& x) {
                  be.rmsnorm_forward(x[2].data(), x[3].data(), x[0].data(), x[1].data(), N, C, 1e-5f);
                  be.rmsnorm_backward(x[5].data(), x[6].data(), x[4].data(), x[0].data(), x[1].data(),
                                      x[3].data(), N, C);
                });
    expect_same("layernorm", {random_floats(N * C, 19, 3.0f), random_floats(C, 20), random_floats(C, 21),
                              random_floats(N * C, 22), std::vector<float>(N), std::vector<float>(N),
                              random_floats(N * C, 23), random_floats(N * C, 24), random_floats(C, 25),
                              random_floats(C, 26)},
                [&](Backend& be, Buffers& x) {
                  be.layernorm_forward(x[3].data(), x[4].data(), x[5].data(), x[0].data(), x[1].data(),
                                       x[2].data(), N, C, 1e-5f);
                  be.layernorm_backward(x[7].data(), x[8].data(), x[9].data(), x[6].data(), x[0].data(),
                                        x[1].data(), x[4].data(), x[5].data(), N, C);
                });
  }
}

TEST_F(CpuKernels, RopeForwardAndBackward) {
  struct Shape { int64_t B, T, heads, HS, stride; };
  for (const Shape s : {Shape{2, 9, 3, 6, 23}, Shape{3, 130, 5, 16, 83}}) {
    std::vector<float> cos(s.T * s.HS / 2), sin(s.T * s.HS / 2);
    reference_->rope_table(cos.data(), sin.data(), s.T, s.HS, 10000.0);
    const int64_t n = s.B * s.T * s.stride;
    expect_same("rope", {random_floats(n, 27), random_floats(n, 28)}, [&](Backend& be, Buffers& x) {
      be.rope_forward(x[0].data() + 1, cos.data(), sin.data(), s.B, s.T, s.heads, s.HS, s.stride);
      be.rope_backward(x[1].data() + 2, cos.data(), sin.data(), s.B, s.T, s.heads, s.HS, s.stride);
    });
  }
}

struct AttentionShape {
  int64_t B, T, NH, KVH, HS;
};

TEST_F(CpuKernels, AttentionFlashAndNaiveAgainstReferenceAndEachOther) {
  for (const AttentionShape s : {AttentionShape{1, 1, 1, 1, 4}, AttentionShape{2, 13, 4, 2, 6},
                                 AttentionShape{1, 150, 3, 1, 16}, AttentionShape{3, 65, 2, 2, 5}}) {
    for (const bool documents : {false, true}) {
      const std::vector<int32_t> packed = packed_document_positions(s.B, s.T);
      const int32_t* doc_pos = documents ? packed.data() : nullptr;
      const int64_t width = (s.NH + 2 * s.KVH) * s.HS;
      const int64_t rows = s.B * s.T;
      const int64_t matrix = s.B * s.NH * s.T * s.T;
      const std::string shape = std::to_string(s.B) + "x" + std::to_string(s.T) + " NH " + std::to_string(s.NH) +
                                " KVH " + std::to_string(s.KVH) + " HS " + std::to_string(s.HS) +
                                (documents ? " documents" : "");
      const Buffers inputs = {random_floats(rows * width, 29, 2.0f), random_floats(rows * s.NH * s.HS, 30),
                              std::vector<float>(rows * s.NH * s.HS), std::vector<float>(s.B * s.NH * s.T),
                              std::vector<float>(rows * width), std::vector<float>(matrix),
                              std::vector<float>(matrix)};
      auto flash = [&](Backend& be, Buffers& x) {
        be.attention_forward(x[2].data(), x[3].data(), x[0].data(), doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
        be.attention_backward(x[4].data(), x[1].data(), x[0].data(), x[2].data(), x[3].data(), doc_pos, s.B, s.T,
                              s.NH, s.KVH, s.HS);
      };
      auto naive = [&](Backend& be, Buffers& x) {
        be.naive_attention_forward(x[2].data(), x[5].data(), x[0].data(), doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
        be.naive_attention_backward(x[4].data(), x[6].data(), x[1].data(), x[0].data(), x[5].data(), doc_pos, s.B,
                                    s.T, s.NH, s.KVH, s.HS);
      };
      expect_same("flash attention " + shape, inputs, flash);
      expect_same("naive attention " + shape, inputs, naive);
      // Flash and naive compute the same output and gradient.
      Buffers a = inputs, b = inputs;
      flash(*optimized_, a);
      naive(*optimized_, b);
      for (int index : {2, 4}) {
        double largest = 0, difference = 0;
        for (size_t i = 0; i < a[index].size(); ++i) {
          largest = std::max(largest, std::abs(static_cast<double>(b[index][i])));
          difference = std::max(difference, std::abs(static_cast<double>(a[index][i]) - b[index][i]));
        }
        EXPECT_LE(difference, kTolerance * largest) << "flash vs naive " << shape << ", buffer " << index;
      }
    }
  }
}

// The flash kernels work on blocks of 64 queries x 64 keys with rows padded to 4 and head sizes
// to 16: sequence lengths below, at and across block edges, head sizes that are and are not
// whole vectors, grouped-query heads (4 query heads per kv head) and several sequences.
TEST_F(CpuKernels, FlashAttentionAcrossBlockEdgesHeadSizesAndGroups) {
  for (const int64_t T : {1, 7, 63, 65, 130}) {
    for (const int64_t HS : {8, 16, 24, 32, 64, 128}) {
      for (const AttentionShape s : {AttentionShape{2, T, 8, 2, HS}, AttentionShape{1, T, 2, 2, HS}}) {
        for (const bool documents : {false, true}) {
          const std::vector<int32_t> packed = packed_document_positions(s.B, s.T);
          const int32_t* doc_pos = documents ? packed.data() : nullptr;
          const int64_t width = (s.NH + 2 * s.KVH) * s.HS;
          const int64_t rows = s.B * s.T;
          const Buffers inputs = {random_floats(rows * width, 33, 2.0f), random_floats(rows * s.NH * s.HS, 34),
                                  std::vector<float>(rows * s.NH * s.HS), std::vector<float>(s.B * s.NH * s.T),
                                  random_floats(rows * width, 35)};  // dqkv is overwritten, not accumulated
          expect_same("flash attention " + std::to_string(s.B) + "x" + std::to_string(T) + " NH " +
                          std::to_string(s.NH) + " KVH " + std::to_string(s.KVH) + " HS " + std::to_string(HS) +
                          (documents ? " documents" : ""),
                      inputs, [&](Backend& be, Buffers& x) {
                        be.attention_forward(x[2].data(), x[3].data(), x[0].data(), doc_pos, s.B, s.T, s.NH, s.KVH,
                                             s.HS);
                        be.attention_backward(x[4].data(), x[1].data(), x[0].data(), x[2].data(), x[3].data(),
                                              doc_pos, s.B, s.T, s.NH, s.KVH, s.HS);
                      });
        }
      }
    }
  }
}

// The vectorized tanh and sigmoid are accurate to about 1e-7 absolute, so an output near 0 (the
// GELU of a large negative input, a few 1e-8) is judged on that absolute scale, not relative
// to itself.
constexpr double kActivationScale = 1.0;

TEST_F(CpuKernels, FeedForwardNonlinearitiesAndDropout) {
  for (const auto& [N, F] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {3, 1031}, {37, 1031}}) {
    for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSilu}) {
      expect_same("glu " + to_string(act),
                  {random_floats(N * 2 * F, 31, 3.0f), std::vector<float>(N * F), random_floats(N * F, 32),
                   std::vector<float>(N * 2 * F)},
                  [&](Backend& be, Buffers& x) {
                    be.glu_forward(x[1].data(), x[0].data(), N, F, act);
                    be.glu_backward(x[3].data(), x[2].data(), x[0].data(), N, F, act);
                  },
                  kActivationScale);
      expect_same("activation " + to_string(act),
                  {random_floats(N * F, 33, 3.0f), std::vector<float>(N * F), random_floats(N * F, 34),
                   std::vector<float>(N * F)},
                  [&](Backend& be, Buffers& x) {
                    be.activation_forward(x[1].data(), x[0].data(), N * F, act);
                    be.activation_backward(x[3].data(), x[2].data(), x[0].data(), N * F, act);
                  },
                  kActivationScale);
    }
    expect_same("dropout", {random_floats(N * F, 35)},
                [&](Backend& be, Buffers& x) { be.dropout(x[0].data(), N * F, 0.3f, 99); });
    expect_same("residual dropout", {random_floats(N * F, 36), random_floats(N * F, 37), std::vector<float>(N * F)},
                [&](Backend& be, Buffers& x) {
                  be.residual_dropout(x[2].data(), nullptr, x[1].data(), N * F, 0.3f, 98);
                  be.residual_dropout(x[0].data(), x[0].data(), x[1].data(), N * F, 0.3f, 97);
                });
  }
}

TEST_F(CpuKernels, CrossEntropyAndReductions) {
  for (const auto& [N, V] : {std::pair<int64_t, int64_t>{1, 1}, {1, 97}, {17, 1031}, {40, 1031}}) {
    std::vector<int32_t> targets(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) targets[static_cast<size_t>(i)] = i == 3 ? -1 : static_cast<int32_t>((i * 31) % V);
    for (LogitGradient logit_gradient : {LogitGradient::kSkip, LogitGradient::kWrite}) {
      expect_same("cross entropy", {std::vector<float>(N), random_floats(N * V, 36, 4.0f)},
                  [&](Backend& be, Buffers& x) {
                    be.cross_entropy_forward_backward(x[0].data(), x[1].data(), targets.data(), N, V, 7.0f,
                                                      logit_gradient);
                  });
    }
  }
  const std::vector<float> x = random_floats(100003, 37);
  EXPECT_NEAR(optimized_->sum(x.data(), 100003), reference_->sum(x.data(), 100003), 1e-9);
  EXPECT_NEAR(optimized_->sum_of_squares(x.data(), 100003), reference_->sum_of_squares(x.data(), 100003), 1e-7);
  for (int64_t n : {1001, 40001}) {
    expect_same("add, scale", {random_floats(n, 38), random_floats(n, 39)}, [n](Backend& be, Buffers& b) {
      be.add_inplace(b[0].data(), b[1].data(), n);
      be.scale(b[0].data(), 0.37f, n);
    });
  }
}

TEST_F(CpuKernels, AdamWWithDecayedAndUndecayedSegments) {
  const int64_t n = 41037;
  const ParameterSegment segments[] = {{0, 100, true}, {100, 101, false}, {101, n, true}};
  AdamWHyper hyper{.learning_rate = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .step = 1};
  expect_same("adamw", {random_floats(n, 40), random_floats(n, 41), std::vector<float>(n), std::vector<float>(n)},
              [&](Backend& be, Buffers& x) {
                for (int64_t step = 1; step <= 3; ++step) {
                  hyper.step = step;
                  be.adamw_step(x[0].data(), x[1].data(), x[2].data(), x[3].data(), segments, 3, hyper, 0.5f);
                }
              });
}

}  // namespace
}  // namespace utt

namespace utt::cpu {
namespace {

TEST(VectorMath, FastExpIsWithinAFewUlpOfExpOverTheFloatRange) {
  double worst = 0;
  for (double x = -87.0; x <= 88.5; x += 0.001) {
    const double exact = std::exp(static_cast<double>(static_cast<float>(x)));
    worst = std::max(worst, std::abs(fast_exp(static_cast<float>(x)) - exact) / exact);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_LT(fast_exp(-1000.0f), 1.2e-38f);  // clamped: tiny, finite, never NaN
  EXPECT_NEAR(fast_tanh(0.5f), std::tanh(0.5f), 1e-7);
  EXPECT_EQ(fast_tanh(-50.0f), -1.0f);
  EXPECT_EQ(fast_tanh(50.0f), 1.0f);
}

}  // namespace
}  // namespace utt::cpu
