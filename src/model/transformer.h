// The decoder-only transformer, written once over the backend ops (backend/backend.h).
//
// Pre-norm blocks: x += attention(norm1(x)); x += ffn(norm2(x)); then the final norm and the LM
// head. Parameters live in one contiguous buffer (ParameterLayout names its views), gradients in
// a second of the same layout; activations are allocated once for up to `max_batch` rows of
// seq_len tokens. Backward is hand-written, op by op, in reverse.
//
// A model built with ModelUse::kInference has no gradients and keeps no activations for a
// backward (evaluation); with max_batch 0 it is its weights alone, and runs only decode_step
// (generation, whose per-position buffers live in the KvCache).
//
// A training step with gradient accumulation:
//   model.zero_gradients();
//   for each micro-batch: loss += model.forward(tokens, rows, {.training = true,
//                                       .loss_normalizer = targets_in_the_whole_step, ...});
//                         model.backward();
//   then clip and step the optimizer on parameters()/gradients() (train/adamw.h).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "model/activations.h"
#include "model/parameter_layout.h"

namespace utt {

class LoraAdapters;

// Whether the base parameters get a gradient buffer: kNo for LoRA, where only the adapters train
// (backward then skips every weight-gradient matmul of the base).

struct ForwardOptions {
  // Training: dropout on (when dropout_rate > 0) and the loss gradient written for backward().
  bool training = false;
  // The loss is sum(per-token losses) / loss_normalizer; 0 means this batch's number of targets
  // (a plain mean). With gradient accumulation, pass the target count of the whole optimizer step.
  double loss_normalizer = 0;
  // Dropout masks are a pure function of (seed, step, micro_batch, layer, site).
  uint64_t dropout_seed = 0;
  int64_t step = 0;
  int64_t micro_batch = 0;
  // Document masking: host (rows, seq_len), each input's position inside its document
  // (backend.h's doc_pos), so no token attends across a document boundary of its window and
  // learned positions restart with each document; null: one document per row.
  const int32_t* doc_pos = nullptr;
};

struct KvCache;  // model/kv_cache.h

class Transformer {
 public:
  // kRecompute (--activation-checkpointing): the backward pass recomputes each layer's
  // activations from its saved input; the gradients are the same bit for bit.
  Transformer(const ModelConfig& config, Backend& backend, int64_t max_batch,
              ModelUse use = ModelUse::kTraining, ActivationMemory memory = ActivationMemory::kKeepAll);

  // LoRA: the adapters join every forward and backward from now on (nullptr detaches them).
  void attach_lora(LoraAdapters* lora) { lora_ = lora; }
  LoraAdapters* lora() const { return lora_; }
  // What the optimizer trains: the base parameters, or the adapters when LoRA is attached.
  float* trainable_parameters() const;
  float* trainable_gradients() const;
  int64_t trainable_count() const;
  std::vector<ParameterSegment> trainable_segments() const;

  const ModelConfig& config() const { return config_; }
  const ParameterLayout& layout() const { return layout_; }
  Backend& backend() const { return backend_; }
  int64_t max_batch() const { return activations_.max_batch; }

  float* parameters() const { return parameters_.get(); }
  float* gradients() const { return base_frozen_ ? nullptr : gradients_.get(); }  // null without base gradients
  int64_t parameter_count() const { return layout_.total(); }

  // Host <-> backend copies of the whole parameter buffer (layout order).
  void set_parameters(const std::vector<float>& values);
  std::vector<float> get_parameters() const;
  std::vector<float> get_gradients() const;
  void initialize(uint64_t seed) { set_parameters(initial_parameters(config_, layout_, seed)); }

  // tokens: host, `rows` rows of seq_len + 1 ids (inputs row[:-1], targets row[1:]; a negative
  // target is ignored). Returns the loss (see ForwardOptions::loss_normalizer).
  double forward(const int32_t* tokens, int64_t rows, const ForwardOptions& options);
  // The same with inputs and targets given apart, each (rows, seq_len): for targets that are not
  // the next input (masked positions set to -1).
  double forward(const int32_t* inputs, const int32_t* targets, int64_t rows,
                 const ForwardOptions& options);
  // Accumulates d(loss)/d(parameters) into gradients(); needs a training forward just before.
  // `final_from`, when given, hears as the pass goes (after the head, and after each block of
  // each layer) that gradients [offset, parameter_count()) will not change again in this pass:
  // the layout runs from the embeddings to the head, the pass from the head back. Not called
  // with LoRA attached (its gradients have a layout of their own).
  void backward(const std::function<void(int64_t offset)>& final_from = nullptr);
  void zero_gradients();

  // The per-token losses (-log p(target)) of the last forward's first `rows` rows, (rows, seq_len),
  // downloaded to the host; 0 where a target was ignored.
  std::vector<float> token_losses(int64_t rows) const;

  // Logits of the last position of each of `rows` rows of `length` <= seq_len input tokens (no
  // targets), downloaded to the host as (rows, V). For sampling; no dropout, no gradients.
  std::vector<float> last_logits(const int32_t* tokens, int64_t rows, int64_t length);

  // One step of generation: `tokens` (host, one per cache row) enter at position cache.length,
  // run through the same blocks as forward() over that one position, their keys and values join
  // the cache and their queries attend over it (decode_attention); cache.length grows by one.
  // Returns the next-token logits (rows, V), downloaded to the host. No dropout, no gradients.
  std::vector<float> decode_step(KvCache& cache, const int32_t* tokens);

 private:
  // T positions of B rows in `a`, from position 0; or, with a cache, one position (T = 1) at
  // cache->length, attending over the cache.
  void forward_layers(Activations& a, int64_t B, int64_t T, const ForwardOptions& options,
                      KvCache* cache = nullptr);
  // Layer l's forward from its input to `next` (the next layer's input, or the output).
  void layer_forward(Activations& a, int64_t l, float* next, int64_t B, int64_t T, bool dropout,
                     const float* rope_cos, const float* rope_sin, const int32_t* doc_pos, KvCache* cache);
  void norm_forward(NormSaved& saved, const float* x, int64_t weight, int64_t bias, int64_t N);
  void norm_backward(float* dx, const float* dout, const float* x, const NormSaved& saved,
                     int64_t weight, int64_t bias, int64_t N);
  // y (N, OC) = x (N, IC) W^T + b, with W at `weight` ([OC, IC]) and b at `bias` (or -1).
  void linear_forward(float* y, const float* x, int64_t weight, int64_t bias, int64_t N,
                      int64_t IC, int64_t OC, Accumulate accumulate);
  // dx (N, IC) = dy W (overwrite, or += with kYes); dW += dy^T x; db += colsum(dy).
  void linear_backward(float* dx, const float* dy, const float* x, int64_t weight, int64_t bias,
                       int64_t N, int64_t IC, int64_t OC, Accumulate accumulate_dx);
  float* param(int64_t offset) const { return offset < 0 ? nullptr : parameters_.get() + offset; }
  float* grad(int64_t offset) const {
    return offset < 0 || base_frozen_ ? nullptr : gradients_.get() + offset;
  }
  bool base_frozen() const { return base_frozen_; }
  void lora_forward(int64_t layer, int64_t group, const float* x, float* y, int64_t N);
  void lora_backward(int64_t layer, int64_t group, const float* x, const float* dy, float* dx, int64_t N);
  bool dropout_active() const;
  uint64_t dropout_site(int64_t layer, int64_t site) const;

  ModelConfig config_;
  Backend& backend_;
  ModelUse use_;
  bool base_frozen_;
  ParameterLayout layout_;
  BackendBuffer<float> parameters_;
  BackendBuffer<float> gradients_;
  Activations activations_;
  LoraAdapters* lora_ = nullptr;
  // Frozen base: norm backward kernels still accumulate a weight gradient; it lands here, unread.
  BackendBuffer<float> discarded_norm_gradients_;

  // Host staging for splitting (rows, T + 1) windows into inputs and targets, sized once. Refilled
  // before every upload: backend.h's contract frees upload's host memory when upload returns, so a
  // device backend never reads a refilled buffer for an earlier batch.
  std::vector<int32_t> staged_inputs_;
  std::vector<int32_t> staged_targets_;

  // What the last forward ran on, for backward().
  int64_t last_B_ = 0;
  int64_t last_T_ = 0;
  ForwardOptions last_options_;  // its doc_pos is the caller's and may be gone: see doc_masked_
  bool doc_masked_ = false;      // the last forward's doc_pos sits in activations_.doc_pos
  bool gradient_ready_ = false;
};

}  // namespace utt
