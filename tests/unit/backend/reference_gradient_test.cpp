// Every backward of the reference kernels against finite differences, in double precision.
// The reference is the oracle for every other kernel, so its backward is checked from first
// principles here.
#include <gtest/gtest.h>

#include "backend/cpu/reference/ops.h"
#include "gradient_check.h"
#include "unit/backend/document_positions.h"

namespace utt::reference {
namespace {

using test::expect_gradient_matches;
using test::packed_document_positions;
using test::random_doubles;
using test::weighted_sum;
using Vec = std::vector<double>;

TEST(ReferenceGradients, LinearLayerThroughMatmulTransposes) {
  const int64_t N = 3, IC = 5, OC = 4;
  Vec x = random_doubles(N * IC, 1), w = random_doubles(OC * IC, 2), b = random_doubles(OC, 3);
  const Vec dy = random_doubles(N * OC, 4);
  auto loss = [&] {
    Vec y(N * OC);
    matmul<double>(y.data(), x.data(), w.data(), b.data(), N, OC, IC, Transpose::kNo, Transpose::kYes, Accumulate::kNo);
    return weighted_sum(y, dy);
  };
  Vec dx(N * IC), dw(OC * IC, 0.0), db(OC, 0.0);
  matmul<double>(dx.data(), dy.data(), w.data(), nullptr, N, IC, OC, Transpose::kNo, Transpose::kNo, Accumulate::kNo);
  matmul<double>(dw.data(), dy.data(), x.data(), nullptr, OC, IC, N, Transpose::kYes, Transpose::kNo, Accumulate::kYes);
  bias_backward(db.data(), dy.data(), N, OC);
  expect_gradient_matches("dx", x, dx, loss);
  expect_gradient_matches("dweight", w, dw, loss);
  expect_gradient_matches("dbias", b, db, loss);
}

TEST(ReferenceGradients, MatmulWithBothOperandsTransposed) {
  const int64_t M = 3, N = 4, K = 2;
  Vec a = random_doubles(K * M, 5), b = random_doubles(N * K, 6);
  Vec c(M * N);
  matmul<double>(c.data(), a.data(), b.data(), nullptr, M, N, K, Transpose::kYes, Transpose::kYes, Accumulate::kNo);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double expected = 0;
      for (int64_t k = 0; k < K; ++k) expected += a[k * M + m] * b[n * K + k];
      EXPECT_NEAR(c[m * N + n], expected, 1e-14);
    }
  }
}

TEST(ReferenceGradients, EmbeddingsWithRepeatedTokens) {
  const int64_t B = 2, T = 3, C = 4, V = 5;
  const std::vector<int32_t> tokens = {1, 4, 1, 0, 1, 4};
  // Positions by place in the row, or restarting with each document (row 1: documents of 1 and 2).
  const std::vector<int32_t> by_document = {0, 1, 2, 0, 0, 1};
  for (const int32_t* doc_pos : {static_cast<const int32_t*>(nullptr), by_document.data()}) {
    Vec wte = random_doubles(V * C, 7), wpe = random_doubles(T * C, 8);
    const Vec dy = random_doubles(B * T * C, 9);
    auto loss = [&] {
      Vec y(B * T * C);
      embedding_forward(y.data(), tokens.data(), wte.data(), wpe.data(), doc_pos, B, T, C);
      return weighted_sum(y, dy);
    };
    Vec dwte(V * C, 0.0), dwpe(T * C, 0.0);
    embedding_backward(dwte.data(), dwpe.data(), dy.data(), tokens.data(), doc_pos, B, T, C);
    expect_gradient_matches("dwte", wte, dwte, loss);
    expect_gradient_matches("dwpe", wpe, dwpe, loss);
  }
}

TEST(ReferenceGradients, RmsNormAccumulatesIntoDx) {
  const int64_t N = 3, C = 7;
  Vec x = random_doubles(N * C, 10), w = random_doubles(C, 11);
  const Vec dy = random_doubles(N * C, 12);
  auto loss = [&] {
    Vec y(N * C), rstd(N);
    rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5);
    return weighted_sum(y, dy);
  };
  Vec y(N * C), rstd(N), dx(N * C, 0.5), dw(C, 0.0);
  rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5);
  rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), rstd.data(), N, C);
  for (double& v : dx) v -= 0.5;  // backward added onto what was there
  expect_gradient_matches("dx", x, dx, loss);
  expect_gradient_matches("dweight", w, dw, loss);
}

TEST(ReferenceGradients, LayerNormAccumulatesIntoDx) {
  const int64_t N = 3, C = 6;
  Vec x = random_doubles(N * C, 13), w = random_doubles(C, 14), b = random_doubles(C, 15);
  const Vec dy = random_doubles(N * C, 16);
  auto loss = [&] {
    Vec y(N * C), mean(N), rstd(N);
    layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, 1e-5);
    return weighted_sum(y, dy);
  };
  Vec y(N * C), mean(N), rstd(N), dx(N * C, -0.25), dw(C, 0.0), db(C, 0.0);
  layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, 1e-5);
  layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  for (double& v : dx) v += 0.25;
  expect_gradient_matches("dx", x, dx, loss);
  expect_gradient_matches("dweight", w, dw, loss);
  expect_gradient_matches("dbias", b, db, loss);
}

TEST(ReferenceGradients, RopeOnStridedHeads) {
  const int64_t B = 2, T = 3, heads = 2, HS = 4, stride = 11;  // stride > heads * HS: other data between rows
  Vec cos(T * HS / 2), sin(T * HS / 2);
  rope_table(cos.data(), sin.data(), T, HS, 10000.0);
  Vec x = random_doubles(B * T * stride, 17);
  const Vec dy = random_doubles(B * T * stride, 18);
  auto loss = [&] {
    Vec y = x;
    rope_rotate(y.data(), cos.data(), sin.data(), B, T, heads, HS, stride, +1);
    return weighted_sum(y, dy);
  };
  Vec dx = dy;
  rope_rotate(dx.data(), cos.data(), sin.data(), B, T, heads, HS, stride, -1);
  expect_gradient_matches("dx", x, dx, loss);
  // Position 0 is the identity; the inverse undoes the rotation.
  Vec y = x;
  rope_rotate(y.data(), cos.data(), sin.data(), B, T, heads, HS, stride, +1);
  for (int64_t i = 0; i < heads * HS; ++i) EXPECT_EQ(y[i], x[i]);
  rope_rotate(y.data(), cos.data(), sin.data(), B, T, heads, HS, stride, -1);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i], 1e-14);
}

TEST(ReferenceGradients, RopePairsDimensionIWithIPlusHalf) {
  // One head of size 4 at position 1: angles 1 and 1/100 (theta 10000, HS 4).
  Vec cos(2 * 2), sin(2 * 2);
  rope_table(cos.data(), sin.data(), 2, 4, 10000.0);
  Vec x = {0, 0, 0, 0, 1, 2, 3, 4};  // B=1, T=2
  rope_rotate(x.data(), cos.data(), sin.data(), 1, 2, 1, 4, 4, +1);
  EXPECT_NEAR(x[4], 1 * std::cos(1.0) - 3 * std::sin(1.0), 1e-15);
  EXPECT_NEAR(x[6], 3 * std::cos(1.0) + 1 * std::sin(1.0), 1e-15);
  EXPECT_NEAR(x[5], 2 * std::cos(0.01) - 4 * std::sin(0.01), 1e-15);
  EXPECT_NEAR(x[7], 4 * std::cos(0.01) + 2 * std::sin(0.01), 1e-15);
}

struct AttentionShape {
  int64_t B, T, NH, KVH, HS;
};

class ReferenceAttentionGradients : public testing::TestWithParam<AttentionShape> {};

TEST_P(ReferenceAttentionGradients, FlashAndNaiveBackwardsMatchFiniteDifferences) {
  const auto [B, T, NH, KVH, HS] = GetParam();
  const std::vector<int32_t> packed = packed_document_positions(B, T);
  for (const int32_t* doc_pos : {static_cast<const int32_t*>(nullptr), packed.data()}) {
    SCOPED_TRACE(doc_pos ? "documents" : "one sequence per row");
    const int64_t width = (NH + 2 * KVH) * HS;
    Vec qkv = random_doubles(B * T * width, 19);
    const Vec dy = random_doubles(B * T * NH * HS, 20);
    auto flash_loss = [&] {
      Vec y(B * T * NH * HS), lse(B * NH * T);
      attention_forward(y.data(), lse.data(), qkv.data(), doc_pos, B, T, NH, KVH, HS);
      return weighted_sum(y, dy);
    };
    auto naive_loss = [&] {
      Vec y(B * T * NH * HS), att(B * NH * T * T);
      naive_attention_forward(y.data(), att.data(), qkv.data(), doc_pos, B, T, NH, KVH, HS);
      return weighted_sum(y, dy);
    };
    Vec y(B * T * NH * HS), lse(B * NH * T), att(B * NH * T * T), datt(B * NH * T * T);
    Vec dflash(qkv.size(), 7.0), dnaive(qkv.size(), 7.0);  // both overwrite
    attention_forward(y.data(), lse.data(), qkv.data(), doc_pos, B, T, NH, KVH, HS);
    attention_backward(dflash.data(), dy.data(), qkv.data(), y.data(), lse.data(), doc_pos, B, T, NH, KVH, HS);
    naive_attention_forward(y.data(), att.data(), qkv.data(), doc_pos, B, T, NH, KVH, HS);
    naive_attention_backward(dnaive.data(), datt.data(), dy.data(), qkv.data(), att.data(), doc_pos, B, T, NH, KVH,
                             HS);
    expect_gradient_matches("flash dqkv", qkv, dflash, flash_loss);
    expect_gradient_matches("naive dqkv", qkv, dnaive, naive_loss);
    EXPECT_NEAR(flash_loss(), naive_loss(), 1e-12);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReferenceAttentionGradients,
                         testing::Values(AttentionShape{1, 1, 1, 1, 2}, AttentionShape{2, 4, 2, 2, 3},
                                         AttentionShape{1, 5, 4, 2, 2}, AttentionShape{1, 3, 3, 1, 4},
                                         AttentionShape{2, 9, 2, 1, 2}));

// SwiGLU, GeGLU and ReGLU: the gate's activation is silu, gelu or relu.
TEST(ReferenceGradients, GatedLinearUnits) {
  for (Activation act : {Activation::kSilu, Activation::kGelu, Activation::kRelu}) {
    const int64_t N = 3, F = 5;
    Vec h = random_doubles(N * 2 * F, 21, 2.0);
    for (double& v : h) {
      if (std::abs(v) < 1e-3) v = 0.5;  // keep ReLU's kink away from the finite difference
    }
    const Vec dy = random_doubles(N * F, 22);
    auto loss = [&] {
      Vec y(N * F);
      glu_forward(y.data(), h.data(), N, F, act);
      return weighted_sum(y, dy);
    };
    Vec dh(h.size());
    glu_backward(dh.data(), dy.data(), h.data(), N, F, act);
    expect_gradient_matches("dh (" + to_string(act) + ")", h, dh, loss);
  }
  // The gate's activation is applied to the gate half only: act(2) * 3 for gate 2, up 3.
  const Vec h = {2.0, 3.0};
  Vec y(1);
  glu_forward(y.data(), h.data(), 1, 1, Activation::kRelu);
  EXPECT_EQ(y[0], 6.0);
  glu_forward(y.data(), h.data(), 1, 1, Activation::kGelu);
  EXPECT_NEAR(y[0], 3.0 * gelu_tanh(2.0), 1e-15);
}

TEST(ReferenceGradients, MlpActivations) {
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSilu}) {
    Vec x = random_doubles(40, 23, 3.0);
    for (double& v : x) {
      if (std::abs(v) < 1e-3) v = 0.5;  // keep ReLU's kink away from the finite difference
    }
    const Vec dy = random_doubles(40, 24);
    auto loss = [&] {
      Vec y(x.size());
      activation_forward(y.data(), x.data(), static_cast<int64_t>(x.size()), act);
      return weighted_sum(y, dy);
    };
    Vec dx(x.size());
    activation_backward(dx.data(), dy.data(), x.data(), static_cast<int64_t>(x.size()), act);
    expect_gradient_matches(to_string(act), x, dx, loss);
  }
  // GELU is the tanh form: gelu(1) = 0.5 (1 + tanh(sqrt(2/pi) * 1.044715)).
  EXPECT_NEAR(gelu_tanh(1.0), 0.8411919906082768, 1e-15);
}

TEST(ReferenceGradients, CrossEntropyWithANormalizerAndAnIgnoredTarget) {
  const int64_t N = 4, V = 6;
  const std::vector<int32_t> targets = {2, 0, -1, 5};
  const double normalizer = 10;  // e.g. the targets of a whole accumulated step
  Vec logits = random_doubles(N * V, 25, 2.0);
  auto loss = [&] {
    Vec copy = logits, losses(N);
    cross_entropy_forward_backward(losses.data(), copy.data(), targets.data(), N, V, normalizer, LogitGradient::kSkip);
    double total = 0;
    for (double l : losses) total += l;
    return total / normalizer;
  };
  Vec gradient = logits, losses(N);
  cross_entropy_forward_backward(losses.data(), gradient.data(), targets.data(), N, V, normalizer, LogitGradient::kWrite);
  EXPECT_EQ(losses[2], 0.0);
  expect_gradient_matches("dlogits", logits, gradient, loss);
}

TEST(ReferenceGradients, ResidualDropoutIsACopyMaskAndAddInOnePass) {
  const int64_t n = 1000;
  Vec residual(n), x(n);
  for (int64_t i = 0; i < n; ++i) {
    residual[i] = 0.5 + 0.001 * static_cast<double>(i);
    x[i] = 1.0 - 0.002 * static_cast<double>(i);
  }
  for (float rate : {0.0f, 0.3f}) {
    Vec masked = x;
    dropout(masked.data(), n, rate, 77);
    Vec copy(n), sum(n);
    residual_dropout(copy.data(), static_cast<const double*>(nullptr), x.data(), n, rate, 77);
    residual_dropout(sum.data(), residual.data(), x.data(), n, rate, 77);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(copy[i], masked[i]) << i;
      EXPECT_EQ(sum[i], residual[i] + masked[i]) << i;
    }
  }
}

TEST(ReferenceGradients, DropoutIsItsOwnBackwardAndKeepsTheExpectedFraction) {
  const int64_t n = 100000;
  Vec x(n, 1.0);
  dropout(x.data(), n, 0.25f, 1234);
  int64_t kept = 0;
  for (double v : x) {
    if (v != 0.0) {
      ++kept;
      EXPECT_NEAR(v, 1.0 / 0.75, 1e-12);
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.75, 0.01);
  Vec again(n, 1.0);
  dropout(again.data(), n, 0.25f, 1234);
  EXPECT_EQ(x, again);
  Vec other_key(n, 1.0);
  dropout(other_key.data(), n, 0.25f, 1235);
  EXPECT_NE(x, other_key);
}

TEST(ReferenceGradients, AdamWMatchesPyTorchsFormulaOnOneElement) {
  // One decayed element and one not, two steps by hand.
  Vec p = {1.0, 1.0}, m = {0, 0}, v = {0, 0};
  const Vec g = {0.5, 0.5};
  const ParameterSegment segments[] = {{0, 1, true}, {1, 2, false}};
  AdamWHyper hyper{.learning_rate = 0.1, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .step = 1};
  adamw_step(p.data(), g.data(), m.data(), v.data(), segments, 2, hyper, 1.0);
  // Step 1: m_hat = g, v_hat = g^2, update = lr * g / (|g| + eps).
  EXPECT_NEAR(p[0], 1.0 * (1 - 0.1 * 0.1) - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(p[1], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(m[0], 0.05, 1e-15);
  EXPECT_NEAR(v[0], 0.05 * 0.25, 1e-15);
}

}  // namespace
}  // namespace utt::reference
