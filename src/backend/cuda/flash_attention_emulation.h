// The host executor of flash_attention_math.h: one call runs a whole CUDA block of the flash
// attention kernels on the CPU, its kFlashWarps warps one after another and each warp's 32 lanes
// side by side, with the mma.sync m16n8k16 instruction rebuilt from the lanes' fragments through
// the PTX ISA's layout functions (bf16 products are exact in fp32; the sum runs in k order, which
// the hardware need not follow). Block phases end at E::sync(), so running the warps one after
// another is one of the orders the GPU may take. This is test code for the kernels' logic, slow
// by design; the CPU backend never uses it.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/cuda/flash_attention_math.h"

namespace utt::flash {

struct HostExec {
  static constexpr int kLanes = cuda_math::kWarpLanes;
  static constexpr int kWarpSlots = kFlashWarps;
  static int lane(int l) { return l; }
  template <typename F>
  static void for_each_thread(F f) {
    for (int thread = 0; thread < kFlashThreads; ++thread) f(thread);
  }
  template <typename F>
  static void for_each_warp(F f) {
    for (int warp = 0; warp < kFlashWarps; ++warp) f(warp, warp);
  }
  static void sync() {}

  static float half_of(uint32_t reg, int i) { return bf16_value(static_cast<uint16_t>(i % 2 ? reg >> 16 : reg)); }

  // D = A B + C for one warp: every lane's fragments placed by the layout functions.
  static void mma(float (&c)[kLanes][4], const uint32_t (&a)[kLanes][4], const uint32_t (&b)[kLanes][2]) {
    float A[16][16], B[16][8];
    for (int lane = 0; lane < kLanes; ++lane) {
      for (int i = 0; i < 8; ++i) A[a_row(lane, i)][a_col(lane, i)] = half_of(a[lane][i / 2], i);
      for (int i = 0; i < 4; ++i) B[b_row(lane, i)][b_col(lane, i)] = half_of(b[lane][i / 2], i);
    }
    for (int lane = 0; lane < kLanes; ++lane) {
      for (int i = 0; i < 4; ++i) {
        float total = c[lane][i];
        for (int k = 0; k < 16; ++k) total += A[c_row(lane, i)][k] * B[k][c_col(lane, i)];
        c[lane][i] = total;
      }
    }
  }

  static void shuffle_xor(float (&v)[kLanes], int mask) {
    float before[kLanes];
    for (int l = 0; l < kLanes; ++l) before[l] = v[l];
    for (int l = 0; l < kLanes; ++l) v[l] = before[l ^ mask];
  }
};

// The launches of flash_attention.cu, block by block on the host; same arguments.
template <int D>
void emulate_forward(float* out, float* lse, const Problem& p, int64_t B) {
  std::vector<uint16_t> shared(forward_shared_elements<D>());
  const int64_t blocks = (p.L.T + Tiles<D>::kQueryRows - 1) / Tiles<D>::kQueryRows;
  for (int64_t bh = 0; bh < B * p.L.NH; ++bh)
    for (int64_t block = 0; block < blocks; ++block)
      flash_forward_block<HostExec, D>(out, lse, p, block, bh / p.L.NH, bh % p.L.NH, shared.data());
}

template <int D>
void emulate_backward(float* dqkv, const float* dout, const float* out, const float* lse, const Problem& p,
                      int64_t B) {
  // Whole 8-byte words, so the row values' int64 starts are aligned.
  std::vector<uint64_t> dq_shared((dq_shared_bytes<D>() + 7) / 8), dkv_shared((dkv_shared_bytes<D>() + 7) / 8);
  const int64_t q_blocks = (p.L.T + Tiles<D>::kQueryRows - 1) / Tiles<D>::kQueryRows;
  for (int64_t bh = 0; bh < B * p.L.NH; ++bh)
    for (int64_t block = 0; block < q_blocks; ++block)
      flash_dq_block<HostExec, D>(dqkv, dout, out, lse, p, block, bh / p.L.NH, bh % p.L.NH,
                                  reinterpret_cast<uint16_t*>(dq_shared.data()));
  const int64_t k_blocks = (p.L.T + Tiles<D>::kKeyRows - 1) / Tiles<D>::kKeyRows;
  for (int64_t bh = 0; bh < B * p.L.KVH; ++bh)
    for (int64_t block = 0; block < k_blocks; ++block)
      flash_dkv_block<HostExec, D>(dqkv, dout, out, lse, p, block, bh / p.L.KVH, bh % p.L.KVH,
                                   reinterpret_cast<uint16_t*>(dkv_shared.data()));
}

}  // namespace utt::flash
