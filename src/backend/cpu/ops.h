// The optimized CPU kernels: oneDNN, OpenBLAS or our own gemm for matmuls (matmul.cpp says which
// when), OpenMP across rows/heads, inner loops written
// so the compiler vectorizes them (`omp simd`). Signatures, shapes and the accumulate (+=) /
// overwrite (=) convention are those of the matching Backend op in backend/backend.h; each is
// tested against its twin in backend/cpu/reference.
//
// Parameter-gradient reductions over rows (dweight of the norms, dbias, embedding tables) are
// parallelized over columns rather than rows, so no two threads write the same gradient element
// and no per-thread scratch is needed (kernels never allocate).
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace utt::cpu {

// Below this many elements (or multiply-adds) an op runs on one thread: starting a parallel region
// costs microseconds, and far more when the cores are busy with other work (measured: small-model
// tests took 100x longer on a loaded 2-core machine with every op threaded).
inline constexpr int64_t kMinParallelWork = 1 << 15;

void set_thread_count(int threads);
int thread_count();

void matmul(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
            int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);
// The OpenBLAS path alone: c = op(a) op(b) + beta c, sliced over our threads when large.
void openblas_matmul(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K,
                     Transpose transpose_a, Transpose transpose_b, float beta);
void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC);

void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t C);
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        const int32_t* doc_pos, int64_t B, int64_t T, int64_t C);

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int64_t N,
                     int64_t C, float eps);
void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x,
                      const float* weight, const float* rstd, int64_t N, int64_t C);
void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                        const float* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C);

void rope_rotate(float* x, const float* cos, const float* sin, int64_t B, int64_t T, int64_t heads,
                 int64_t HS, int64_t row_stride, int direction);

// doc_pos (B, T) or null: document masking, as backend.h says.
void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos, int64_t B,
                       int64_t T, int64_t NH, int64_t KVH, int64_t HS);
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH,
                        int64_t KVH, int64_t HS);
void naive_attention_forward(float* out, float* att, const float* qkv, const int32_t* doc_pos,
                             int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS);
void naive_attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv,
                              const float* att, const int32_t* doc_pos, int64_t B, int64_t T,
                              int64_t NH, int64_t KVH, int64_t HS);
void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache,
                      const float* v_cache, int64_t B, int64_t length, int64_t capacity, int64_t NH,
                      int64_t KVH, int64_t HS);

void glu_forward(float* out, const float* h, int64_t N, int64_t F, Activation act);
void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F, Activation act);
void activation_forward(float* out, const float* x, int64_t n, Activation act);
void activation_backward(float* dx, const float* dout, const float* x, int64_t n, Activation act);
void dropout(float* x, int64_t n, float rate, uint64_t key);
void residual_dropout(float* out, const float* residual, const float* x, int64_t n, float rate,
                      uint64_t key);

void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets, int64_t N,
                                    int64_t V, float normalizer, LogitGradient logit_gradient);

void add_inplace(float* y, const float* x, int64_t n);
void scale(float* x, float factor, int64_t n);
double sum(const float* x, int64_t n);
double sum_of_squares(const float* x, int64_t n);
void adamw_step(float* params, const float* grads, float* m, float* v,
                const ParameterSegment* segments, int64_t segment_count, const AdamWHyper& hyper,
                float grad_scale);

}  // namespace utt::cpu
