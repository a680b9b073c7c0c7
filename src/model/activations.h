// The activation and activation-gradient buffers of one forward/backward pass, allocated once for
// the largest batch (B x T) the model will see, so the training step never allocates.
//
// A model that only runs forward (evaluation, generation) keeps nothing for a backward: its
// layers run one after another in the same single layer's buffers, and it has no gradient scratch.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"

namespace utt {

// kTraining: gradients, and every layer's activations kept for the backward. kInference: forward
// only (no gradients, one layer's activations reused by every layer).
// What a model is built for: training every parameter; training LoRA adapters on a frozen base
// (no base gradients, the same activations); or inference (weights, one layer's activations).
enum class ModelUse { kTraining, kAdapterTraining, kInference };

// What a training forward keeps for the backward pass: every layer's activations, or each
// layer's input alone (activation checkpointing), the backward pass recomputing a layer's other
// activations into one shared set just before it needs them.
enum class ActivationMemory { kKeepAll, kRecompute };

struct NormSaved {
  BackendBuffer<float> out;   // (N, C)
  BackendBuffer<float> mean;  // (N); LayerNorm only
  BackendBuffer<float> rstd;  // (N)
};

// What one layer keeps for its backward.
struct LayerActivations {
  BackendBuffer<float> input;     // (N, C) the residual stream entering the layer
  NormSaved attention_norm;
  BackendBuffer<float> qkv;       // (N, (NH + 2*KVH) * HS), after RoPE
  BackendBuffer<float> attention; // (N, C) attention output before wo
  BackendBuffer<float> lse;       // (B, NH, T) flash; or
  BackendBuffer<float> probabilities;  // (B, NH, T, T) naive
  BackendBuffer<float> middle;    // (N, C) residual stream after the attention block
  NormSaved ffn_norm;
  BackendBuffer<float> ffn_hidden;  // (N, 2F) SwiGLU gate|up, or (N, F) MLP pre-activation
  BackendBuffer<float> ffn_act;     // (N, F)
};

struct Activations {
  // For up to max_batch rows of `positions` tokens (0: seq_len); max_batch 0 allocates nothing.
  Activations(Backend& backend, const ModelConfig& config, int64_t max_batch,
              ModelUse use = ModelUse::kTraining, int64_t positions = 0,
              ActivationMemory memory = ActivationMemory::kKeepAll);

  // Layer l's buffers: its own when training, the one shared set for inference; with
  // kRecompute, its own input and the shared set for everything else.
  LayerActivations& layer(int64_t l) { return layers[static_cast<size_t>(l) % layers.size()]; }
  float* layer_input(int64_t l) {
    return inputs_kept.empty() ? layer(l).input.get() : inputs_kept[static_cast<size_t>(l)].get();
  }

  int64_t max_batch = 0;
  int64_t positions = 0;
  BackendBuffer<int32_t> inputs;   // (N)
  BackendBuffer<int32_t> targets;  // (N)
  BackendBuffer<int32_t> doc_pos;  // (N) each input's position in its document (document masking)
  std::vector<LayerActivations> layers;  // num_layers of them when training, else one
  // kRecompute: every layer's input (N, C), kept; `layers` is then the one shared set (without
  // an input buffer of its own).
  std::vector<BackendBuffer<float>> inputs_kept;
  BackendBuffer<float> output;     // (N, C) the residual stream after the last layer
  NormSaved final_norm;
  BackendBuffer<float> logits;     // (N, V); becomes dlogits after a training forward
  BackendBuffer<float> losses;     // (N)
  BackendBuffer<float> rope_cos, rope_sin;  // (seq_len, HS/2), whatever `positions` is

  // Scratch for forward branches and for the backward pass (training only).
  BackendBuffer<float> branch;       // (N, C) a projection before dropout and the residual add
  BackendBuffer<float> dresidual;    // (N, C)
  BackendBuffer<float> dbranch;      // (N, C)
  BackendBuffer<float> dnorm;        // (N, C)
  BackendBuffer<float> dattention;   // (N, C)
  BackendBuffer<float> dqkv;         // (N, (NH + 2*KVH) * HS)
  BackendBuffer<float> dffn_hidden;  // (N, 2F) or (N, F)
  BackendBuffer<float> dffn_act;     // (N, F)
  BackendBuffer<float> dprobabilities;  // (B, NH, T, T) naive attention only
};

}  // namespace utt
