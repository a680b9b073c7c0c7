// The reference kernels: plain loops written to be obviously correct, accumulating in double.
// They are the oracle every other kernel is tested against, and the CPU backend's reference mode.
//
// Templated on the storage type S: float for the backend, double for the finite-difference tests
// of every backward. Signatures, shapes and the accumulate (+=) / overwrite (=) convention are the
// ones of the matching Backend op in backend/backend.h.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace utt::reference {

template <typename S>
void matmul(S* c, const S* a, const S* b, const S* bias, int64_t M, int64_t N, int64_t K,
            Transpose transpose_a, Transpose transpose_b, Accumulate accumulate);
template <typename S>
void bias_backward(S* dbias, const S* dout, int64_t N, int64_t OC);

template <typename S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe,
                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t C);
template <typename S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, const int32_t* doc_pos,
                        int64_t B, int64_t T, int64_t C);

template <typename S>
void rmsnorm_forward(S* out, S* rstd, const S* x, const S* weight, int64_t N, int64_t C, double eps);
template <typename S>
void rmsnorm_backward(S* dx, S* dweight, const S* dout, const S* x, const S* weight, const S* rstd,
                      int64_t N, int64_t C);
template <typename S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* x, const S* weight, const S* bias,
                       int64_t N, int64_t C, double eps);
template <typename S>
void layernorm_backward(S* dx, S* dweight, S* dbias, const S* dout, const S* x, const S* weight,
                        const S* mean, const S* rstd, int64_t N, int64_t C);

template <typename S>
void rope_table(S* cos, S* sin, int64_t T, int64_t HS, double theta);
// direction +1: forward rotation; -1: its inverse (the backward).
template <typename S>
void rope_rotate(S* x, const S* cos, const S* sin, int64_t B, int64_t T, int64_t heads, int64_t HS,
                 int64_t row_stride, int direction);

// doc_pos (B, T) or null: query t sees keys t - doc_pos[t] .. t (backend.h).
template <typename S>
void attention_forward(S* out, S* lse, const S* qkv, const int32_t* doc_pos, int64_t B, int64_t T,
                       int64_t NH, int64_t KVH, int64_t HS);
template <typename S>
void attention_backward(S* dqkv, const S* dout, const S* qkv, const S* out, const S* lse,
                        const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS);
template <typename S>
void naive_attention_forward(S* out, S* att, const S* qkv, const int32_t* doc_pos, int64_t B, int64_t T,
                             int64_t NH, int64_t KVH, int64_t HS);
template <typename S>
void naive_attention_backward(S* dqkv, S* datt, const S* dout, const S* qkv, const S* att,
                              const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH, int64_t KVH,
                              int64_t HS);

template <typename S>
void decode_attention(S* out, const S* q, int64_t q_stride, const S* k_cache, const S* v_cache,
                      int64_t B, int64_t length, int64_t capacity, int64_t NH, int64_t KVH,
                      int64_t HS);

template <typename S>
void glu_forward(S* out, const S* h, int64_t N, int64_t F, Activation act);
template <typename S>
void glu_backward(S* dh, const S* dout, const S* h, int64_t N, int64_t F, Activation act);
template <typename S>
void activation_forward(S* out, const S* x, int64_t n, Activation act);
template <typename S>
void activation_backward(S* dx, const S* dout, const S* x, int64_t n, Activation act);

template <typename S>
void dropout(S* x, int64_t n, float rate, uint64_t key);
template <typename S>
void residual_dropout(S* out, const S* residual, const S* x, int64_t n, float rate, uint64_t key);

template <typename S>
void cross_entropy_forward_backward(S* losses, S* logits, const int32_t* targets, int64_t N,
                                    int64_t V, double normalizer, LogitGradient logit_gradient);

template <typename S>
void adamw_step(S* params, const S* grads, S* m, S* v, const ParameterSegment* segments,
                int64_t segment_count, const AdamWHyper& hyper, double grad_scale);

// Scalar helpers shared by both kernel families, in double.
double gelu_tanh(double x);
double gelu_tanh_derivative(double x);
double silu(double x);
double silu_derivative(double x);

}  // namespace utt::reference
