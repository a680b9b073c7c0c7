// The CUDA kernels' arithmetic, run on the CPU: the per-element and per-row functions the kernels
// call (backend/cuda/elementwise_math.h, row_math.h), executed here in plain loops, lane by lane
// for the row kernels with the warp's butterfly order, against the reference kernels. This runs on
// every machine; what it cannot show (launch shapes, memory access, the shuffles themselves) is
// the op registry's job on a GPU (op_registry_test.cpp, scripts/gpu-check).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "backend/cpu/reference/ops.h"
#include "backend/cuda/attention_math.h"
#include "backend/cuda/elementwise_math.h"
#include "backend/cuda/row_math.h"
#include "unit/backend/document_positions.h"
#include "unit/backend/float_vectors.h"

namespace utt {
namespace {

using cuda_math::kWarpLanes;
using test::largest_difference;
using test::packed_document_positions;
using test::largest_magnitude;
using test::random_floats;

// fp32 arithmetic against the double-accumulating reference (op_registry_test.cpp's fp32 bound).
constexpr double kTolerance = 2e-5;

constexpr std::pair<int64_t, int64_t> kRowShapes[] = {{1, 1}, {3, 13}, {5, 200}, {4, 1031}, {2, 4096}};

int code(Activation act) {
  return act == Activation::kRelu ? cuda_math::kRelu : act == Activation::kGelu ? cuda_math::kGelu : cuda_math::kSilu;
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, const char* what) {
  EXPECT_LE(largest_difference(actual, expected), kTolerance * std::max(largest_magnitude(expected), 1e-30)) << what;
}

// The kernel's reduction of one row: each lane's partial, combined as the shuffles combine them.
template <typename LanePartial>
float warp_reduce_sum(LanePartial partial) {
  float lanes[kWarpLanes];
  for (int lane = 0; lane < kWarpLanes; ++lane) lanes[lane] = partial(lane);
  return cuda_math::butterfly_sum_host(lanes);
}

TEST(CudaKernelMath, ActivationsAndTheirDerivativesMatchTheReference) {
  const std::vector<float> x = random_floats(5000, 1, 4.0f);
  const std::vector<float> ones(x.size(), 1.0f);
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSilu}) {
    std::vector<float> expected(x.size()), expected_derivative(x.size()), actual(x.size()), derivative(x.size());
    reference::activation_forward(expected.data(), x.data(), static_cast<int64_t>(x.size()), act);
    reference::activation_backward(expected_derivative.data(), ones.data(), x.data(), static_cast<int64_t>(x.size()), act);
    for (size_t i = 0; i < x.size(); ++i) {
      actual[i] = cuda_math::activate(x[i], code(act));
      derivative[i] = cuda_math::activate_derivative(x[i], code(act));
    }
    expect_close(actual, expected, "activation");
    expect_close(derivative, expected_derivative, "activation derivative");
  }
}

TEST(CudaKernelMath, GatedUnitsMatchTheReference) {
  const int64_t N = 7, F = 131;
  const std::vector<float> h = random_floats(N * 2 * F, 2, 2.0f), dout = random_floats(N * F, 3);
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSilu}) {
    std::vector<float> expected(N * F), out(N * F), expected_dh(N * 2 * F), dh(N * 2 * F);
    reference::glu_forward(expected.data(), h.data(), N, F, act);
    reference::glu_backward(expected_dh.data(), dout.data(), h.data(), N, F, act);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t f = 0; f < F; ++f) {
        out[n * F + f] = cuda_math::glu_value(h.data(), n, f, F, code(act));
        cuda_math::glu_gradients(&dh[n * 2 * F + f], &dh[n * 2 * F + F + f], dout[n * F + f], h[n * 2 * F + f],
                                 h[n * 2 * F + F + f], code(act));
      }
    }
    expect_close(out, expected, "glu forward");
    expect_close(dh, expected_dh, "glu backward");
  }
}

TEST(CudaKernelMath, DropoutDropsExactlyTheElementsTheCpuDrops) {
  const int64_t n = 20001;
  const std::vector<float> x = random_floats(n, 4);
  for (const float rate : {0.0f, 0.1f, 0.5f, 0.9f}) {
    std::vector<float> expected = x;
    reference::dropout(expected.data(), n, rate, 77);
    const float keep_scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(cuda_math::dropped(x[i], 77, i, rate, keep_scale), expected[i]) << "element " << i << ", rate " << rate;
    }
  }
}

TEST(CudaKernelMath, RopeTableAndRotationsMatchTheReference) {
  const int64_t B = 2, T = 37, heads = 3, HS = 16, stride = 53, half = HS / 2;
  std::vector<float> cos_ref(T * half), sin_ref(T * half), cos_table(T * half), sin_table(T * half);
  reference::rope_table(cos_ref.data(), sin_ref.data(), T, HS, 10000.0);
  for (int64_t k = 0; k < T * half; ++k) {
    const double angle = cuda_math::rope_angle(k / half, k % half, HS, 10000.0);
    cos_table[k] = static_cast<float>(std::cos(angle));
    sin_table[k] = static_cast<float>(std::sin(angle));
  }
  EXPECT_EQ(cos_table, cos_ref);
  EXPECT_EQ(sin_table, sin_ref);
  const std::vector<float> x = random_floats(B * T * stride, 19);
  for (const int direction : {1, -1}) {
    std::vector<float> expected = x, rotated = x;
    reference::rope_rotate(expected.data(), cos_ref.data(), sin_ref.data(), B, T, heads, HS, stride, direction);
    for (int64_t n = 0; n < B * T; ++n) {
      for (int64_t h = 0; h < heads; ++h) {
        float* head = rotated.data() + n * stride + h * HS;
        for (int64_t i = 0; i < half; ++i) {
          cuda_math::rope_rotate_pair(&head[i], &head[i + half], cos_table[(n % T) * half + i],
                                      sin_table[(n % T) * half + i], direction);
        }
      }
    }
    EXPECT_EQ(rotated, expected) << "direction " << direction;  // the same double arithmetic
  }
}

TEST(CudaKernelMath, AdamWElementMatchesTheReference) {
  const int64_t n = 3001;
  std::vector<float> params = random_floats(n, 5), m = random_floats(n, 6, 0.1f), v = random_floats(n, 7, 0.01f);
  for (float& x : v) x = x * x;
  const std::vector<float> grads = random_floats(n, 8);
  const ParameterSegment segments[] = {{0, 100, true}, {100, n, false}};
  for (const int64_t step : {int64_t{1}, int64_t{9}}) {
    AdamWHyper hyper;
    hyper.learning_rate = 3e-3;
    hyper.weight_decay = 0.1;
    hyper.step = step;
    std::vector<float> p_ref = params, m_ref = m, v_ref = v, p = params, m_new = m, v_new = v;
    reference::adamw_step(p_ref.data(), grads.data(), m_ref.data(), v_ref.data(), segments, 2, hyper, 0.5);
    // The constants as CudaBackend::adamw_step computes them.
    const cuda_math::AdamWConstants k{
        3e-3f, 0.9f, static_cast<float>(1.0 - 0.9), 0.95f, static_cast<float>(1.0 - 0.95),
        static_cast<float>(1.0 / (1.0 - std::pow(0.9, static_cast<double>(step)))),
        static_cast<float>(1.0 / (1.0 - std::pow(0.95, static_cast<double>(step)))), 1e-8f, 0.5f};
    for (const ParameterSegment& s : segments) {
      const float decay = s.decay ? static_cast<float>(1.0 - 3e-3 * 0.1) : 1.0f;
      for (int64_t i = s.begin; i < s.end; ++i) cuda_math::adamw_element(&p[i], &m_new[i], &v_new[i], grads[i], decay, k);
    }
    expect_close(p, p_ref, "params");
    expect_close(m_new, m_ref, "first moment");
    expect_close(v_new, v_ref, "second moment");
  }
}

TEST(CudaKernelMath, RmsnormRowsMatchTheReference) {
  for (const auto& [N, C] : kRowShapes) {
    const std::vector<float> x = random_floats(N * C, 9, 2.0f), w = random_floats(C, 10), dout = random_floats(N * C, 11);
    std::vector<float> expected(N * C), expected_rstd(N), out(N * C), rstd(N);
    reference::rmsnorm_forward(expected.data(), expected_rstd.data(), x.data(), w.data(), N, C, 1e-5);
    std::vector<float> expected_dx = random_floats(N * C, 12), dx = expected_dx, unused_dweight(C);
    reference::rmsnorm_backward(expected_dx.data(), unused_dweight.data(), dout.data(), x.data(), w.data(),
                                expected_rstd.data(), N, C);
    for (int64_t n = 0; n < N; ++n) {
      const float* row = x.data() + n * C;
      const float* drow = dout.data() + n * C;
      const float sum_of_squares = warp_reduce_sum([&](int lane) { return cuda_math::lane_sum_of_squares(row, C, lane); });
      rstd[n] = cuda_math::rms_rstd(sum_of_squares, C, 1e-5f);
      for (int64_t c = 0; c < C; ++c) out[n * C + c] = row[c] * rstd[n] * w[c];
      const float mean_g_dot_x =
          warp_reduce_sum([&](int lane) { return cuda_math::lane_rms_g_dot_x(drow, row, w.data(), C, lane); }) /
          static_cast<float>(C);
      for (int64_t c = 0; c < C; ++c) dx[n * C + c] += cuda_math::rms_dx(drow[c], row[c], w[c], rstd[n], mean_g_dot_x);
    }
    expect_close(out, expected, "rmsnorm out");
    expect_close(rstd, expected_rstd, "rmsnorm rstd");
    expect_close(dx, expected_dx, "rmsnorm dx");
  }
}

TEST(CudaKernelMath, LayernormRowsMatchTheReference) {
  for (const auto& [N, C] : kRowShapes) {
    std::vector<float> x = random_floats(N * C, 13, 3.0f);
    for (float& v : x) v += 5.0f;
    const std::vector<float> w = random_floats(C, 14), b = random_floats(C, 15), dout = random_floats(N * C, 16);
    std::vector<float> expected(N * C), expected_mean(N), expected_rstd(N), out(N * C), mean(N), rstd(N);
    reference::layernorm_forward(expected.data(), expected_mean.data(), expected_rstd.data(), x.data(), w.data(),
                                 b.data(), N, C, 1e-5);
    std::vector<float> expected_dx = random_floats(N * C, 17), dx = expected_dx, unused_dw(C), unused_db(C);
    reference::layernorm_backward(expected_dx.data(), unused_dw.data(), unused_db.data(), dout.data(), x.data(),
                                  w.data(), expected_mean.data(), expected_rstd.data(), N, C);
    for (int64_t n = 0; n < N; ++n) {
      const float* row = x.data() + n * C;
      const float* drow = dout.data() + n * C;
      mean[n] = warp_reduce_sum([&](int lane) { return cuda_math::lane_sum(row, C, lane); }) / static_cast<float>(C);
      const float variance =
          warp_reduce_sum([&](int lane) { return cuda_math::lane_centered_squares(row, mean[n], C, lane); }) /
          static_cast<float>(C);
      rstd[n] = 1.0f / std::sqrt(variance + 1e-5f);
      for (int64_t c = 0; c < C; ++c) out[n * C + c] = (row[c] - mean[n]) * rstd[n] * w[c] + b[c];
      float g_sums[kWarpLanes], g_dots[kWarpLanes];
      for (int lane = 0; lane < kWarpLanes; ++lane) {
        cuda_math::lane_layernorm_sums(&g_sums[lane], &g_dots[lane], drow, row, w.data(), mean[n], rstd[n], C, lane);
      }
      const float g_mean = cuda_math::butterfly_sum_host(g_sums) / static_cast<float>(C);
      const float g_dot_xhat_mean = cuda_math::butterfly_sum_host(g_dots) / static_cast<float>(C);
      for (int64_t c = 0; c < C; ++c) {
        dx[n * C + c] += cuda_math::layernorm_dx(drow[c], row[c], w[c], mean[n], rstd[n], g_mean, g_dot_xhat_mean);
      }
    }
    expect_close(out, expected, "layernorm out");
    expect_close(mean, expected_mean, "layernorm mean");
    expect_close(rstd, expected_rstd, "layernorm rstd");
    expect_close(dx, expected_dx, "layernorm dx");
  }
}

TEST(CudaKernelMath, CrossEntropyRowsMatchTheReference) {
  for (const auto& [N, V] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {4, 1031}, {2, 50257}}) {
    const std::vector<float> logits = random_floats(N * V, 18, 4.0f);
    std::vector<int32_t> targets(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) targets[static_cast<size_t>(n)] = static_cast<int32_t>((n * 13) % V);
    std::vector<float> expected_losses(N), expected_gradient = logits, losses(N), gradient = logits;
    reference::cross_entropy_forward_backward(expected_losses.data(), expected_gradient.data(), targets.data(), N, V,
                                              7.0, LogitGradient::kWrite);
    for (int64_t n = 0; n < N; ++n) {
      const float* row = logits.data() + n * V;
      float lanes[kWarpLanes];
      for (int lane = 0; lane < kWarpLanes; ++lane) lanes[lane] = cuda_math::lane_max(row, V, lane);
      const float largest = cuda_math::butterfly_max_host(lanes);
      const float log_sum_exp =
          largest + std::log(warp_reduce_sum([&](int lane) { return cuda_math::lane_sum_exp(row, largest, V, lane); }));
      losses[n] = log_sum_exp - row[targets[n]];
      for (int64_t v = 0; v < V; ++v) {
        gradient[n * V + v] = cuda_math::cross_entropy_gradient(row[v], log_sum_exp, v == targets[n], 7.0f);
      }
    }
    expect_close(losses, expected_losses, "losses");
    expect_close(gradient, expected_gradient, "logit gradient");
  }
}

// A dot product as the attention kernels form it: lane partials, then the butterfly.
float warp_dot(const float* a, const float* b, int64_t HS) {
  return warp_reduce_sum([&](int lane) { return cuda_math::lane_dot(a, b, HS, lane); });
}

// One query row's online softmax over keys [0, count), every lane's state advanced in turn, as the
// warp advances them together; returns the lanes' states.
std::vector<cuda_math::OnlineSoftmax> softmax_row(const float* q, int64_t count, int64_t HS, float scale,
                                                  const std::function<const float*(int64_t)>& key,
                                                  const std::function<const float*(int64_t)>& value) {
  std::vector<cuda_math::OnlineSoftmax> lanes(kWarpLanes);
  for (int64_t s = 0; s < count; ++s) {
    const float score = warp_dot(q, key(s), HS) * scale;
    for (int lane = 0; lane < kWarpLanes; ++lane) cuda_math::online_softmax_add(&lanes[lane], score, value(s), HS, lane);
  }
  return lanes;
}

// Writes the output row the kernel writes from its lanes' slots.
void write_row(float* out, const std::vector<cuda_math::OnlineSoftmax>& lanes, int64_t HS) {
  for (int lane = 0; lane < kWarpLanes; ++lane) {
    int slot = 0;
    for (int64_t d = lane; d < HS; d += kWarpLanes, ++slot) out[d] = lanes[lane].acc[slot] / lanes[lane].sum;
  }
}

// With document masking the kernels visit keys first_visible_key(t) .. t of each query row, and
// each key row's queries until the first of a later document: the same loops, run here.
TEST(CudaKernelMath, FlashAttentionRowsForwardAndBackwardMatchTheReference) {
  struct Shape { int64_t B, T, NH, KVH, HS; };
  for (const Shape sh : {Shape{1, 1, 1, 1, 4}, Shape{2, 9, 4, 2, 8}, Shape{1, 40, 2, 1, 80}}) {
    for (const bool documents : {false, true}) {
      SCOPED_TRACE(documents ? "documents" : "one sequence per row");
      const std::vector<int32_t> packed = packed_document_positions(sh.B, sh.T);
      const int32_t* doc_pos = documents ? packed.data() : nullptr;
      const cuda_math::QkvLayout L{sh.T, sh.NH, sh.KVH, sh.HS};
      const int64_t N = sh.B * sh.T, width = L.row_stride(), HS = sh.HS;
      const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
      const std::vector<float> qkv = random_floats(N * width, 20), dout = random_floats(N * sh.NH * HS, 21);
      std::vector<float> expected_out(N * sh.NH * HS), expected_lse(sh.B * sh.NH * sh.T), expected_dqkv(N * width);
      reference::attention_forward(expected_out.data(), expected_lse.data(), qkv.data(), doc_pos, sh.B, sh.T, sh.NH,
                                   sh.KVH, HS);
      reference::attention_backward(expected_dqkv.data(), dout.data(), qkv.data(), expected_out.data(),
                                    expected_lse.data(), doc_pos, sh.B, sh.T, sh.NH, sh.KVH, HS);
      std::vector<float> out(expected_out.size()), lse(expected_lse.size()), dqkv(expected_dqkv.size());
      // Forward: attention_forward_kernel's rows.
      for (int64_t b = 0; b < sh.B; ++b) {
        for (int64_t h = 0; h < sh.NH; ++h) {
          for (int64_t t = 0; t < sh.T; ++t) {
            const int64_t kvh = L.kv_head(h);
            const int64_t first = cuda_math::first_visible_key(doc_pos, b, sh.T, t);
            const auto lanes = softmax_row(
                qkv.data() + L.q(b, t, h), t + 1 - first, HS, scale,
                [&](int64_t s) { return qkv.data() + L.k(b, first + s, kvh); },
                [&](int64_t s) { return qkv.data() + L.v(b, first + s, kvh); });
            write_row(out.data() + (b * sh.T + t) * sh.NH * HS + h * HS, lanes, HS);
            lse[(b * sh.NH + h) * sh.T + t] = cuda_math::online_softmax_lse(lanes[0]);
          }
        }
      }
      expect_close(out, expected_out, "attention out");
      expect_close(lse, expected_lse, "attention lse");
      // Backward: attention_dq_kernel<false>'s query rows, then attention_dkv_kernel<false>'s key rows.
      const auto dout_row = [&](int64_t b, int64_t t, int64_t h) { return dout.data() + (b * sh.T + t) * sh.NH * HS + h * HS; };
      const auto out_row = [&](int64_t b, int64_t t, int64_t h) { return out.data() + (b * sh.T + t) * sh.NH * HS + h * HS; };
      for (int64_t b = 0; b < sh.B; ++b) {
        for (int64_t h = 0; h < sh.NH; ++h) {
          for (int64_t t = 0; t < sh.T; ++t) {
            const int64_t kvh = L.kv_head(h), row = (b * sh.NH + h) * sh.T + t;
            const float D = warp_dot(dout_row(b, t, h), out_row(b, t, h), HS);
            std::vector<float> dq(HS, 0.0f);
            for (int64_t s = cuda_math::first_visible_key(doc_pos, b, sh.T, t); s <= t; ++s) {
              const float p = std::exp(warp_dot(qkv.data() + L.q(b, t, h), qkv.data() + L.k(b, s, kvh), HS) * scale - lse[row]);
              const float ds = cuda_math::score_gradient(p, warp_dot(dout_row(b, t, h), qkv.data() + L.v(b, s, kvh), HS), D);
              for (int64_t d = 0; d < HS; ++d) dq[d] += ds * qkv[L.k(b, s, kvh) + d];
            }
            for (int64_t d = 0; d < HS; ++d) dqkv[L.q(b, t, h) + d] = dq[d] * scale;
          }
        }
        for (int64_t kvh = 0; kvh < sh.KVH; ++kvh) {
          for (int64_t s = 0; s < sh.T; ++s) {
            std::vector<float> dk(HS, 0.0f), dv(HS, 0.0f);
            const int64_t group = sh.NH / sh.KVH;
            for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
              for (int64_t t = s; t < sh.T && cuda_math::first_visible_key(doc_pos, b, sh.T, t) <= s; ++t) {
                const int64_t row = (b * sh.NH + h) * sh.T + t;
                const float p = std::exp(warp_dot(qkv.data() + L.q(b, t, h), qkv.data() + L.k(b, s, kvh), HS) * scale - lse[row]);
                const float D = warp_dot(dout_row(b, t, h), out_row(b, t, h), HS);
                const float ds = cuda_math::score_gradient(p, warp_dot(dout_row(b, t, h), qkv.data() + L.v(b, s, kvh), HS), D);
                for (int64_t d = 0; d < HS; ++d) {
                  dk[d] += ds * qkv[L.q(b, t, h) + d];
                  dv[d] += p * dout_row(b, t, h)[d];
                }
              }
            }
            for (int64_t d = 0; d < HS; ++d) {
              dqkv[L.k(b, s, kvh) + d] = dk[d] * scale;
              dqkv[L.v(b, s, kvh) + d] = dv[d];
            }
          }
        }
      }
      expect_close(dqkv, expected_dqkv, "attention dqkv");
    }
  }
}

TEST(CudaKernelMath, DecodeAttentionRowsMatchTheReference) {
  const int64_t B = 2, length = 37, capacity = 40, NH = 4, KVH = 2, HS = 40, q_stride = NH * HS + 3;
  const std::vector<float> q = random_floats(B * q_stride, 22), k = random_floats(B * capacity * KVH * HS, 23),
                           v = random_floats(B * capacity * KVH * HS, 24);
  std::vector<float> expected(B * NH * HS), out(B * NH * HS);
  reference::decode_attention(expected.data(), q.data(), q_stride, k.data(), v.data(), B, length, capacity, NH, KVH, HS);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t kvh = h / (NH / KVH);
      const auto at = [&](int64_t s) { return (b * capacity + s) * KVH * HS + kvh * HS; };
      const auto lanes = softmax_row(
          q.data() + b * q_stride + h * HS, length, HS, 1.0f / std::sqrt(static_cast<float>(HS)),
          [&](int64_t s) { return k.data() + at(s); }, [&](int64_t s) { return v.data() + at(s); });
      write_row(out.data() + (b * NH + h) * HS, lanes, HS);
    }
  }
  expect_close(out, expected, "decode attention");
}

}  // namespace
}  // namespace utt
