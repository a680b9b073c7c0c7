// Our own matmul kernels (backend/cpu/gemm) against the reference matmul: fp32 on the same
// operands, bf16 on operands rounded with utt::round_to_bf16 first; every transpose, accumulate
// and bias, sizes below, at and past the block sizes; reproducible bits from run to run.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/bf16.h"
#include "backend/cpu/gemm/gemm.h"
#include "backend/cpu/reference/ops.h"
#include "unit/backend/float_vectors.h"

namespace utt {
namespace {

using test::largest_difference;
using test::largest_magnitude;
using test::random_floats;

using cpu::GemmType;

std::vector<float> rounded_to_bf16(std::vector<float> x) {
  for (float& v : x) v = round_to_bf16(v);
  return x;
}

struct Shape {
  int64_t M, N, K;
};

// 1x1x1 and odd sizes; sizes one past the 14-row / 32-column tiles and the 256 / 512 k-slices;
// more rows than one 168-row block and more columns than one 1024-column block; a real layer
// (the nano preset's qkv for 300 tokens).
const Shape kShapes[] = {{1, 1, 1},     {13, 7, 29},     {3, 515, 17},  {5, 3, 1031},
                         {301, 200, 64}, {64, 33, 130},  {15, 33, 257}, {29, 65, 513},
                         {170, 1030, 40}, {300, 384, 128}};

std::string describe(const Shape& s, Transpose ta, Transpose tb, Accumulate acc, bool bias) {
  return std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K) +
         (ta == Transpose::kYes ? " At" : "") + (tb == Transpose::kYes ? " Bt" : "") +
         (acc == Accumulate::kYes ? " +=" : "") + (bias ? " bias" : "");
}

// Runs gemm and the reference on every shape and option; the reference sees operands already
// rounded when the type is bf16. Tolerance relative to the result's largest magnitude: fp32
// accumulation in a different order, growing like sqrt(K) for bf16's longer sums.
void expect_matches_reference(GemmType type) {
  for (const Shape s : kShapes) {
    const auto a = random_floats(s.M * s.K, 1), b = random_floats(s.K * s.N, 2);
    const auto bias = random_floats(s.N, 3), start = random_floats(s.M * s.N, 4);
    const auto ref_a = type == GemmType::kFp32 ? a : rounded_to_bf16(a);
    const auto ref_b = type == GemmType::kFp32 ? b : rounded_to_bf16(b);
    for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        for (Accumulate acc : {Accumulate::kNo, Accumulate::kYes}) {
          for (bool with_bias : {false, true}) {
            std::vector<float> got = start, expected = start;
            cpu::gemm(got.data(), a.data(), b.data(), with_bias ? bias.data() : nullptr, s.M, s.N, s.K,
                      ta, tb, acc, type);
            reference::matmul(expected.data(), ref_a.data(), ref_b.data(), with_bias ? bias.data() : nullptr,
                              s.M, s.N, s.K, ta, tb, acc);
            const double scale = std::max(1.0, largest_magnitude(expected));
            const double tolerance =
                (type == GemmType::kFp32 ? 2e-5 : 2e-5 * std::sqrt(static_cast<double>(s.K))) * scale;
            EXPECT_LE(largest_difference(got, expected), tolerance) << describe(s, ta, tb, acc, with_bias);
          }
        }
      }
    }
  }
}

TEST(Gemm, Fp32MatchesTheReference) { expect_matches_reference(GemmType::kFp32); }

TEST(Gemm, Bf16MatchesTheReferenceOnRoundedOperands) { expect_matches_reference(GemmType::kBf16); }

TEST(Gemm, Bf16DotProductMatchesTheReferenceOnRoundedOperands) {
  expect_matches_reference(GemmType::kBf16DotProduct);
}

TEST(Gemm, Bf16RoundsOperandsAndNotJustTheResult) {
  // 1 + 2^-9 is not a bf16 (7 mantissa bits): rounded to 1 (a tie, to even) before multiplying.
  const float a = 1.0f + 1.0f / 512, b = 3.0f;
  float c = 0;
  cpu::gemm(&c, &a, &b, nullptr, 1, 1, 1, Transpose::kNo, Transpose::kNo, Accumulate::kNo, GemmType::kBf16);
  EXPECT_EQ(c, 3.0f);
  cpu::gemm(&c, &a, &b, nullptr, 1, 1, 1, Transpose::kNo, Transpose::kNo, Accumulate::kNo, GemmType::kFp32);
  EXPECT_EQ(c, a * b);
}

// Multiplying by 1 (exact in bf16) with K = 1 exposes each rounded operand, for both packing
// directions of a (k-contiguous and row-contiguous).
void expect_rounding_as_float_to_bf16(GemmType type, uint32_t first_bits) {
  std::vector<float> values;
  for (uint64_t bits = first_bits; bits < 0x7F800000u; bits += 997) {
    values.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
    values.push_back(-std::bit_cast<float>(static_cast<uint32_t>(bits)));
  }
  for (float special : {0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::max(), std::numeric_limits<float>::quiet_NaN()}) {
    values.push_back(special);
  }
  const auto n = static_cast<int64_t>(values.size());
  const float one = 1.0f;
  std::vector<float> out(values.size());
  for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
    cpu::gemm(out.data(), values.data(), &one, nullptr, n, 1, 1, ta, Transpose::kNo, Accumulate::kNo, type);
    int64_t mismatches = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      const float expected = round_to_bf16(values[i]);
      // -0 comes out as +0 (0 + -0), NaN as some NaN; everything else bit for bit.
      mismatches += std::isnan(expected)  ? !std::isnan(out[i])
                    : expected == 0.0f    ? out[i] != 0.0f
                                          : std::bit_cast<uint32_t>(out[i]) != std::bit_cast<uint32_t>(expected);
    }
    EXPECT_EQ(mismatches, 0) << (ta == Transpose::kYes ? "At" : "A");
  }
}

TEST(Gemm, Bf16RoundsExactlyAsFloatToBf16SubnormalsAndSpecialsIncluded) {
  // Every 997th bit pattern of the positive floats below infinity, and their negatives.
  expect_rounding_as_float_to_bf16(GemmType::kBf16, 0);
}

TEST(Gemm, Bf16DotProductRoundsAsFloatToBf16ExceptSubnormals) {
  // vcvtne2ps2bf16 flushes subnormals to zero (gemm.h): checked from the smallest normal up.
  expect_rounding_as_float_to_bf16(GemmType::kBf16DotProduct, 0x00800000u);
}

TEST(Gemm, ResultsAreTheSameBitsOnEveryRunAndThreadCount) {
  const Shape s{300, 200, 600};  // several row blocks, k-slices and tiles, one ragged edge each
  const auto a = random_floats(s.M * s.K, 5), b = random_floats(s.K * s.N, 6);
  for (GemmType type : {GemmType::kFp32, GemmType::kBf16, GemmType::kBf16DotProduct}) {
    std::vector<std::vector<float>> results;
    const int threads_before = omp_get_max_threads();
    for (int threads : {2, 2, 1}) {
      omp_set_num_threads(threads);
      std::vector<float> c(static_cast<size_t>(s.M * s.N));
      cpu::gemm(c.data(), a.data(), b.data(), nullptr, s.M, s.N, s.K, Transpose::kYes, Transpose::kNo,
                Accumulate::kNo, type);
      results.push_back(c);
    }
    omp_set_num_threads(threads_before);
    EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(results[0].data(), results[2].data(), results[0].size() * sizeof(float)), 0);
  }
}

}  // namespace
}  // namespace utt
