// The CUDA kernels' launchers: raw device pointers, sizes and the stream to queue on. Each checks
// its launch (CUDA_CHECK_LAUNCH); none allocates or synchronizes. Shapes and the accumulate (+=)
// or overwrite (=) convention are backend.h's, op by op.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/elementwise_math.h"

namespace utt::cuda {

// ---- elementwise.cu ----------------------------------------------------------------------------
void fill(float* x, float value, int64_t n, cudaStream_t stream);
void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream);
void scale(float* x, float factor, int64_t n, cudaStream_t stream);
void activation_forward(float* out, const float* x, int64_t n, int act, cudaStream_t stream);
void activation_backward(float* dx, const float* dout, const float* x, int64_t n, int act, cudaStream_t stream);
void glu_forward(float* out, const float* h, int64_t N, int64_t F, int act, cudaStream_t stream);
void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F, int act,
                  cudaStream_t stream);
// keep_scale = 1 / (1 - rate), rounded to float once by the caller as the CPU kernels round it.
void residual_dropout(float* out, const float* residual, const float* x, int64_t n, float rate,
                      float keep_scale, uint64_t key, cudaStream_t stream);

// ---- norms.cu ----------------------------------------------------------------------------------
void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int64_t N, int64_t C,
                     float eps, cudaStream_t stream);
void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                      const float* rstd, int64_t N, int64_t C, cudaStream_t stream);
void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps, cudaStream_t stream);
void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                        cudaStream_t stream);

// ---- rope.cu -----------------------------------------------------------------------------------
void rope_table(float* cos_table, float* sin_table, int64_t T, int64_t HS, double theta, cudaStream_t stream);
// direction 1: forward; -1: the inverse rotation (backward).
void rope_rotate(float* x, const float* cos_table, const float* sin_table, int64_t B, int64_t T, int64_t heads,
                 int64_t HS, int64_t row_stride, int direction, cudaStream_t stream);

// ---- attention.cu ------------------------------------------------------------------------------
// Flash (lse saved, att null) or naive (att (B, NH, T, T) saved, lse null).
// doc_pos (B, T) or null: document masking (backend.h).
void attention_forward(float* out, float* lse, float* att, const float* qkv, const int32_t* doc_pos, int64_t B,
                       int64_t T, int64_t NH, int64_t KVH, int64_t HS, cudaStream_t stream);
// dqkv = (overwrite). Flash: from out and lse (att and datt null). Naive: from att, with datt as
// scratch (out and lse null).
void attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv, const float* out,
                        const float* lse, const float* att, const int32_t* doc_pos, int64_t B, int64_t T,
                        int64_t NH, int64_t KVH, int64_t HS, cudaStream_t stream);
void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache, const float* v_cache,
                      int64_t B, int64_t length, int64_t capacity, int64_t NH, int64_t KVH, int64_t HS,
                      cudaStream_t stream);

// ---- embedding.cu ------------------------------------------------------------------------------
void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t C, cudaStream_t stream);
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        const int32_t* doc_pos, int64_t B, int64_t T, int64_t C, cudaStream_t stream);

// ---- reductions.cu -----------------------------------------------------------------------------
void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC, cudaStream_t stream);
// Blocks of the first pass of sum and sum_of_squares: `partials` must hold this many doubles.
inline constexpr int kReductionBlocks = 256;
// *result (device) = sum of x, or of x^2, in a fixed order (partials: kReductionBlocks doubles).
void sum(double* result, double* partials, const float* x, int64_t n, bool squares, cudaStream_t stream);

// ---- loss.cu -----------------------------------------------------------------------------------
void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets, int64_t N, int64_t V,
                                    float normalizer, bool write_gradient, cudaStream_t stream);

// ---- adamw.cu ----------------------------------------------------------------------------------
// AdamW over parameters [begin, end) of one segment.
void adamw_segment(float* params, const float* grads, float* m, float* v, int64_t begin, int64_t end,
                   float decay_factor, const cuda_math::AdamWConstants& constants, cudaStream_t stream);

}  // namespace utt::cuda
