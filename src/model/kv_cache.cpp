#include "model/kv_cache.h"

#include "util/error.h"

namespace utt {

KvCacheDecoder::KvCacheDecoder(const Transformer& model)
    : model_(model), backend_(model.backend()) {
  const ModelConfig& c = model.config();
  const int64_t C = c.d_model;
  qkv_width_ = C + 2 * c.kv_dim();
  token_ = BackendBuffer<int32_t>(backend_, 1);
  x_ = BackendBuffer<float>(backend_, C);
  normed_ = BackendBuffer<float>(backend_, C);
  mean_ = BackendBuffer<float>(backend_, 1);
  rstd_ = BackendBuffer<float>(backend_, 1);
  middle_ = BackendBuffer<float>(backend_, C);
  hidden_ = BackendBuffer<float>(backend_, c.swiglu ? 2 * c.d_ff : c.d_ff);
  act_ = BackendBuffer<float>(backend_, c.d_ff);
  logits_ = BackendBuffer<float>(backend_, c.vocab_size);
  if (c.rope) {
    rope_cos_ = BackendBuffer<float>(backend_, c.seq_len * c.head_dim() / 2);
    rope_sin_ = BackendBuffer<float>(backend_, c.seq_len * c.head_dim() / 2);
    backend_.rope_table(rope_cos_.get(), rope_sin_.get(), c.seq_len, c.head_dim(), c.rope_theta);
  }
  for (int64_t l = 0; l < c.num_layers; ++l) qkv_.emplace_back(backend_, c.seq_len * qkv_width_);
  attention_ = BackendBuffer<float>(backend_, c.seq_len * C);
  lse_ = BackendBuffer<float>(backend_, c.num_heads * c.seq_len);
}

void KvCacheDecoder::norm(float* out, const float* x, int64_t weight, int64_t bias) {
  const ModelConfig& c = model_.config();
  const float eps = static_cast<float>(c.norm_eps);
  if (c.rmsnorm) {
    backend_.rmsnorm_forward(out, rstd_.get(), x, param(weight), 1, c.d_model, eps);
  } else {
    backend_.layernorm_forward(out, mean_.get(), rstd_.get(), x, param(weight), param(bias), 1,
                               c.d_model, eps);
  }
}

void KvCacheDecoder::linear(float* y, const float* x, int64_t weight, int64_t bias, int64_t in,
                            int64_t out, Accumulate accumulate) {
  backend_.matmul(y, x, param(weight), param(bias), 1, out, in, Transpose::kNo, Transpose::kYes,
                  accumulate);
}

std::vector<float> KvCacheDecoder::append(int32_t token) {
  const ModelConfig& c = model_.config();
  UTT_CHECK(length_ < c.seq_len, "KV cache full: reset() and refill before appending");
  UTT_CHECK(token >= 0 && token < c.vocab_size, "token id out of range: " + std::to_string(token));
  const ParameterLayout& layout = model_.layout();
  const int64_t C = c.d_model;
  const int64_t HS = c.head_dim();
  const int64_t p = length_;

  backend_.upload(token_.get(), &token, 1);
  // A (1, 1) embedding reads position row 0 of the table it is given: hand it row p.
  const float* wpe = layout.pos_embeddings() < 0 ? nullptr : param(layout.pos_embeddings()) + p * C;
  backend_.embedding_forward(x_.get(), token_.get(), param(layout.tok_embeddings()), wpe, 1, 1, C);

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LayerOffsets& w = layout.layer(l);
    float* row = qkv_[static_cast<size_t>(l)].get() + p * qkv_width_;
    norm(normed_.get(), x_.get(), w.attention_norm_weight, w.attention_norm_bias);
    linear(row, normed_.get(), w.qkv_weight, w.qkv_bias, C, qkv_width_, Accumulate::kNo);
    if (c.rope) {
      const float* cos = rope_cos_.get() + p * (HS / 2);
      const float* sin = rope_sin_.get() + p * (HS / 2);
      backend_.rope_forward(row, cos, sin, 1, 1, c.num_heads, HS, qkv_width_);
      backend_.rope_forward(row + C, cos, sin, 1, 1, c.num_kv_heads, HS, qkv_width_);
    }
    // Causal attention over the cached rows 0..p; row p's output is the new position's.
    backend_.attention_forward(attention_.get(), lse_.get(), qkv_[static_cast<size_t>(l)].get(), 1, p + 1,
                               c.num_heads, c.num_kv_heads, HS);
    backend_.copy(middle_.get(), x_.get(), C);
    linear(middle_.get(), attention_.get() + p * C, w.wo_weight, w.wo_bias, C, C, Accumulate::kYes);

    norm(normed_.get(), middle_.get(), w.ffn_norm_weight, w.ffn_norm_bias);
    linear(hidden_.get(), normed_.get(), w.ffn_in_weight, w.ffn_in_bias, C,
           c.swiglu ? 2 * c.d_ff : c.d_ff, Accumulate::kNo);
    if (c.swiglu) {
      backend_.glu_forward(act_.get(), hidden_.get(), 1, c.d_ff, c.activation);
    } else {
      backend_.activation_forward(act_.get(), hidden_.get(), c.d_ff, c.activation);
    }
    backend_.copy(x_.get(), middle_.get(), C);
    linear(x_.get(), act_.get(), w.w_down_weight, w.w_down_bias, c.d_ff, C, Accumulate::kYes);
  }
  norm(normed_.get(), x_.get(), layout.norm_weight(), layout.norm_bias());
  linear(logits_.get(), normed_.get(), layout.output_weight(), -1, C, c.vocab_size, Accumulate::kNo);
  ++length_;
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  backend_.download(logits.data(), logits_.get(), c.vocab_size);
  return logits;
}

}  // namespace utt
