// Decode attention (one new position against a key/value cache): the optimized CPU kernel
// against the reference on awkward sizes, through backend memory (allocate, upload, download);
// and the reference against the last row of the causal attention it stands for.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference/ops.h"
#include "unit/backend/float_vectors.h"

namespace utt {
namespace {

using test::random_floats;

// float kernel (online softmax over key blocks, fast exp) vs the double-accumulating reference,
// relative to the largest output: the same bound as the other kernels' tests.
constexpr double kTolerance = 2e-5;

struct DecodeShape {
  int64_t B, length, NH, KVH, HS;
  std::string name() const {
    return "B " + std::to_string(B) + " length " + std::to_string(length) + " NH " + std::to_string(NH) +
           " KVH " + std::to_string(KVH) + " HS " + std::to_string(HS);
  }
};

// The cache holds more rows than are filled; the unfilled ones hold NaN, so an output that read
// any of them would be NaN. Queries sit in rows wider than NH * HS (as in a qkv row), the rest NaN.
struct DecodeInputs {
  int64_t capacity, q_stride;
  std::vector<float> q, k_cache, v_cache;
  explicit DecodeInputs(const DecodeShape& s)
      : capacity(s.length + 3), q_stride(s.NH * s.HS + 2 * s.KVH * s.HS) {
    constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
    q = random_floats(s.B * q_stride, 41, 2.0f);
    for (int64_t b = 0; b < s.B; ++b) std::fill(q.begin() + b * q_stride + s.NH * s.HS, q.begin() + (b + 1) * q_stride, kNaN);
    const int64_t kv_width = s.KVH * s.HS;
    k_cache = random_floats(s.B * capacity * kv_width, 42, 2.0f);
    v_cache = random_floats(s.B * capacity * kv_width, 43);
    for (int64_t b = 0; b < s.B; ++b) {
      for (std::vector<float>* cache : {&k_cache, &v_cache}) {
        std::fill(cache->begin() + (b * capacity + s.length) * kv_width, cache->begin() + (b + 1) * capacity * kv_width,
                  kNaN);
      }
    }
  }
};

// Runs the op on `backend` through buffers of its own and returns the output.
std::vector<float> run_decode_attention(Backend& backend, const DecodeShape& s, const DecodeInputs& in) {
  BackendBuffer<float> q(backend, static_cast<int64_t>(in.q.size()));
  BackendBuffer<float> k(backend, static_cast<int64_t>(in.k_cache.size()));
  BackendBuffer<float> v(backend, static_cast<int64_t>(in.v_cache.size()));
  BackendBuffer<float> out(backend, s.B * s.NH * s.HS);
  backend.upload(q.get(), in.q.data(), q.count());
  backend.upload(k.get(), in.k_cache.data(), k.count());
  backend.upload(v.get(), in.v_cache.data(), v.count());
  backend.fill(out.get(), std::numeric_limits<float>::quiet_NaN(), out.count());  // overwritten
  backend.decode_attention(out.get(), q.get(), in.q_stride, k.get(), v.get(), s.B, s.length, in.capacity, s.NH,
                           s.KVH, s.HS);
  std::vector<float> result(static_cast<size_t>(out.count()));
  backend.download(result.data(), out.get(), out.count());
  return result;
}

// Lengths below, at and across the kernel's 128-key blocks; head sizes that are not whole vectors;
// plain, grouped (3 and 12 query heads per kv head: more than one task's 8) and multi-query heads;
// several sequences; sizes large enough for the threaded path.
TEST(DecodeAttention, OptimizedKernelMatchesTheReferenceOnAwkwardSizes) {
  const std::unique_ptr<Backend> optimized = make_cpu_backend({.reference_mode = false, .threads = 2});
  const std::unique_ptr<Backend> reference = make_cpu_backend({.reference_mode = true});
  for (const int64_t length : {1, 2, 7, 127, 128, 129, 300}) {
    for (const int64_t HS : {1, 5, 16, 33, 64}) {
      for (const DecodeShape s : {DecodeShape{1, length, 1, 1, HS}, DecodeShape{3, length, 6, 2, HS},
                                  DecodeShape{1, length, 8, 1, HS}, DecodeShape{2, length, 12, 1, HS},
                                  DecodeShape{1, length, 3, 3, HS}}) {
        const DecodeInputs inputs(s);
        const std::vector<float> expected = run_decode_attention(*reference, s, inputs);
        const std::vector<float> actual = run_decode_attention(*optimized, s, inputs);
        const double largest = test::largest_magnitude(expected);
        ASSERT_TRUE(std::isfinite(largest)) << s.name();
        EXPECT_LE(test::largest_difference(actual, expected), kTolerance * largest) << s.name();
      }
    }
  }
}

// The op's meaning: the attention output of the newest position of a causal attention over the
// same rows, with the keys and values moved out of the qkv rows into a position-major cache.
TEST(DecodeAttention, EqualsTheLastRowOfCausalAttention) {
  for (const DecodeShape s : {DecodeShape{1, 1, 2, 1, 4}, DecodeShape{2, 9, 4, 2, 3}, DecodeShape{1, 70, 6, 3, 8}}) {
    const int64_t T = s.length;
    const int64_t width = (s.NH + 2 * s.KVH) * s.HS;
    const int64_t kv_width = s.KVH * s.HS;
    std::vector<double> qkv(static_cast<size_t>(s.B * T * width));
    const std::vector<float> values = random_floats(static_cast<int64_t>(qkv.size()), 44, 1.5f);
    std::copy(values.begin(), values.end(), qkv.begin());
    std::vector<double> causal(static_cast<size_t>(s.B * T * s.NH * s.HS));
    std::vector<double> lse(static_cast<size_t>(s.B * s.NH * T));
    reference::attention_forward(causal.data(), lse.data(), qkv.data(), nullptr, s.B, T, s.NH, s.KVH, s.HS);

    std::vector<double> k_cache(static_cast<size_t>(s.B * T * kv_width)), v_cache(k_cache.size());
    for (int64_t row = 0; row < s.B * T; ++row) {
      const double* from = qkv.data() + row * width + s.NH * s.HS;
      std::copy(from, from + kv_width, k_cache.begin() + row * kv_width);
      std::copy(from + kv_width, from + 2 * kv_width, v_cache.begin() + row * kv_width);
    }
    std::vector<double> decoded(static_cast<size_t>(s.B * s.NH * s.HS));
    // The newest position's query row of each sequence; the rows between are skipped by the stride.
    reference::decode_attention(decoded.data(), qkv.data() + (T - 1) * width, T * width, k_cache.data(),
                                v_cache.data(), s.B, T, T, s.NH, s.KVH, s.HS);
    for (int64_t b = 0; b < s.B; ++b) {
      for (int64_t i = 0; i < s.NH * s.HS; ++i) {
        EXPECT_NEAR(decoded[static_cast<size_t>(b * s.NH * s.HS + i)],
                    causal[static_cast<size_t>(((b * T) + T - 1) * s.NH * s.HS + i)], 1e-12)
            << s.name() << " sequence " << b << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace utt
