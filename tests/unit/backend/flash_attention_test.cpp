// The tensor-core flash attention's logic on the CPU (backend/cuda/flash_attention_math.h run by
// the host executor of flash_attention_emulation.h): the m16n8k16 fragment layouts against the PTX
// ISA's tables, and the forward and backward block programs, lane by lane with bf16 rounding,
// against the reference attention on odd lengths, grouped-query heads, both head sizes and
// document masks. The kernels themselves (the same code on a GPU) are the op registry's job:
// op_registry_test.cpp's FlashAttention cases, skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/reference/ops.h"
#include "backend/cuda/flash_attention_emulation.h"
#include "unit/backend/float_vectors.h"
#include "unit/backend/masked_attention.h"

namespace utt {
namespace {

using flash::a_col;
using flash::a_row;
using flash::b_col;
using flash::b_row;
using flash::c_col;
using flash::c_row;
using test::document_positions;
using test::Expected;
using test::masked_attention;
using test::random_floats;
using test::relative_error;
using test::Shape;

constexpr int kLanes = 32;

// ---- fragment layouts ------------------------------------------------------------------------

// Entries copied by hand from the PTX ISA's figures for mma.m16n8k16 (.bf16 A and B, .f32 C):
// {lane, element, row, col}.
struct Placement { int lane, element, row, col; };
constexpr Placement kAFigure[] = {{0, 0, 0, 0}, {0, 1, 0, 1}, {0, 2, 8, 0}, {0, 4, 0, 8}, {0, 7, 8, 9},
                                  {5, 0, 1, 2}, {31, 0, 7, 6}, {31, 3, 15, 7}, {31, 5, 7, 15}, {31, 6, 15, 14}};
constexpr Placement kBFigure[] = {{0, 0, 0, 0}, {0, 1, 1, 0}, {0, 2, 8, 0}, {3, 3, 15, 0}, {4, 0, 0, 1}, {31, 3, 15, 7}};
constexpr Placement kCFigure[] = {{0, 0, 0, 0}, {0, 1, 0, 1}, {0, 2, 8, 0}, {1, 0, 0, 2}, {31, 1, 7, 7}, {31, 3, 15, 7}};

TEST(FlashFragments, LayoutsFollowThePtxIsaFigures) {
  for (const Placement& p : kAFigure) {
    EXPECT_EQ(a_row(p.lane, p.element), p.row) << "A lane " << p.lane << " a" << p.element;
    EXPECT_EQ(a_col(p.lane, p.element), p.col) << "A lane " << p.lane << " a" << p.element;
  }
  for (const Placement& p : kBFigure) {
    EXPECT_EQ(b_row(p.lane, p.element), p.row) << "B lane " << p.lane << " b" << p.element;
    EXPECT_EQ(b_col(p.lane, p.element), p.col) << "B lane " << p.lane << " b" << p.element;
  }
  for (const Placement& p : kCFigure) {
    EXPECT_EQ(c_row(p.lane, p.element), p.row) << "C lane " << p.lane << " c" << p.element;
    EXPECT_EQ(c_col(p.lane, p.element), p.col) << "C lane " << p.lane << " c" << p.element;
  }
}

TEST(FlashFragments, EveryElementOfEachMatrixBelongsToExactlyOneLane) {
  int a[16][16] = {}, b[16][8] = {}, c[16][8] = {};
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int i = 0; i < 8; ++i) ++a[a_row(lane, i)][a_col(lane, i)];
    for (int i = 0; i < 4; ++i) ++b[b_row(lane, i)][b_col(lane, i)];
    for (int i = 0; i < 4; ++i) ++c[c_row(lane, i)][c_col(lane, i)];
  }
  for (int r = 0; r < 16; ++r) {
    for (int col = 0; col < 16; ++col) EXPECT_EQ(a[r][col], 1) << "A " << r << "," << col;
    for (int col = 0; col < 8; ++col) {
      EXPECT_EQ(b[r][col], 1) << "B " << r << "," << col;
      EXPECT_EQ(c[r][col], 1) << "C " << r << "," << col;
    }
  }
}

// A tile of bf16 from floats, with the kernels' padded stride.
struct HostTile {
  std::vector<uint16_t> bits;
  flash::Bf16Tile tile;
  HostTile(const std::vector<float>& values, int rows, int cols)
      : bits(static_cast<size_t>(rows * (cols + flash::kPad))), tile{nullptr, cols + flash::kPad} {
    tile.data = bits.data();
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) *tile.at(r, c) = flash::bf16_bits(values[static_cast<size_t>(r * cols + c)]);
  }
  float value(int r, int c) const { return flash::bf16_value(*tile.at(r, c)); }
};

// The loads, the emulated instruction and the C-to-A reuse together compute plain products.
TEST(FlashFragments, TileLoadsAndTheEmulatedMmaComputeAPlainProduct) {
  const int M = 16, K = 32, N = 16;
  const HostTile a(random_floats(M * K, 1), M, K);    // A (M x K) row-major
  const HostTile bt(random_floats(N * K, 2), N, K);   // B (K x N) held transposed
  float c[N / 8][kLanes][4] = {};
  flash::mma_tiles<flash::HostExec, K, N>(c, a.tile, 0, bt.tile);
  for (int n = 0; n < N / 8; ++n)
    for (int lane = 0; lane < kLanes; ++lane)
      for (int i = 0; i < 4; ++i) {
        const int row = c_row(lane, i), col = n * 8 + c_col(lane, i);
        double expected = 0;
        for (int k = 0; k < K; ++k) expected += static_cast<double>(a.value(row, k)) * bt.value(col, k);
        EXPECT_NEAR(c[n][lane][i], expected, 1e-5 * K) << "row " << row << " col " << col;
      }
  // c as the A operand of a second product (the P V step): (M x N) times (N x 8).
  const HostTile vt(random_floats(8 * N, 3), 8, N);
  float d[1][kLanes][4] = {};
  flash::mma_held<flash::HostExec, N, 8>(d, c, vt.tile);
  for (int lane = 0; lane < kLanes; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int row = c_row(lane, i), col = c_col(lane, i);
      double expected = 0;
      for (int k = 0; k < N; ++k) {
        const float held = c[k / 8][lane / 4 * 4 + (k % 8) / 2][(row >= 8 ? 2 : 0) + k % 2];
        expected += static_cast<double>(flash::bf16_value(flash::bf16_bits(held))) * vt.value(col, k);
      }
      EXPECT_NEAR(d[0][lane][i], expected, 1e-4 * N) << "row " << row << " col " << col;
    }
}

// ---- whole attention -------------------------------------------------------------------------

struct Emulated {
  std::vector<float> out, lse, dqkv;
};
Emulated emulate(const std::vector<float>& qkv, const std::vector<float>& dout, const int32_t* doc_pos,
                 const Shape& s) {
  const flash::Problem p{qkv.data(), doc_pos, cuda_math::QkvLayout{s.T, s.NH, s.KVH, s.HS},
                         1.0f / std::sqrt(static_cast<float>(s.HS))};
  // Filled with NaN: an element the kernels fail to write shows up.
  Emulated e{std::vector<float>(dout.size(), NAN), std::vector<float>(static_cast<size_t>(s.B * s.NH * s.T), NAN),
             std::vector<float>(qkv.size(), NAN)};
  if (s.HS == 64) {
    flash::emulate_forward<64>(e.out.data(), e.lse.data(), p, s.B);
    flash::emulate_backward<64>(e.dqkv.data(), dout.data(), e.out.data(), e.lse.data(), p, s.B);
  } else {
    flash::emulate_forward<128>(e.out.data(), e.lse.data(), p, s.B);
    flash::emulate_backward<128>(e.dqkv.data(), dout.data(), e.out.data(), e.lse.data(), p, s.B);
  }
  return e;
}

// bf16 operands (q, k, v, the probabilities, dout, the score gradients) carry 8 significant
// bits. On normal(0, 1) inputs at these lengths the emulation's errors are 0.04% to 0.5% of the
// largest magnitude (2026-12-03); a wrong fragment layout or mask is off by tens of percent.
constexpr double kTolerance = 1e-2;

void expect_matches(const Shape& s, const std::vector<int32_t>* doc_pos, uint64_t seed) {
  const std::vector<float> qkv = random_floats(s.B * s.T * (s.NH + 2 * s.KVH) * s.HS, seed);
  const std::vector<float> dout = random_floats(s.B * s.T * s.NH * s.HS, seed + 1);
  const int32_t* positions = doc_pos == nullptr ? nullptr : doc_pos->data();
  const Expected expected = masked_attention(qkv, dout, positions, s);
  const Emulated actual = emulate(qkv, dout, positions, s);
  const std::string shape = "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " NH=" + std::to_string(s.NH) +
                            " KVH=" + std::to_string(s.KVH) + " HS=" + std::to_string(s.HS) +
                            (positions != nullptr ? " with documents" : "");
  EXPECT_LE(relative_error(actual.out, expected.out), kTolerance) << "out " << shape;
  EXPECT_LE(relative_error(actual.lse, expected.lse), kTolerance) << "lse " << shape;
  EXPECT_LE(relative_error(actual.dqkv, expected.dqkv), kTolerance) << "dqkv " << shape;
}

constexpr Shape kShapes[] = {{1, 1, 1, 1, 64}, {2, 67, 4, 2, 64}, {1, 130, 2, 1, 64},
                             {1, 45, 2, 2, 128}, {2, 97, 3, 1, 128}};

TEST(FlashAttentionEmulation, TheSpecificationWithoutDocumentsIsTheReferenceAttention) {
  const Shape s{2, 37, 4, 2, 64};
  const std::vector<float> qkv = random_floats(s.B * s.T * (s.NH + 2 * s.KVH) * s.HS, 7);
  const std::vector<float> dout = random_floats(s.B * s.T * s.NH * s.HS, 8);
  std::vector<float> out(dout.size()), lse(static_cast<size_t>(s.B * s.NH * s.T)), dqkv(qkv.size());
  reference::attention_forward(out.data(), lse.data(), qkv.data(), nullptr, s.B, s.T, s.NH, s.KVH, s.HS);
  reference::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), nullptr, s.B, s.T, s.NH, s.KVH,
                                s.HS);
  const Expected expected = masked_attention(qkv, dout, nullptr, s);
  EXPECT_LE(relative_error(out, expected.out), 1e-5);
  EXPECT_LE(relative_error(lse, expected.lse), 1e-5);
  EXPECT_LE(relative_error(dqkv, expected.dqkv), 1e-5);
}

TEST(FlashAttentionEmulation, ForwardAndBackwardMatchTheReferenceOnOddLengthsAndGroupedHeads) {
  uint64_t seed = 10;
  for (const Shape& s : kShapes) expect_matches(s, nullptr, seed += 2);
}

TEST(FlashAttentionEmulation, DocumentMasksMatchPlainMaskedAttention) {
  uint64_t seed = 30;
  for (const Shape& s : kShapes) {
    const std::vector<int32_t> positions = document_positions(s.B, s.T);
    expect_matches(s, &positions, seed += 2);
  }
}

// A row that starts inside a document (its first position is not 0) sees only its own tokens.
TEST(FlashAttentionEmulation, ARowMayStartInsideADocument) {
  const Shape s{1, 75, 2, 1, 64};
  std::vector<int32_t> positions(75);
  for (int t = 0; t < 75; ++t) positions[static_cast<size_t>(t)] = t < 50 ? t + 17 : t - 50;
  expect_matches(s, &positions, 50);
}

}  // namespace
}  // namespace utt
