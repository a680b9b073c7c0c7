// The tensor-core flash attention's logic, written once for the GPU and for a host emulation:
// the m16n8k16 fragment layouts of the PTX ISA, the tile loops of the forward and of the two
// backward kernels, the online softmax and the masks. The block programs are templates over an
// executor E that says how a block runs:
// - on the GPU (flash_attention.cu) each thread is one lane of one warp: E::kLanes = 1,
//   E::kWarpSlots = 1, E::mma is the mma.sync instruction, E::shuffle_xor a warp shuffle and
//   E::sync __syncthreads;
// - on the host (flash_attention_emulation.h) one call runs the whole block: E::kLanes = 32 lanes
//   side by side, E::kWarpSlots = kFlashWarps warps one after another, phase by phase, E::mma
//   rebuilds the 16x16 and 16x8 matrices from the lanes' fragments with the same layout functions
//   and multiplies them in fp32.
// So tests/unit/backend/flash_attention_test.cpp runs these loops, masks, fragment loads and
// bf16 roundings on the CPU against the reference attention; what only a GPU can show (the
// instruction's real layout and rounding, shared-memory races, launch limits) is the op
// registry's job on a GPU.
//
// Arrays that hold one value per lane are indexed [..][lane slot] with E::kLanes slots; on the
// GPU that index is always 0 and every loop over it is unrolled away.
#pragma once

#include <math.h>

#include <cstdint>

#include "backend/cuda/attention_math.h"
#include "backend/host_device.h"

// nvcc (both of its passes, C++17) takes cuda_bf16.h's conversions; the host compiler of the CPU
// tests takes backend/bf16.h's, which round the same way.
#if defined(__CUDACC__)
#include <cuda_bf16.h>
#else
#include "backend/bf16.h"
#endif

namespace utt::flash {

constexpr int kFlashWarps = 4;
constexpr int kFlashThreads = kFlashWarps * cuda_math::kWarpLanes;
// Shared-memory rows are padded by 8 bf16 (16 bytes): a fragment load's 8 rows x 4 words then
// fall in 32 different banks.
constexpr int kPad = 8;

UTT_HOST_DEVICE constexpr bool head_size_supported(int64_t HS) { return HS == 64 || HS == 128; }

// Tile sizes by head size D. Forward and dq: 64 query rows per block (16 per warp) against key
// tiles of kKeyTile. dk/dv: 64 keys per block (16 per warp) against query tiles of
// kBackwardQueryTile. The smaller tiles at D = 128 keep a warp's accumulators in registers.
template <int D>
struct Tiles {
  static constexpr int kQueryRows = 16 * kFlashWarps;
  static constexpr int kKeyTile = D == 128 ? 32 : 64;
  static constexpr int kKeyRows = 16 * kFlashWarps;
  static constexpr int kBackwardQueryTile = D == 128 ? 32 : 64;
};

// ---- bf16 --------------------------------------------------------------------------------------
// Round to nearest even, as cvt.rn.bf16.f32 does; the host's utt::float_to_bf16 rounds the same way.
UTT_HOST_DEVICE uint16_t bf16_bits(float x) {
#if defined(__CUDACC__)
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
#else
  return float_to_bf16(x);
#endif
}
UTT_HOST_DEVICE float bf16_value(uint16_t bits) {
#if defined(__CUDACC__)
  return __bfloat162float(__ushort_as_bfloat16(bits));
#else
  return bf16_to_float(bits);
#endif
}
// Two bf16 in one 32-bit register: the element with the lower index in the lower half (PTX ISA,
// "Matrix fragments for mma.m16n8k16").
UTT_HOST_DEVICE uint32_t pack(uint16_t low, uint16_t high) {
  return static_cast<uint32_t>(low) | (static_cast<uint32_t>(high) << 16);
}
UTT_HOST_DEVICE uint32_t pack_floats(float low, float high) { return pack(bf16_bits(low), bf16_bits(high)); }

// ---- mma.m16n8k16 fragment layouts (PTX ISA, .bf16 A/B, .f32 C/D) ---------------------------
// groupID = lane / 4, threadID_in_group = lane % 4.
// A (16 x 16, row-major), elements a0..a7 in 4 registers:
//   row = groupID for a0, a1, a4, a5; groupID + 8 for a2, a3, a6, a7
//   col = 2 * threadID_in_group + (i & 1), plus 8 for a4..a7
UTT_HOST_DEVICE int a_row(int lane, int i) { return lane / 4 + ((i & 2) ? 8 : 0); }
UTT_HOST_DEVICE int a_col(int lane, int i) { return 2 * (lane % 4) + (i & 1) + (i >= 4 ? 8 : 0); }
// B (16 x 8, k x n, "col"), elements b0..b3 in 2 registers:
//   row (k) = 2 * threadID_in_group + (i & 1), plus 8 for b2, b3;  col (n) = groupID
UTT_HOST_DEVICE int b_row(int lane, int i) { return 2 * (lane % 4) + (i & 1) + (i >= 2 ? 8 : 0); }
UTT_HOST_DEVICE int b_col(int lane, int /*i*/) { return lane / 4; }
// C and D (16 x 8, fp32), elements c0..c3:
//   row = groupID for c0, c1; groupID + 8 for c2, c3;  col = 2 * threadID_in_group + (i & 1)
UTT_HOST_DEVICE int c_row(int lane, int i) { return lane / 4 + (i >= 2 ? 8 : 0); }
UTT_HOST_DEVICE int c_col(int lane, int i) { return 2 * (lane % 4) + (i & 1); }

// A tile of bf16 in shared memory, row-major with `stride` elements per row.
struct Bf16Tile {
  uint16_t* data;
  int stride;
  UTT_HOST_DEVICE uint16_t* at(int row, int col) const { return data + row * stride + col; }
};

// Two neighbouring elements (col, col + 1) of a row as one register; col is even and the stride
// even, so on the GPU this is one aligned 32-bit shared-memory load.
UTT_HOST_DEVICE uint32_t load_pair(const Bf16Tile& tile, int row, int col) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const uint32_t*>(tile.at(row, col));
#else
  return pack(*tile.at(row, col), *tile.at(row, col + 1));
#endif
}

// The lane's A fragment of the 16 x 16 block at (row0, col0) of a row-major tile. Elements 2j and
// 2j + 1 are neighbours in a row, so register j is one pair.
UTT_HOST_DEVICE void load_a(uint32_t a[4], const Bf16Tile& tile, int row0, int col0, int lane) {
  for (int j = 0; j < 4; ++j) a[j] = load_pair(tile, row0 + a_row(lane, 2 * j), col0 + a_col(lane, 2 * j));
}
// The lane's B fragment of the 16 (k) x 8 (n) block whose element (k, n) is tile(n0 + n, k0 + k):
// the tile holds B transposed (n-major), so elements 2j and 2j + 1 (k, k + 1) are neighbours.
UTT_HOST_DEVICE void load_b(uint32_t b[2], const Bf16Tile& tile, int n0, int k0, int lane) {
  for (int j = 0; j < 2; ++j) b[j] = load_pair(tile, n0 + b_col(lane, 2 * j), k0 + b_row(lane, 2 * j));
}
// The A fragment of columns [16 kk, 16 kk + 16) of a 16-row matrix the lane holds as C fragments
// of 8-column tiles (lo = tile 2 kk, hi = tile 2 kk + 1), rounded to bf16: a C fragment's
// (row, col) pairs are an A fragment's, the second 8 columns coming from the next tile.
UTT_HOST_DEVICE void c_to_a(uint32_t a[4], const float lo[4], const float hi[4]) {
  a[0] = pack_floats(lo[0], lo[1]);
  a[1] = pack_floats(lo[2], lo[3]);
  a[2] = pack_floats(hi[0], hi[1]);
  a[3] = pack_floats(hi[2], hi[3]);
}

// ---- masks and problem layout --------------------------------------------------------------
// One (batch row, head) of the problem. doc_pos (B, T) or null: query t sees keys
// t - doc_pos[t] .. t. Document starts t - doc_pos[t] must not decrease along a row (positions
// count up inside a document and restart at 0), which the tile ranges below rely on.
struct Problem {
  const float* qkv;
  const int32_t* doc_pos;
  cuda_math::QkvLayout L;
  float scale;  // 1 / sqrt(HS)
  UTT_HOST_DEVICE int64_t doc_start(int64_t b, int64_t t) const {
    if (doc_pos == nullptr) return 0;
    const int64_t start = t - doc_pos[b * L.T + t];
    return start < 0 ? 0 : start;
  }
  UTT_HOST_DEVICE int64_t out_offset(int64_t b, int64_t t, int64_t h) const {
    return (b * L.T + t) * L.NH * L.HS + h * L.HS;
  }
};

UTT_HOST_DEVICE bool visible(int64_t t, int64_t s, int64_t T, int64_t start) { return t < T && s <= t && s >= start; }

// ---- block-level loads: global fp32 rows -> shared bf16 ---------------------------------------
// Rows [row0, row0 + rows) of a (T, *) matrix at `base` with `row_stride` floats per row and D
// columns; rows at or past T load as zeros. transposed: element (r, c) goes to tile(c, r).
template <typename E, int D>
UTT_HOST_DEVICE void load_rows(const Bf16Tile& tile, const float* base, int64_t row_stride, int64_t row0, int rows,
                               int64_t T, bool transposed) {
  E::for_each_thread([&](int thread) {
    for (int e = thread; e < rows * D; e += kFlashThreads) {
      const int r = e / D, c = e % D;
      const float value = row0 + r < T ? base[(row0 + r) * row_stride + c] : 0.0f;
      *(transposed ? tile.at(c, r) : tile.at(r, c)) = bf16_bits(value);
    }
  });
}

// D_t = dout_t . out_t over the head (fp32, in order), for rows [row0, row0 + rows) of head h;
// both backward kernels compute it the same way.
UTT_HOST_DEVICE float dout_dot_out(const float* dout, const float* out, const Problem& p, int64_t b, int64_t t,
                                   int64_t h) {
  const float* x = dout + p.out_offset(b, t, h);
  const float* y = out + p.out_offset(b, t, h);
  float total = 0.0f;
  for (int64_t d = 0; d < p.L.HS; ++d) total += x[d] * y[d];
  return total;
}

// ---- the per-warp pieces ---------------------------------------------------------------------
// acc (N / 8 tiles) += A (16 x K, from a row-major tile at row a_row0) times B (K x N), where
// B's element (k, n) is b_tile(n, k): both operand tiles hold their rows along K.
template <typename E, int K, int N>
UTT_HOST_DEVICE void mma_tiles(float (&acc)[N / 8][E::kLanes][4], const Bf16Tile& a_tile, int a_row0,
                               const Bf16Tile& b_tile) {
  for (int kk = 0; kk < K / 16; ++kk) {
    uint32_t a[E::kLanes][4];
    for (int l = 0; l < E::kLanes; ++l) load_a(a[l], a_tile, a_row0, kk * 16, E::lane(l));
    for (int n = 0; n < N / 8; ++n) {
      uint32_t b[E::kLanes][2];
      for (int l = 0; l < E::kLanes; ++l) load_b(b[l], b_tile, n * 8, kk * 16, E::lane(l));
      E::mma(acc[n], a, b);
    }
  }
}

// acc (N / 8 tiles) += P (16 x K, held as C fragments of K / 8 tiles, rounded to bf16) times B
// (K x N) with B's element (k, n) = b_tile(n, k).
template <typename E, int K, int N>
UTT_HOST_DEVICE void mma_held(float (&acc)[N / 8][E::kLanes][4], const float (&p)[K / 8][E::kLanes][4],
                              const Bf16Tile& b_tile) {
  for (int kk = 0; kk < K / 16; ++kk) {
    uint32_t a[E::kLanes][4];
    for (int l = 0; l < E::kLanes; ++l) c_to_a(a[l], p[2 * kk][l], p[2 * kk + 1][l]);
    for (int n = 0; n < N / 8; ++n) {
      uint32_t b[E::kLanes][2];
      for (int l = 0; l < E::kLanes; ++l) load_b(b[l], b_tile, n * 8, kk * 16, E::lane(l));
      E::mma(acc[n], a, b);
    }
  }
}

template <typename E, int N>
UTT_HOST_DEVICE void zero(float (&acc)[N][E::kLanes][4]) {
  for (int n = 0; n < N; ++n)
    for (int l = 0; l < E::kLanes; ++l)
      for (int i = 0; i < 4; ++i) acc[n][l][i] = 0.0f;
}

// The four lanes of a group (lane / 4) share C rows: combine their values with two shuffles.
template <typename E>
UTT_HOST_DEVICE void group_max(float (&v)[E::kLanes]) {
  for (int mask = 1; mask <= 2; mask *= 2) {
    float other[E::kLanes];
    for (int l = 0; l < E::kLanes; ++l) other[l] = v[l];
    E::shuffle_xor(other, mask);
    for (int l = 0; l < E::kLanes; ++l) v[l] = fmaxf(v[l], other[l]);
  }
}
template <typename E>
UTT_HOST_DEVICE void group_sum(float (&v)[E::kLanes]) {
  for (int mask = 1; mask <= 2; mask *= 2) {
    float other[E::kLanes];
    for (int l = 0; l < E::kLanes; ++l) other[l] = v[l];
    E::shuffle_xor(other, mask);
    for (int l = 0; l < E::kLanes; ++l) v[l] += other[l];
  }
}

// The online softmax of one warp's 16 query rows: per lane and per half (row groupID and
// groupID + 8), the running max of the scaled scores and the lane's part of sum exp(score - max).
template <typename E>
struct RowState {
  float max[2][E::kLanes];
  float sum[2][E::kLanes];
};

// A max of -inf (no visible key yet) subtracts 0, so exp gives 0 rather than NaN.
UTT_HOST_DEVICE float finite_or_zero(float m) { return m == -INFINITY ? 0.0f : m; }

// ---- forward: one block per (64 query rows, batch row b, head h) -------------------------------
// Shared memory (bf16): Q (kQueryRows x D), K (kKeyTile x D), V transposed (D x kKeyTile).
template <int D>
UTT_HOST_DEVICE constexpr int forward_shared_elements() {
  using Tl = Tiles<D>;
  return Tl::kQueryRows * (D + kPad) + Tl::kKeyTile * (D + kPad) + D * (Tl::kKeyTile + kPad);
}

template <typename E, int D>
struct ForwardWarp {
  static constexpr int kKeys = Tiles<D>::kKeyTile;
  float o[D / 8][E::kLanes][4];
  RowState<E> rows;
};

template <typename E, int D>
UTT_HOST_DEVICE void flash_forward_block(float* out, float* lse, const Problem& p, int64_t q_block, int64_t b,
                                         int64_t h, uint16_t* shared) {
  using Tl = Tiles<D>;
  constexpr int kKeys = Tl::kKeyTile;
  const cuda_math::QkvLayout& L = p.L;
  const int64_t T = L.T, kvh = L.kv_head(h), stride = L.row_stride();
  const int64_t q0 = q_block * Tl::kQueryRows;
  const int64_t q_last = (q0 + Tl::kQueryRows < T ? q0 + Tl::kQueryRows : T) - 1;
  const Bf16Tile q_tile{shared, D + kPad};
  const Bf16Tile k_tile{q_tile.data + Tl::kQueryRows * (D + kPad), D + kPad};
  const Bf16Tile vt_tile{k_tile.data + kKeys * (D + kPad), kKeys + kPad};
  const float* batch = p.qkv + b * T * stride;

  load_rows<E, D>(q_tile, batch + h * D, stride, q0, Tl::kQueryRows, T, false);
  ForwardWarp<E, D> warps[E::kWarpSlots];
  E::for_each_warp([&](int slot, int) {
    zero<E, D / 8>(warps[slot].o);
    for (int half = 0; half < 2; ++half)
      for (int l = 0; l < E::kLanes; ++l) {
        warps[slot].rows.max[half][l] = -INFINITY;
        warps[slot].rows.sum[half][l] = 0.0f;
      }
  });
  // Keys from the first row's document start (starts do not decrease) to the last row.
  const int64_t first_tile = p.doc_start(b, q0) / kKeys, last_tile = q_last / kKeys;
  for (int64_t tile = first_tile; tile <= last_tile; ++tile) {
    const int64_t s0 = tile * kKeys;
    E::sync();  // every warp is done with the previous K and V
    load_rows<E, D>(k_tile, batch + (L.NH + kvh) * D, stride, s0, kKeys, T, false);
    load_rows<E, D>(vt_tile, batch + (L.NH + L.KVH + kvh) * D, stride, s0, kKeys, T, true);
    E::sync();
    E::for_each_warp([&](int slot, int warp) {
      ForwardWarp<E, D>& w = warps[slot];
      float s[kKeys / 8][E::kLanes][4];
      zero<E, kKeys / 8>(s);
      mma_tiles<E, D, kKeys>(s, q_tile, warp * 16, k_tile);
      float tile_max[2][E::kLanes];
      for (int l = 0; l < E::kLanes; ++l) {
        const int lane = E::lane(l);
        tile_max[0][l] = tile_max[1][l] = -INFINITY;
        for (int n = 0; n < kKeys / 8; ++n)
          for (int i = 0; i < 4; ++i) {
            const int64_t t = q0 + warp * 16 + c_row(lane, i), key = s0 + n * 8 + c_col(lane, i);
            const bool seen = visible(t, key, T, t < T ? p.doc_start(b, t) : 0);
            s[n][l][i] = seen ? s[n][l][i] * p.scale : -INFINITY;
            tile_max[i / 2][l] = fmaxf(tile_max[i / 2][l], s[n][l][i]);
          }
      }
      group_max<E>(tile_max[0]);
      group_max<E>(tile_max[1]);
      for (int l = 0; l < E::kLanes; ++l) {
        float correction[2], base[2];
        for (int half = 0; half < 2; ++half) {
          const float new_max = fmaxf(w.rows.max[half][l], tile_max[half][l]);
          base[half] = finite_or_zero(new_max);
          correction[half] = expf(w.rows.max[half][l] - base[half]);
          w.rows.max[half][l] = new_max;
          w.rows.sum[half][l] *= correction[half];
        }
        for (int n = 0; n < kKeys / 8; ++n)
          for (int i = 0; i < 4; ++i) {
            s[n][l][i] = expf(s[n][l][i] - base[i / 2]);
            w.rows.sum[i / 2][l] += s[n][l][i];
          }
        for (int n = 0; n < D / 8; ++n)
          for (int i = 0; i < 4; ++i) w.o[n][l][i] *= correction[i / 2];
      }
      mma_held<E, kKeys, D>(w.o, s, vt_tile);
    });
  }
  E::for_each_warp([&](int slot, int warp) {
    ForwardWarp<E, D>& w = warps[slot];
    group_sum<E>(w.rows.sum[0]);
    group_sum<E>(w.rows.sum[1]);
    for (int l = 0; l < E::kLanes; ++l) {
      const int lane = E::lane(l);
      for (int half = 0; half < 2; ++half) {
        const int64_t t = q0 + warp * 16 + lane / 4 + 8 * half;
        if (t >= T) continue;
        const float sum = w.rows.sum[half][l];
        float* row = out + p.out_offset(b, t, h);
        for (int n = 0; n < D / 8; ++n)
          for (int i = 2 * half; i < 2 * half + 2; ++i) row[n * 8 + c_col(lane, i)] = w.o[n][l][i] / sum;
        if (lane % 4 == 0 && lse != nullptr) lse[(b * L.NH + h) * T + t] = w.rows.max[half][l] + logf(sum);
      }
    }
  });
}

// ---- backward, dq: one block per (64 query rows, b, h) ----------------------------------------
// Shared memory (bf16): Q and dout (kQueryRows x D each), K and V (kKeyTile x D each), K
// transposed (D x kKeyTile); then fp32 lse and D and int64 document starts of the rows.
template <int D>
UTT_HOST_DEVICE constexpr int dq_shared_elements() {
  using Tl = Tiles<D>;
  return 2 * Tl::kQueryRows * (D + kPad) + 2 * Tl::kKeyTile * (D + kPad) + D * (Tl::kKeyTile + kPad);
}
template <int D>
UTT_HOST_DEVICE constexpr int dq_shared_bytes() {
  return dq_shared_elements<D>() * 2 + Tiles<D>::kQueryRows * (4 + 4 + 8);
}
// The row values' int64 document starts follow the bf16 tiles and two float arrays: 8-byte aligned.
static_assert(dq_shared_elements<64>() * 2 % 8 == 0 && dq_shared_elements<128>() * 2 % 8 == 0);

// The row values of a backward tile: lse, D = dout . out, and the document start, per query row
// of the tile; rows at or past T get an empty mask through visible().
struct RowValues {
  float* lse;
  float* delta;
  int64_t* start;
};

template <typename E>
UTT_HOST_DEVICE void load_row_values(const RowValues& rv, const float* lse, const float* dout, const float* out,
                                     const Problem& p, int64_t q0, int rows, int64_t b, int64_t h) {
  E::for_each_thread([&](int thread) {
    for (int r = thread; r < rows; r += kFlashThreads) {
      const int64_t t = q0 + r;
      const bool valid = t < p.L.T;
      rv.lse[r] = valid ? lse[(b * p.L.NH + h) * p.L.T + t] : 0.0f;
      rv.delta[r] = valid ? dout_dot_out(dout, out, p, b, t, h) : 0.0f;
      rv.start[r] = valid ? p.doc_start(b, t) : 0;
    }
  });
}

template <typename E, int D>
UTT_HOST_DEVICE void flash_dq_block(float* dqkv, const float* dout, const float* out, const float* lse,
                                    const Problem& p, int64_t q_block, int64_t b, int64_t h, uint16_t* shared) {
  using Tl = Tiles<D>;
  constexpr int kKeys = Tl::kKeyTile;
  const cuda_math::QkvLayout& L = p.L;
  const int64_t T = L.T, kvh = L.kv_head(h), stride = L.row_stride();
  const int64_t q0 = q_block * Tl::kQueryRows;
  const int64_t q_last = (q0 + Tl::kQueryRows < T ? q0 + Tl::kQueryRows : T) - 1;
  const Bf16Tile q_tile{shared, D + kPad};
  const Bf16Tile do_tile{q_tile.data + Tl::kQueryRows * (D + kPad), D + kPad};
  const Bf16Tile k_tile{do_tile.data + Tl::kQueryRows * (D + kPad), D + kPad};
  const Bf16Tile v_tile{k_tile.data + kKeys * (D + kPad), D + kPad};
  const Bf16Tile kt_tile{v_tile.data + kKeys * (D + kPad), kKeys + kPad};
  auto* row_floats = reinterpret_cast<float*>(shared + dq_shared_elements<D>());
  const RowValues rv{row_floats, row_floats + Tl::kQueryRows,
                     reinterpret_cast<int64_t*>(row_floats + 2 * Tl::kQueryRows)};
  const float* batch = p.qkv + b * T * stride;

  load_rows<E, D>(q_tile, batch + h * D, stride, q0, Tl::kQueryRows, T, false);
  load_rows<E, D>(do_tile, dout + b * T * L.NH * D + h * D, L.NH * D, q0, Tl::kQueryRows, T, false);
  load_row_values<E>(rv, lse, dout, out, p, q0, Tl::kQueryRows, b, h);
  float dq[E::kWarpSlots][D / 8][E::kLanes][4];
  E::for_each_warp([&](int slot, int) { zero<E, D / 8>(dq[slot]); });
  const int64_t first_tile = p.doc_start(b, q0) / kKeys, last_tile = q_last / kKeys;
  for (int64_t tile = first_tile; tile <= last_tile; ++tile) {
    const int64_t s0 = tile * kKeys;
    E::sync();
    load_rows<E, D>(k_tile, batch + (L.NH + kvh) * D, stride, s0, kKeys, T, false);
    load_rows<E, D>(v_tile, batch + (L.NH + L.KVH + kvh) * D, stride, s0, kKeys, T, false);
    load_rows<E, D>(kt_tile, batch + (L.NH + kvh) * D, stride, s0, kKeys, T, true);
    E::sync();
    E::for_each_warp([&](int slot, int warp) {
      float s[kKeys / 8][E::kLanes][4], dp[kKeys / 8][E::kLanes][4];
      zero<E, kKeys / 8>(s);
      zero<E, kKeys / 8>(dp);
      mma_tiles<E, D, kKeys>(s, q_tile, warp * 16, k_tile);
      mma_tiles<E, D, kKeys>(dp, do_tile, warp * 16, v_tile);
      for (int l = 0; l < E::kLanes; ++l) {
        const int lane = E::lane(l);
        for (int n = 0; n < kKeys / 8; ++n)
          for (int i = 0; i < 4; ++i) {
            const int r = warp * 16 + c_row(lane, i);
            const int64_t key = s0 + n * 8 + c_col(lane, i);
            const float prob = visible(q0 + r, key, T, rv.start[r]) ? expf(s[n][l][i] * p.scale - rv.lse[r]) : 0.0f;
            s[n][l][i] = cuda_math::score_gradient(prob, dp[n][l][i], rv.delta[r]);  // s now holds dS
          }
      }
      mma_held<E, kKeys, D>(dq[slot], s, kt_tile);
    });
  }
  E::for_each_warp([&](int slot, int warp) {
    for (int l = 0; l < E::kLanes; ++l) {
      const int lane = E::lane(l);
      for (int n = 0; n < D / 8; ++n)
        for (int i = 0; i < 4; ++i) {
          const int64_t t = q0 + warp * 16 + c_row(lane, i);
          if (t < T) dqkv[L.q(b, t, h) + n * 8 + c_col(lane, i)] = dq[slot][n][l][i] * p.scale;
        }
    }
  });
}

// ---- backward, dk and dv: one block per (64 keys, b, kv head) ---------------------------------
// Sums over the group's query heads in order, and over query tiles in order: no atomics.
// Shared memory (bf16): K and V (kKeyRows x D each); Q and dout (kBackwardQueryTile x D each) and
// both transposed (D x kBackwardQueryTile each); then the query rows' lse, D and starts.
template <int D>
UTT_HOST_DEVICE constexpr int dkv_shared_elements() {
  using Tl = Tiles<D>;
  return 2 * Tl::kKeyRows * (D + kPad) + 2 * Tl::kBackwardQueryTile * (D + kPad) +
         2 * D * (Tl::kBackwardQueryTile + kPad);
}
template <int D>
UTT_HOST_DEVICE constexpr int dkv_shared_bytes() {
  return dkv_shared_elements<D>() * 2 + Tiles<D>::kBackwardQueryTile * (4 + 4 + 8);
}
static_assert(dkv_shared_elements<64>() * 2 % 8 == 0 && dkv_shared_elements<128>() * 2 % 8 == 0);

template <typename E, int D>
UTT_HOST_DEVICE void flash_dkv_block(float* dqkv, const float* dout, const float* out, const float* lse,
                                     const Problem& p, int64_t k_block, int64_t b, int64_t kvh, uint16_t* shared) {
  using Tl = Tiles<D>;
  constexpr int kQueries = Tl::kBackwardQueryTile;
  const cuda_math::QkvLayout& L = p.L;
  const int64_t T = L.T, stride = L.row_stride(), group = L.NH / L.KVH;
  const int64_t k0 = k_block * Tl::kKeyRows;
  const int64_t k_last = (k0 + Tl::kKeyRows < T ? k0 + Tl::kKeyRows : T) - 1;
  const Bf16Tile k_tile{shared, D + kPad};
  const Bf16Tile v_tile{k_tile.data + Tl::kKeyRows * (D + kPad), D + kPad};
  const Bf16Tile q_tile{v_tile.data + Tl::kKeyRows * (D + kPad), D + kPad};
  const Bf16Tile do_tile{q_tile.data + kQueries * (D + kPad), D + kPad};
  const Bf16Tile qt_tile{do_tile.data + kQueries * (D + kPad), kQueries + kPad};
  const Bf16Tile dot_tile{qt_tile.data + D * (kQueries + kPad), kQueries + kPad};
  auto* row_floats = reinterpret_cast<float*>(shared + dkv_shared_elements<D>());
  const RowValues rv{row_floats, row_floats + kQueries, reinterpret_cast<int64_t*>(row_floats + 2 * kQueries)};
  const float* batch = p.qkv + b * T * stride;
  const float* dout_batch = dout + b * T * L.NH * D;

  load_rows<E, D>(k_tile, batch + (L.NH + kvh) * D, stride, k0, Tl::kKeyRows, T, false);
  load_rows<E, D>(v_tile, batch + (L.NH + L.KVH + kvh) * D, stride, k0, Tl::kKeyRows, T, false);
  float dk[E::kWarpSlots][D / 8][E::kLanes][4], dv[E::kWarpSlots][D / 8][E::kLanes][4];
  E::for_each_warp([&](int slot, int) {
    zero<E, D / 8>(dk[slot]);
    zero<E, D / 8>(dv[slot]);
  });
  for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
    // Queries from the block's first key on, while the tile's first row (the smallest document
    // start of the tile) can see the block's last key.
    for (int64_t q0 = k0 / kQueries * kQueries; q0 < T && p.doc_start(b, q0) <= k_last; q0 += kQueries) {
      E::sync();
      load_rows<E, D>(q_tile, batch + h * D, stride, q0, kQueries, T, false);
      load_rows<E, D>(do_tile, dout_batch + h * D, L.NH * D, q0, kQueries, T, false);
      load_rows<E, D>(qt_tile, batch + h * D, stride, q0, kQueries, T, true);
      load_rows<E, D>(dot_tile, dout_batch + h * D, L.NH * D, q0, kQueries, T, true);
      load_row_values<E>(rv, lse, dout, out, p, q0, kQueries, b, h);
      E::sync();
      E::for_each_warp([&](int slot, int warp) {
        // Transposed scores: rows are the warp's 16 keys, columns the tile's queries.
        float s[kQueries / 8][E::kLanes][4], dp[kQueries / 8][E::kLanes][4];
        zero<E, kQueries / 8>(s);
        zero<E, kQueries / 8>(dp);
        mma_tiles<E, D, kQueries>(s, k_tile, warp * 16, q_tile);
        mma_tiles<E, D, kQueries>(dp, v_tile, warp * 16, do_tile);
        for (int l = 0; l < E::kLanes; ++l) {
          const int lane = E::lane(l);
          for (int n = 0; n < kQueries / 8; ++n)
            for (int i = 0; i < 4; ++i) {
              const int64_t key = k0 + warp * 16 + c_row(lane, i);
              const int r = n * 8 + c_col(lane, i);
              const float prob =
                  visible(q0 + r, key, T, rv.start[r]) ? expf(s[n][l][i] * p.scale - rv.lse[r]) : 0.0f;
              s[n][l][i] = prob;
              dp[n][l][i] = cuda_math::score_gradient(prob, dp[n][l][i], rv.delta[r]);  // dp now holds dS
            }
        }
        mma_held<E, kQueries, D>(dv[slot], s, dot_tile);
        mma_held<E, kQueries, D>(dk[slot], dp, qt_tile);
      });
    }
  }
  E::for_each_warp([&](int slot, int warp) {
    for (int l = 0; l < E::kLanes; ++l) {
      const int lane = E::lane(l);
      for (int n = 0; n < D / 8; ++n)
        for (int i = 0; i < 4; ++i) {
          const int64_t s = k0 + warp * 16 + c_row(lane, i);
          if (s >= T) continue;
          const int64_t d = n * 8 + c_col(lane, i);
          dqkv[L.k(b, s, kvh) + d] = dk[slot][n][l][i] * p.scale;
          dqkv[L.v(b, s, kvh) + d] = dv[slot][n][l][i];
        }
    }
  });
}

}  // namespace utt::flash
