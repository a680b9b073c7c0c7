#include "model/transformer.h"

#include <algorithm>

#include "backend/dropout_hash.h"
#include "model/lora_adapters.h"
#include "model/kv_cache.h"
#include "util/error.h"

namespace utt {
namespace {

// Dropout sites within a layer; the embedding's uses layer -1.
constexpr int64_t kSiteEmbedding = 0;
constexpr int64_t kSiteAttention = 1;
constexpr int64_t kSiteFeedForward = 2;
constexpr int64_t kSiteLora = 16;  // + the adapter group

}  // namespace

Transformer::Transformer(const ModelConfig& config, Backend& backend, int64_t max_batch,
                         ModelUse use, ActivationMemory memory)
    : config_(config),
      backend_(backend),
      use_(use),
      base_frozen_(use == ModelUse::kAdapterTraining),
      layout_(config),
      parameters_(backend, layout_.total()),
      gradients_(use == ModelUse::kTraining ? BackendBuffer<float>(backend, layout_.total())
                                            : BackendBuffer<float>()),
      activations_(backend, config, max_batch, use, 0, memory),
      discarded_norm_gradients_(backend, use == ModelUse::kAdapterTraining ? 2 * config.d_model : 0),
      staged_inputs_(static_cast<size_t>(max_batch * config.seq_len)),
      staged_targets_(static_cast<size_t>(max_batch * config.seq_len)) {
  UTT_CHECK(config.d_model % config.num_heads == 0 && config.num_heads % config.num_kv_heads == 0,
            "heads must divide d_model and kv heads must divide heads");
  UTT_CHECK(!config.rope || config.head_dim() % 2 == 0, "RoPE needs an even head size");
  // Every buffer of the model exists now; the backend sizes its scratch so no step allocates.
  backend_.reserve_workspace(config, max_batch * config.seq_len);
}

void Transformer::set_parameters(const std::vector<float>& values) {
  UTT_CHECK(static_cast<int64_t>(values.size()) == layout_.total(), "parameter count mismatch");
  backend_.upload(parameters_.get(), values.data(), layout_.total());
}

std::vector<float> Transformer::get_parameters() const {
  std::vector<float> values(static_cast<size_t>(layout_.total()));
  backend_.download(values.data(), parameters_.get(), layout_.total());
  return values;
}

std::vector<float> Transformer::get_gradients() const {
  UTT_CHECK(!base_frozen_, "get_gradients: the base parameters are frozen (LoRA) and have no gradients");
  UTT_CHECK(gradients_.get() != nullptr, "a model built for inference has no gradients");
  std::vector<float> values(static_cast<size_t>(layout_.total()));
  backend_.download(values.data(), gradients_.get(), layout_.total());
  return values;
}

void Transformer::zero_gradients() {
  if (!base_frozen()) {
    UTT_CHECK(gradients_.get() != nullptr, "a model built for inference has no gradients");
    backend_.fill(gradients_.get(), 0.0f, layout_.total());
  }
  if (lora_ != nullptr) lora_->zero_gradients();
}

float* Transformer::trainable_parameters() const { return lora_ ? lora_->parameters() : parameters_.get(); }
float* Transformer::trainable_gradients() const { return lora_ ? lora_->gradients() : gradients_.get(); }
int64_t Transformer::trainable_count() const { return lora_ ? lora_->count() : layout_.total(); }
std::vector<ParameterSegment> Transformer::trainable_segments() const {
  return lora_ ? lora_->layout().optimizer_segments() : layout_.optimizer_segments();
}

void Transformer::lora_forward(int64_t layer, int64_t group, const float* x, float* y, int64_t N) {
  if (lora_ == nullptr) return;
  lora_->forward(layer, static_cast<LoraGroup>(group), x, y, N, last_options_.training,
                 dropout_site(layer, kSiteLora + group));
}

void Transformer::lora_backward(int64_t layer, int64_t group, const float* x, const float* dy, float* dx,
                                int64_t N) {
  if (lora_ == nullptr) return;
  lora_->backward(layer, static_cast<LoraGroup>(group), x, dy, dx, N, last_options_.training,
                  dropout_site(layer, kSiteLora + group));
}

bool Transformer::dropout_active() const {
  return last_options_.training && config_.dropout_rate > 0.0;
}

uint64_t Transformer::dropout_site(int64_t layer, int64_t site) const {
  return dropout_key(last_options_.dropout_seed, last_options_.step, last_options_.micro_batch,
                     layer, site);
}

void Transformer::norm_forward(NormSaved& saved, const float* x, int64_t weight, int64_t bias,
                               int64_t N) {
  const float eps = static_cast<float>(config_.norm_eps);
  if (config_.rmsnorm) {
    backend_.rmsnorm_forward(saved.out.get(), saved.rstd.get(), x, param(weight), N, config_.d_model, eps);
  } else {
    backend_.layernorm_forward(saved.out.get(), saved.mean.get(), saved.rstd.get(), x, param(weight),
                               param(bias), N, config_.d_model, eps);
  }
}

void Transformer::norm_backward(float* dx, const float* dout, const float* x, const NormSaved& saved,
                                int64_t weight, int64_t bias, int64_t N) {
  float* dweight = base_frozen() ? discarded_norm_gradients_.get() : grad(weight);
  float* dbias = base_frozen() ? (bias < 0 ? nullptr : discarded_norm_gradients_.get() + config_.d_model) : grad(bias);
  if (config_.rmsnorm) {
    backend_.rmsnorm_backward(dx, dweight, dout, x, param(weight), saved.rstd.get(), N, config_.d_model);
  } else {
    backend_.layernorm_backward(dx, dweight, dbias, dout, x, param(weight), saved.mean.get(), saved.rstd.get(), N,
                                config_.d_model);
  }
}

void Transformer::linear_forward(float* y, const float* x, int64_t weight, int64_t bias, int64_t N,
                                 int64_t IC, int64_t OC, Accumulate accumulate) {
  backend_.matmul(y, x, param(weight), param(bias), N, OC, IC, Transpose::kNo, Transpose::kYes,
                  accumulate);
}

void Transformer::linear_backward(float* dx, const float* dy, const float* x, int64_t weight,
                                  int64_t bias, int64_t N, int64_t IC, int64_t OC,
                                  Accumulate accumulate_dx) {
  if (dx != nullptr) {
    backend_.matmul(dx, dy, param(weight), nullptr, N, IC, OC, Transpose::kNo, Transpose::kNo,
                    accumulate_dx);
  }
  if (base_frozen()) return;  // LoRA: the base weights get no gradient
  backend_.matmul(grad(weight), dy, x, nullptr, OC, IC, N, Transpose::kYes, Transpose::kNo,
                  Accumulate::kYes);
  if (bias >= 0) backend_.bias_backward(grad(bias), dy, N, OC);
}

double Transformer::forward(const int32_t* tokens, int64_t rows, const ForwardOptions& options) {
  const int64_t T = config_.seq_len;
  UTT_CHECK(rows >= 1 && rows <= max_batch(), "batch of " + std::to_string(rows) +
                                                  " rows exceeds the model's " + std::to_string(max_batch()));
  // Split the (rows, T + 1) windows into inputs row[:-1] and targets row[1:].
  for (int64_t b = 0; b < rows; ++b) {
    std::copy_n(tokens + b * (T + 1), T, staged_inputs_.begin() + b * T);
    std::copy_n(tokens + b * (T + 1) + 1, T, staged_targets_.begin() + b * T);
  }
  return forward(staged_inputs_.data(), staged_targets_.data(), rows, options);
}

double Transformer::forward(const int32_t* inputs, const int32_t* targets, int64_t rows,
                            const ForwardOptions& options) {
  const int64_t T = config_.seq_len;
  UTT_CHECK(rows >= 1 && rows <= max_batch(), "batch of " + std::to_string(rows) +
                                                  " rows exceeds the model's " + std::to_string(max_batch()));
  UTT_CHECK(!options.training || use_ != ModelUse::kInference,
            "a training forward needs a model built for training, not ModelUse::kInference");
  const int64_t N = rows * T;
  int64_t target_count = 0;
  for (int64_t n = 0; n < N; ++n) {
    UTT_CHECK(inputs[n] >= 0 && inputs[n] < config_.vocab_size, "token id out of range: " + std::to_string(inputs[n]));
    UTT_CHECK(targets[n] < config_.vocab_size, "target id out of range: " + std::to_string(targets[n]));
    if (targets[n] >= 0) ++target_count;
  }
  backend_.upload(activations_.inputs.get(), inputs, N);
  backend_.upload(activations_.targets.get(), targets, N);
  if (options.doc_pos != nullptr) {
    for (int64_t n = 0; n < N; ++n) {
      const int32_t position = options.doc_pos[n];
      // Window-relative (a row starts at 0), so a learned position stays inside the table.
      UTT_CHECK(n % T == 0 ? position == 0 : position == 0 || position == options.doc_pos[n - 1] + 1,
                "doc_pos must start each row at 0 and restart at 0 or count up by one within it");
    }
    backend_.upload(activations_.doc_pos.get(), options.doc_pos, N);
  }

  last_B_ = rows;
  last_T_ = T;
  last_options_ = options;
  doc_masked_ = options.doc_pos != nullptr;
  forward_layers(activations_, rows, T, options);

  const double normalizer =
      options.loss_normalizer > 0 ? options.loss_normalizer : static_cast<double>(std::max<int64_t>(target_count, 1));
  backend_.cross_entropy_forward_backward(activations_.losses.get(), activations_.logits.get(),
                                          activations_.targets.get(), N, config_.vocab_size,
                                          static_cast<float>(normalizer),
                                          options.training ? LogitGradient::kWrite : LogitGradient::kSkip);
  gradient_ready_ = options.training;
  return backend_.sum(activations_.losses.get(), N) / normalizer;
}

void Transformer::forward_layers(Activations& a, int64_t B, int64_t T, const ForwardOptions& options,
                                 KvCache* cache) {
  const ModelConfig& c = config_;
  const int64_t N = B * T;
  const int64_t C = c.d_model;
  const int64_t HS = c.head_dim();
  const bool dropout = options.training && c.dropout_rate > 0.0;
  const float rate = static_cast<float>(c.dropout_rate);
  UTT_CHECK(B <= a.max_batch && T <= a.positions, "activations too small for this forward");
  // A full forward covers positions [0, T); a decoding step the one position after the cache's.
  UTT_CHECK(cache == nullptr || T == 1, "decoding runs one position at a time");
  const int64_t position = cache != nullptr ? cache->length : 0;
  const float* wpe = layout_.pos_embeddings() < 0 ? nullptr : param(layout_.pos_embeddings()) + position * C;
  const float* rope_cos = a.rope_cos.get() + (c.rope ? position * HS / 2 : 0);
  const float* rope_sin = a.rope_sin.get() + (c.rope ? position * HS / 2 : 0);

  // Document masking in a full forward (decoding attends over one sequence's cache).
  const int32_t* doc_pos = cache == nullptr && options.doc_pos != nullptr ? a.doc_pos.get() : nullptr;
  float* x0 = c.num_layers > 0 ? a.layer_input(0) : a.output.get();
  backend_.embedding_forward(x0, a.inputs.get(), param(layout_.tok_embeddings()), wpe, doc_pos, B, T, C);
  if (dropout) backend_.dropout(x0, N * C, rate, dropout_site(-1, kSiteEmbedding));

  for (int64_t l = 0; l < c.num_layers; ++l) {
    float* next = l + 1 < c.num_layers ? a.layer_input(l + 1) : a.output.get();
    layer_forward(a, l, next, B, T, dropout, rope_cos, rope_sin, doc_pos, cache);
  }

  norm_forward(a.final_norm, a.output.get(), layout_.norm_weight(), layout_.norm_bias(), N);
  linear_forward(a.logits.get(), a.final_norm.out.get(), layout_.output_weight(), -1, N, C,
                 c.vocab_size, Accumulate::kNo);
}

// One block; `next` may be null in a recomputation for the backward pass, which needs every
// activation of the block but not its output (the next block's input, kept).
void Transformer::layer_forward(Activations& a, int64_t l, float* next, int64_t B, int64_t T, bool dropout,
                                const float* rope_cos, const float* rope_sin, const int32_t* doc_pos,
                                KvCache* cache) {
  const ModelConfig& c = config_;
  const int64_t N = B * T;
  const int64_t C = c.d_model;
  const int64_t HS = c.head_dim();
  const int64_t qkv_width = C + 2 * c.kv_dim();
  const int64_t F = c.d_ff;
  const int64_t hidden_width = c.swiglu ? 2 * F : F;
  const float rate = static_cast<float>(c.dropout_rate);
  // With one shared set of buffers (inference), `next` is this layer's own input, free to be
  // overwritten once `middle` holds the residual stream.
  LayerActivations& layer = a.layer(l);
  const LayerOffsets& w = layout_.layer(l);
  const float* input = a.layer_input(l);

  // Attention block.
  norm_forward(layer.attention_norm, input, w.attention_norm_weight, w.attention_norm_bias, N);
  linear_forward(layer.qkv.get(), layer.attention_norm.out.get(), w.qkv_weight, w.qkv_bias, N, C,
                 qkv_width, Accumulate::kNo);
  lora_forward(l, 0, layer.attention_norm.out.get(), layer.qkv.get(), N);
  // The query heads and the key heads sit side by side at the start of each row: one pass
  // rotates both. RoPE keeps the window's positions under document masking: a score depends on
  // the distance between query and key alone, and masked attention only pairs tokens of one
  // document, so restarted positions would give the same scores (up to rounding).
  if (c.rope) {
    backend_.rope_forward(layer.qkv.get(), rope_cos, rope_sin, B, T, c.num_heads + c.num_kv_heads,
                          HS, qkv_width);
  }
  if (cache != nullptr) {
    cache->store(l, layer.qkv.get(), qkv_width);
    backend_.decode_attention(layer.attention.get(), layer.qkv.get(), qkv_width,
                              cache->keys[static_cast<size_t>(l)].get(),
                              cache->values[static_cast<size_t>(l)].get(), B, cache->length + 1,
                              cache->capacity, c.num_heads, c.num_kv_heads, HS);
  } else if (c.flash_attention) {
    backend_.attention_forward(layer.attention.get(), layer.lse.get(), layer.qkv.get(), doc_pos, B, T,
                               c.num_heads, c.num_kv_heads, HS);
  } else {
    backend_.naive_attention_forward(layer.attention.get(), layer.probabilities.get(),
                                     layer.qkv.get(), doc_pos, B, T, c.num_heads, c.num_kv_heads, HS);
  }
  // middle = input + dropout(attention wo^T + bo): one pass over the branch with dropout;
  // without it the matmul adds onto a copy of the input.
  if (dropout) {
    linear_forward(a.branch.get(), layer.attention.get(), w.wo_weight, w.wo_bias, N, C, C, Accumulate::kNo);
    lora_forward(l, 1, layer.attention.get(), a.branch.get(), N);
    backend_.residual_dropout(layer.middle.get(), input, a.branch.get(), N * C, rate,
                              dropout_site(l, kSiteAttention));
  } else {
    backend_.copy(layer.middle.get(), input, N * C);
    linear_forward(layer.middle.get(), layer.attention.get(), w.wo_weight, w.wo_bias, N, C, C,
                   Accumulate::kYes);
    lora_forward(l, 1, layer.attention.get(), layer.middle.get(), N);
  }

  // Feed-forward block.
  norm_forward(layer.ffn_norm, layer.middle.get(), w.ffn_norm_weight, w.ffn_norm_bias, N);
  linear_forward(layer.ffn_hidden.get(), layer.ffn_norm.out.get(), w.ffn_in_weight, w.ffn_in_bias, N, C,
                 hidden_width, Accumulate::kNo);
  lora_forward(l, 2, layer.ffn_norm.out.get(), layer.ffn_hidden.get(), N);
  if (c.swiglu) {
    backend_.glu_forward(layer.ffn_act.get(), layer.ffn_hidden.get(), N, F, c.activation);
  } else {
    backend_.activation_forward(layer.ffn_act.get(), layer.ffn_hidden.get(), N * F, c.activation);
  }
  if (next == nullptr) return;
  if (dropout) {
    linear_forward(a.branch.get(), layer.ffn_act.get(), w.w_down_weight, w.w_down_bias, N, F, C,
                   Accumulate::kNo);
    lora_forward(l, 3, layer.ffn_act.get(), a.branch.get(), N);
    backend_.residual_dropout(next, layer.middle.get(), a.branch.get(), N * C, rate,
                              dropout_site(l, kSiteFeedForward));
  } else {
    backend_.copy(next, layer.middle.get(), N * C);
    linear_forward(next, layer.ffn_act.get(), w.w_down_weight, w.w_down_bias, N, F, C, Accumulate::kYes);
    lora_forward(l, 3, layer.ffn_act.get(), next, N);
  }
}

void Transformer::backward(const std::function<void(int64_t offset)>& final_from) {
  UTT_CHECK(gradient_ready_, "backward() needs a training forward() just before it");
  gradient_ready_ = false;
  const ModelConfig& c = config_;
  const int64_t B = last_B_;
  const int64_t T = last_T_;
  const int64_t N = B * T;
  const int64_t C = c.d_model;
  const int64_t HS = c.head_dim();
  const int64_t qkv_width = C + 2 * c.kv_dim();
  const int64_t F = c.d_ff;
  const int64_t hidden_width = c.swiglu ? 2 * F : F;
  const bool dropout = dropout_active();
  const float rate = static_cast<float>(c.dropout_rate);
  Activations& a = activations_;
  float* dresidual = a.dresidual.get();

  // LM head and final norm: dlogits already sit in the logits buffer.
  linear_backward(a.dnorm.get(), a.logits.get(), a.final_norm.out.get(), layout_.output_weight(), -1, N,
                  C, c.vocab_size, Accumulate::kNo);
  backend_.fill(dresidual, 0.0f, N * C);
  norm_backward(dresidual, a.dnorm.get(), a.output.get(), a.final_norm, layout_.norm_weight(),
                layout_.norm_bias(), N);
  // Tied weights: the head's gradient is the embeddings', at the layout's start, still open.
  const auto final_after = [&](int64_t offset) {
    if (final_from && lora_ == nullptr && !base_frozen()) final_from(offset);
  };
  final_after(layout_.norm_weight());

  // The gradient reaching a residual branch: dresidual itself, or its dropout-masked copy.
  auto branch_gradient = [&](int64_t layer, int64_t site) -> const float* {
    if (!dropout) return dresidual;
    backend_.residual_dropout(a.dbranch.get(), nullptr, dresidual, N * C, rate, dropout_site(layer, site));
    return a.dbranch.get();
  };

  const bool recompute = !a.inputs_kept.empty();
  const int32_t* doc_pos = doc_masked_ ? a.doc_pos.get() : nullptr;
  for (int64_t l = c.num_layers - 1; l >= 0; --l) {
    LayerActivations& layer = a.layer(l);
    const LayerOffsets& w = layout_.layer(l);
    const float* input = a.layer_input(l);
    // Activation checkpointing: the layer's forward again, from its kept input, with the same
    // kernels, weights and dropout masks as the first time, so every activation (and with them
    // every gradient) is the same bit for bit. The last layer's are still in the shared set.
    if (recompute && l + 1 < c.num_layers) {
      layer_forward(a, l, nullptr, B, T, dropout, a.rope_cos.get(), a.rope_sin.get(), doc_pos, nullptr);
    }

    // Feed-forward block; dresidual is d(next).
    const float* dffn_out = branch_gradient(l, kSiteFeedForward);
    linear_backward(a.dffn_act.get(), dffn_out, layer.ffn_act.get(), w.w_down_weight, w.w_down_bias, N, F,
                    C, Accumulate::kNo);
    lora_backward(l, 3, layer.ffn_act.get(), dffn_out, a.dffn_act.get(), N);
    if (c.swiglu) {
      backend_.glu_backward(a.dffn_hidden.get(), a.dffn_act.get(), layer.ffn_hidden.get(), N, F,
                            c.activation);
    } else {
      backend_.activation_backward(a.dffn_hidden.get(), a.dffn_act.get(), layer.ffn_hidden.get(), N * F,
                                   c.activation);
    }
    linear_backward(a.dnorm.get(), a.dffn_hidden.get(), layer.ffn_norm.out.get(), w.ffn_in_weight,
                    w.ffn_in_bias, N, C, hidden_width, Accumulate::kNo);
    lora_backward(l, 2, layer.ffn_norm.out.get(), a.dffn_hidden.get(), a.dnorm.get(), N);
    norm_backward(dresidual, a.dnorm.get(), layer.middle.get(), layer.ffn_norm, w.ffn_norm_weight,
                  w.ffn_norm_bias, N);
    final_after(w.ffn_norm_weight);

    // Attention block; dresidual is now d(middle).
    const float* dattention_out = branch_gradient(l, kSiteAttention);
    linear_backward(a.dattention.get(), dattention_out, layer.attention.get(), w.wo_weight, w.wo_bias, N,
                    C, C, Accumulate::kNo);
    lora_backward(l, 1, layer.attention.get(), dattention_out, a.dattention.get(), N);
    if (c.flash_attention) {
      backend_.attention_backward(a.dqkv.get(), a.dattention.get(), layer.qkv.get(), layer.attention.get(),
                                  layer.lse.get(), doc_pos, B, T, c.num_heads, c.num_kv_heads, HS);
    } else {
      backend_.naive_attention_backward(a.dqkv.get(), a.dprobabilities.get(), a.dattention.get(),
                                        layer.qkv.get(), layer.probabilities.get(), doc_pos, B, T, c.num_heads,
                                        c.num_kv_heads, HS);
    }
    if (c.rope) {
      backend_.rope_backward(a.dqkv.get(), a.rope_cos.get(), a.rope_sin.get(), B, T,
                             c.num_heads + c.num_kv_heads, HS, qkv_width);
    }
    linear_backward(a.dnorm.get(), a.dqkv.get(), layer.attention_norm.out.get(), w.qkv_weight, w.qkv_bias,
                    N, C, qkv_width, Accumulate::kNo);
    lora_backward(l, 0, layer.attention_norm.out.get(), a.dqkv.get(), a.dnorm.get(), N);
    norm_backward(dresidual, a.dnorm.get(), input, layer.attention_norm,
                  w.attention_norm_weight, w.attention_norm_bias, N);
    final_after(w.attention_norm_weight);
  }

  // Embeddings; dresidual is d(x0).
  if (base_frozen()) return;
  const float* dembedding = dresidual;
  if (dropout) {
    backend_.residual_dropout(a.dbranch.get(), nullptr, dresidual, N * C, rate, dropout_site(-1, kSiteEmbedding));
    dembedding = a.dbranch.get();
  }
  backend_.embedding_backward(grad(layout_.tok_embeddings()), grad(layout_.pos_embeddings()), dembedding,
                              a.inputs.get(), doc_pos, B, T, C);
  final_after(0);
}

std::vector<float> Transformer::token_losses(int64_t rows) const {
  UTT_CHECK(rows >= 1 && rows <= last_B_, "token_losses: more rows than the last forward had");
  std::vector<float> losses(static_cast<size_t>(rows * config_.seq_len));
  backend_.download(losses.data(), activations_.losses.get(), rows * config_.seq_len);
  return losses;
}

std::vector<float> Transformer::last_logits(const int32_t* tokens, int64_t rows, int64_t length) {
  const int64_t T = config_.seq_len;
  UTT_CHECK(rows >= 1 && rows <= max_batch() && length >= 1 && length <= T,
            "last_logits: rows or length out of range");
  // Rows are padded to seq_len by repeating their last token: causal attention makes position
  // length-1 independent of anything after it.
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const int32_t token = tokens[b * length + std::min(t, length - 1)];
      UTT_CHECK(token >= 0 && token < config_.vocab_size, "token id out of range: " + std::to_string(token));
      staged_inputs_[static_cast<size_t>(b * T + t)] = token;
    }
  }
  backend_.upload(activations_.inputs.get(), staged_inputs_.data(), rows * T);
  last_options_ = ForwardOptions{};
  doc_masked_ = false;
  gradient_ready_ = false;
  forward_layers(activations_, rows, T, last_options_);
  std::vector<float> logits(static_cast<size_t>(rows * config_.vocab_size));
  for (int64_t b = 0; b < rows; ++b) {
    backend_.download(logits.data() + b * config_.vocab_size,
                      activations_.logits.get() + (b * T + length - 1) * config_.vocab_size, config_.vocab_size);
  }
  return logits;
}

std::vector<float> Transformer::decode_step(KvCache& cache, const int32_t* tokens) {
  UTT_CHECK(cache.length < cache.capacity, "KV cache full: reset it and refill before decoding more");
  UTT_CHECK(static_cast<int64_t>(cache.keys.size()) == config_.num_layers && cache.capacity == config_.seq_len &&
                cache.kv_width == config_.kv_dim(),
            "the KV cache was made for another model configuration");
  for (int64_t b = 0; b < cache.rows; ++b) {
    UTT_CHECK(tokens[b] >= 0 && tokens[b] < config_.vocab_size, "token id out of range: " + std::to_string(tokens[b]));
  }
  // Uploaded straight from the caller's memory, which may be a stack variable (KvCacheDecoder's
  // `token`): backend.h's contract lets it be reused as soon as upload returns.
  backend_.upload(cache.activations.inputs.get(), tokens, cache.rows);
  forward_layers(cache.activations, cache.rows, 1, ForwardOptions{}, &cache);
  ++cache.length;
  std::vector<float> logits(static_cast<size_t>(cache.rows * config_.vocab_size));
  backend_.download(logits.data(), cache.activations.logits.get(), cache.rows * config_.vocab_size);
  return logits;
}

}  // namespace utt
