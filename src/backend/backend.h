// The op interface: every computation of the model and the optimizer is one of these calls.
//
// Kernels take raw pointers into buffers the backend allocated (`allocate`), and explicit sizes;
// they never allocate, log or throw. The model and the trainer never read or write buffer contents
// directly: data crosses between the host and the backend only through upload/download and the
// scalar-returning reductions, so a device backend can implement the same interface.
//
// Shapes use utt's vocabulary: B batch, T sequence, C d_model, V vocabulary, NH query heads,
// KVH key/value heads, HS head size, F d_ff, N = B*T rows. All buffers are row-major fp32
// unless said otherwise; token ids are int32.
//
// Gradient convention (as in llm.c): backward ops ACCUMULATE (+=) into parameter gradients
// (dweight, dbias) so micro-batches add up, and into the residual stream gradient `dx` of the
// norms (the residual branch and the skip path meet there). Every other activation gradient is
// OVERWRITTEN (=). Each op's comment says which.
//
// Execution contract (what a device backend may do asynchronously, and what callers rely on):
// - Order: ops run in the order they are called, each seeing every earlier op's writes. A device
//   backend queues them on one stream; a call may return before its op has run.
// - upload: the host memory may be reused, changed or freed as soon as upload returns (the
//   backend has read it, or copied it into staging memory of its own). Callers may upload from a
//   stack variable or refill one staging vector before every upload.
// - download, sum, sum_of_squares: return only when the host has the values, so each waits for
//   every op queued before it (a synchronization point).
// - synchronize(): waits until every queued op has finished, and reports a device failure of any
//   of them. The trainer calls it before reading the clock for a log line (the steps timed must
//   be done, not merely queued); results never depend on it.
// - Determinism: every op, reductions into gradients included (bias_backward, embedding_backward,
//   the norms' dweight, attention's dk/dv over GQA groups, sum, sum_of_squares), gives bit-identical
//   results for identical inputs on the same backend and device, run after run: a fixed
//   reduction order, never float atomics whose order depends on scheduling. This is what makes a
//   resumed run equal the uninterrupted one. Different backends agree within the tolerances of
//   the op registry test (tests/unit/backend/op_registry_test.cpp), not bit for bit.
// - Workspace: reserve_workspace(config, rows) is called once the model's buffers exist; after
//   it, no op of a step over at most `rows` rows of that model allocates device memory, so a
//   step's device memory is known before the first step runs. Host memory is allocated only on
//   the first call of a shape (the CPU backend's scratch, the CUDA matmul's per-shape plans), so
//   a repeated step allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "config/model_config.h"

namespace utt {

enum class Transpose { kNo, kYes };
enum class Accumulate { kNo, kYes };  // C = ...  or  C += ...
enum class LogitGradient { kSkip, kWrite };  // cross-entropy: leave the logits, or overwrite them
                                             // with d(loss)/d(logits)

// A segment of the parameter buffer for AdamW: [begin, end) elements, with or without weight decay.
struct ParameterSegment {
  int64_t begin = 0;
  int64_t end = 0;
  bool decay = false;
};

// Every op of the interface, for backends that say which they implement (supports) and for the
// op registry test, which must have an entry for each.
enum class Op {
  kMatmul, kBiasBackward, kEmbeddingForward, kEmbeddingBackward, kRmsnormForward,
  kRmsnormBackward, kLayernormForward, kLayernormBackward, kRopeTable, kRopeForward, kRopeBackward,
  kAttentionForward, kAttentionBackward, kNaiveAttentionForward, kNaiveAttentionBackward,
  kDecodeAttention, kGluForward, kGluBackward, kActivationForward, kActivationBackward, kDropout,
  kResidualDropout, kCrossEntropy, kAddInplace, kScale, kSum, kSumOfSquares, kAdamwStep,
};
inline constexpr int kOpCount = static_cast<int>(Op::kAdamwStep) + 1;
inline const char* op_name(Op op) {
  constexpr const char* kNames[kOpCount] = {
      "matmul", "bias_backward", "embedding_forward", "embedding_backward", "rmsnorm_forward",
      "rmsnorm_backward", "layernorm_forward", "layernorm_backward", "rope_table", "rope_forward",
      "rope_backward", "attention_forward", "attention_backward", "naive_attention_forward",
      "naive_attention_backward", "decode_attention", "glu_forward", "glu_backward",
      "activation_forward", "activation_backward", "dropout", "residual_dropout",
      "cross_entropy_forward_backward", "add_inplace", "scale", "sum", "sum_of_squares",
      "adamw_step"};
  return kNames[static_cast<int>(op)];
}

struct AdamWHyper {
  double learning_rate = 0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0;
  int64_t step = 1;  // 1-based count of steps taken, including this one (bias correction)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Whether this backend has a kernel for `op`. A model runs only on a backend that supports
  // every op (make_backend checks); calling an unsupported op is an internal error.
  virtual bool supports(Op op) const = 0;
  // Waits for every queued op (see the execution contract above).
  virtual void synchronize() = 0;
  // Sizes the scratch memory of every op a `config` model calls over up to `rows` rows (B*T);
  // a larger second call grows it. Called before the first step, never during one.
  virtual void reserve_workspace(const ModelConfig& config, int64_t rows) = 0;

  // ---- memory: owners allocate, kernels only use -------------------------------------------
  virtual float* allocate_floats(int64_t count) = 0;   // zero-filled
  virtual int32_t* allocate_ints(int64_t count) = 0;   // zero-filled
  // The most bytes this backend held at once (buffers and workspace) since it was made.
  virtual int64_t peak_allocated_bytes() const = 0;
  virtual void release(void* buffer) = 0;
  virtual void upload(float* device, const float* host, int64_t count) = 0;
  virtual void upload(int32_t* device, const int32_t* host, int64_t count) = 0;
  virtual void download(float* host, const float* device, int64_t count) = 0;
  virtual void copy(float* dst, const float* src, int64_t count) = 0;
  virtual void fill(float* x, float value, int64_t count) = 0;

  // ---- matmul ------------------------------------------------------------------------------
  // c (M, N) = [c +] op(a) op(b) [+ bias (N)]; op(a) is (M, K): a is stored (M, K), or (K, M)
  // when transposed; op(b) is (K, N): b is stored (K, N), or (N, K) when transposed.
  // A linear layer y = x W^T with W [OC, IC] is matmul(y, x, W, bias, N, OC, IC, kNo, kYes).
  virtual void matmul(float* c, const float* a, const float* b, const float* bias, int64_t M,
                      int64_t N, int64_t K, Transpose transpose_a, Transpose transpose_b,
                      Accumulate accumulate) = 0;
  // dbias (OC) += column sums of dout (N, OC).
  virtual void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC) = 0;

  // ---- embeddings --------------------------------------------------------------------------
  // out (N, C) = wte[tokens[n]] + (wpe ? wpe[position(n)] : 0); tokens (N), N = B*T;
  // position(n) = doc_pos[n] (documents restart their positions), or n % T when doc_pos is null.
  virtual void embedding_forward(float* out, const int32_t* tokens, const float* wte,
                                 const float* wpe, const int32_t* doc_pos, int64_t B, int64_t T,
                                 int64_t C) = 0;
  // dwte (V, C) += scattered dout rows; dwpe (T, C) += (when not null), at the same positions.
  virtual void embedding_backward(float* dwte, float* dwpe, const float* dout,
                                  const int32_t* tokens, const int32_t* doc_pos, int64_t B,
                                  int64_t T, int64_t C) = 0;

  // ---- norms -------------------------------------------------------------------------------
  // x (N, C) -> out (N, C); rstd (N) saved. out = x * rstd * weight.
  virtual void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight,
                               int64_t N, int64_t C, float eps) = 0;
  // dx += ; dweight += .
  virtual void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x,
                                const float* weight, const float* rstd, int64_t N, int64_t C) = 0;
  // x (N, C) -> out (N, C); mean, rstd (N) saved. out = (x - mean) * rstd * weight + bias.
  virtual void layernorm_forward(float* out, float* mean, float* rstd, const float* x,
                                 const float* weight, const float* bias, int64_t N, int64_t C,
                                 float eps) = 0;
  // dx += ; dweight += ; dbias += .
  virtual void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout,
                                  const float* x, const float* weight, const float* mean,
                                  const float* rstd, int64_t N, int64_t C) = 0;

  // ---- rotary positions (rotate-half pairing: i with i + HS/2) ------------------------------
  // cos, sin (T, HS/2): angle t * theta^(-2i/HS).
  virtual void rope_table(float* cos, float* sin, int64_t T, int64_t HS, double theta) = 0;
  // In place on the first `heads` heads of every row of x (B*T rows of `row_stride` floats).
  // Backward is the inverse rotation, also in place on the gradient.
  virtual void rope_forward(float* x, const float* cos, const float* sin, int64_t B, int64_t T,
                            int64_t heads, int64_t HS, int64_t row_stride) = 0;
  virtual void rope_backward(float* dx, const float* cos, const float* sin, int64_t B, int64_t T,
                             int64_t heads, int64_t HS, int64_t row_stride) = 0;

  // ---- causal attention --------------------------------------------------------------------
  // qkv (B, T, (NH + 2*KVH) * HS): per row q heads, then k heads, then v heads. Query head h
  // reads kv head h / (NH / KVH). out (B, T, NH*HS).
  // Document masking: doc_pos (B, T), each token's position inside its document, so that query
  // t sees keys t - doc_pos[t] .. t and never a key of an earlier document in its row. Positions
  // count within the row (a row's first token is 0, also when it continues a document) and
  // documents are contiguous: doc_pos[b, t] is 0 (a document starts) or doc_pos[b, t-1] + 1.
  // nullptr: one document per row (plain causal).
  // Flash-style: tiled over keys with an online softmax; never a T x T matrix. Saves the
  // log-sum-exp of the scaled scores, lse (B, NH, T).
  virtual void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos,
                                 int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) = 0;
  // dqkv = (overwrite), recomputing probabilities from lse.
  virtual void attention_backward(float* dqkv, const float* dout, const float* qkv,
                                  const float* out, const float* lse, const int32_t* doc_pos,
                                  int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) = 0;
  // Naive: materializes the probabilities att (B, NH, T, T) (zero where a query sees no key).
  virtual void naive_attention_forward(float* out, float* att, const float* qkv,
                                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH,
                                       int64_t KVH, int64_t HS) = 0;
  // dqkv = (overwrite); datt (B, NH, T, T) is scratch.
  virtual void naive_attention_backward(float* dqkv, float* datt, const float* dout,
                                        const float* qkv, const float* att, const int32_t* doc_pos,
                                        int64_t B, int64_t T, int64_t NH, int64_t KVH,
                                        int64_t HS) = 0;

  // ---- decode attention: one new position per sequence against a key/value cache ------------
  // q: B rows of q_stride floats, each starting with the NH query heads (HS each) of the
  // sequence's newest position (q_stride >= NH*HS, so a qkv row can be passed as it is).
  // k_cache, v_cache (B, capacity, KVH*HS): position-major, keys (RoPE applied) and values of
  // positions [0, length) filled, the newest position's included; rows at and past `length` are
  // never read. out (B, NH*HS) = softmax(q k^T / sqrt(HS)) v over those `length` positions
  // (overwrite). Query head h reads kv head h / (NH / KVH). No mask: every cached position
  // precedes or is the query's own, so this equals the last row of attention_forward over the
  // same prefix. 1 <= length <= capacity. Forward only (generation); nothing is saved.
  virtual void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache,
                                const float* v_cache, int64_t B, int64_t length, int64_t capacity,
                                int64_t NH, int64_t KVH, int64_t HS) = 0;

  // ---- feed-forward nonlinearities ---------------------------------------------------------
  // Gated linear unit. h (N, 2F): per row gate [0, F) then up [F, 2F) -> out (N, F) =
  // act(gate) * up: SwiGLU with silu, GeGLU with gelu (tanh form), ReGLU with relu.
  virtual void glu_forward(float* out, const float* h, int64_t N, int64_t F, Activation act) = 0;
  // dh = (overwrite).
  virtual void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F,
                            Activation act) = 0;
  // out (n) = act(x); GELU is the tanh form.
  virtual void activation_forward(float* out, const float* x, int64_t n, Activation act) = 0;
  // dx = (overwrite); may alias dout.
  virtual void activation_backward(float* dx, const float* dout, const float* x, int64_t n,
                                   Activation act) = 0;

  // ---- dropout -----------------------------------------------------------------------------
  // In place: x[i] *= keep(key, i) / (1 - rate), keep(key, i) = a counter-based hash of (key, i)
  // >= rate. The mask is a pure function of (key, i): the backward pass calls this same op with
  // the same key on the gradient, and a resumed run reproduces it exactly.
  virtual void dropout(float* x, int64_t n, float rate, uint64_t key) = 0;
  // out = residual + dropout(x), or out = dropout(x) when residual is null: the same mask as
  // `dropout` with the same key, in one pass (out = ; may alias residual, not x). A dropped-out
  // branch joining the residual stream (forward), and the masked copy of the residual gradient
  // that enters the branch (backward), without a separate copy, mask and add.
  virtual void residual_dropout(float* out, const float* residual, const float* x, int64_t n,
                                float rate, uint64_t key) = 0;

  // ---- loss --------------------------------------------------------------------------------
  // Fused softmax + cross-entropy. logits (N, V) -> losses (N) = logsumexp - logit[target]; when
  // `logit_gradient` is kWrite, the logits are overwritten with
  // dlogits = (softmax - onehot) / normalizer.
  // A negative target is ignored (loss 0, gradient 0).
  virtual void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets,
                                              int64_t N, int64_t V, float normalizer,
                                              LogitGradient logit_gradient) = 0;

  // ---- element-wise and reductions ---------------------------------------------------------
  // y += x.
  virtual void add_inplace(float* y, const float* x, int64_t n) = 0;
  virtual void scale(float* x, float factor, int64_t n) = 0;
  // Read back to the host (a synchronization point on a device backend).
  virtual double sum(const float* x, int64_t n) = 0;
  virtual double sum_of_squares(const float* x, int64_t n) = 0;

  // ---- optimizer ---------------------------------------------------------------------------
  // PyTorch's AdamW over the segments of the parameter buffer: p *= 1 - lr*wd (decayed segments
  // only), then Adam with bias correction and eps added to sqrt(v_hat). grads are multiplied by
  // grad_scale first (gradient clipping without a separate pass).
  virtual void adamw_step(float* params, const float* grads, float* m, float* v,
                          const ParameterSegment* segments, int64_t segment_count,
                          const AdamWHyper& hyper, float grad_scale) = 0;
};

// RAII ownership of one backend buffer.
template <typename T>
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend& backend, int64_t count) : backend_(&backend), count_(count) {
    if constexpr (std::is_same_v<T, float>) {
      data_ = backend.allocate_floats(count);
    } else {
      data_ = backend.allocate_ints(count);
    }
  }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;
  BackendBuffer(BackendBuffer&& other) noexcept { *this = std::move(other); }
  BackendBuffer& operator=(BackendBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      backend_ = other.backend_;
      data_ = other.data_;
      count_ = other.count_;
      other.data_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }
  ~BackendBuffer() { reset(); }

  T* get() const { return data_; }
  int64_t count() const { return count_; }

 private:
  void reset() {
    if (data_ != nullptr) backend_->release(data_);
    data_ = nullptr;
  }
  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  int64_t count_ = 0;
};

}  // namespace utt
