// The tensor-core flash attention (FA2-style, mma.sync m16n8k16, bf16 operands with fp32
// accumulation) for head sizes 64 and 128, forward and backward, with an optional document mask.
// Its logic lives in flash_attention_math.h, shared with the host emulation the CPU tests run.
// Shapes are backend.h's attention_forward / attention_backward.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace utt::cuda {

// Head sizes the kernel takes (64, 128); callers fall back to attention.cu's kernels otherwise.
bool flash_attention_supports(int64_t HS);

// out (B, T, NH*HS), lse (B, NH, T) from qkv (B, T, (NH + 2 KVH) HS). doc_pos (B, T) or null:
// query t sees keys t - doc_pos[t] .. t (positions count up inside a document and restart at 0);
// null is one document per row.
void flash_attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos, int64_t B,
                             int64_t T, int64_t NH, int64_t KVH, int64_t HS, cudaStream_t stream);
// dqkv = (overwrite), recomputing probabilities from lse; deterministic (no atomics).
void flash_attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                              const float* lse, const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH,
                              int64_t KVH, int64_t HS, cudaStream_t stream);

}  // namespace utt::cuda
