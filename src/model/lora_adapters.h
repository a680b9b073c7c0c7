// The LoRA adapters at run time: their parameters and gradients (one buffer each, LoraLayout
// order), and the forward and backward of every adapter group, which the Transformer calls right
// after the fused linear it adapts (before RoPE for q/k, before SwiGLU for gate/up).
//
// For a group with input x (N, in) and fused output y (N, width):
//   forward:  U = s * drop(x) Acat^T   (N, R), kept for backward
//             y += U Bt                 Bt (R, width): each B^T in its rows and columns
//   backward: dBt = U^T dy              (only each adapter's block is kept: += into its B)
//             dU = s * dy Bt^T;  dAcat += dU^T drop(x);  dx += drop'(dU Acat)
// drop is --lora-dropout on the adapter's input, its mask a pure function of (seed, step,
// micro-batch, layer, group), so backward recomputes it and a resumed run reproduces it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/lora_layout.h"

namespace utt {

class LoraAdapters {
 public:
  // Scratch for up to `max_rows` rows (batch x seq_len).
  LoraAdapters(const ModelConfig& model, const LoraSettings& settings, Backend& backend, int64_t max_rows);

  const LoraLayout& layout() const { return layout_; }
  // The frozen base the adapters belong to, recorded in every checkpoint (lora.json).
  std::string base_path;
  std::string base_fingerprint;
  float* parameters() const { return parameters_.get(); }
  float* gradients() const { return gradients_.get(); }
  int64_t count() const { return layout_.total(); }
  void set_parameters(const std::vector<float>& values);
  std::vector<float> get_parameters() const;
  void zero_gradients();

  // `dropout_key` keys this group's dropout mask; `training` turns dropout on.
  void forward(int64_t layer, LoraGroup group, const float* x, float* y, int64_t N, bool training,
               uint64_t dropout_key);
  // dx += the adapters' part of d(loss)/dx; the adapter gradients +=.
  void backward(int64_t layer, LoraGroup group, const float* x, const float* dy, float* dx, int64_t N,
                bool training, uint64_t dropout_key);

 private:
  bool dropout_on(bool training) const { return training && layout_.settings().dropout > 0; }
  const float* adapter_input(const LoraGroupPlan& plan, const float* x, int64_t N, bool training, uint64_t key);
  void assemble_bt(const LoraGroupPlan& plan, float* bt);

  LoraLayout layout_;
  Backend& backend_;
  int64_t max_rows_;
  BackendBuffer<float> parameters_;
  BackendBuffer<float> gradients_;
  std::vector<BackendBuffer<float>> saved_u_;   // per (layer, group): U (N, R)
  std::vector<BackendBuffer<float>> saved_bt_;  // per (layer, group): Bt (R, width)
  BackendBuffer<float> dropped_x_;  // (N, max in)
  BackendBuffer<float> dx_scratch_; // (N, max in)
  BackendBuffer<float> du_;         // (N, max R)
  BackendBuffer<float> dbt_;        // (max R, max width)
};

}  // namespace utt
