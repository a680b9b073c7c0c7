// LoRA adapters (Hu et al., 2021) on the model's linear layers: y = W x + (alpha / rank) B A x,
// with W frozen, A [rank, in] and B [out, rank] trained. A starts Kaiming-uniform (PEFT's
// kaiming_uniform_(a = sqrt(5)): U(-1/sqrt(in), 1/sqrt(in))), B at zero, so training starts from
// the base model exactly.
//
// The model runs q/k/v as one fused matmul (and gate/up as another); the adapters of one fused
// linear form a "group": their A matrices lie side by side in the adapter buffer (Acat, [R, in]
// with R = rank x adapters), so one matmul gives every adapter's A x. B is stored transposed,
// [rank, out], so that the group's block-diagonal B (Bt, [R, width]) is assembled by copying
// whole rows. This file is the layout; lora_adapters.h runs it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"

namespace utt {

enum class LoraTarget { kQ, kK, kV, kO, kGate, kUp, kDown };
// The model's fused linears: q|k|v, o, gate|up (or up alone), down.
enum class LoraGroup { kQkv = 0, kO = 1, kFfnIn = 2, kDown = 3 };
inline constexpr int kLoraGroups = 4;

std::string to_string(LoraTarget target);  // "q", "k", ..., "down"
LoraGroup group_of(LoraTarget target);

struct LoraSettings {
  int64_t rank = 8;
  double alpha = 16;
  double dropout = 0;
  std::vector<LoraTarget> targets = {LoraTarget::kQ, LoraTarget::kV};
  double scale() const { return alpha / static_cast<double>(rank); }
};

// "q,v" -> targets, in the canonical order q, k, v, o, gate, up, down. UserError for an unknown
// name, a repeated one, or gate without SwiGLU.
std::vector<LoraTarget> parse_lora_targets(const std::string& list, const ModelConfig& model);
std::string lora_targets_text(const std::vector<LoraTarget>& targets);

struct LoraAdapter {
  LoraTarget target;
  int64_t layer = 0;
  int64_t in = 0, out = 0;
  int64_t column = 0;    // the first output column of this adapter in its group's fused output
  int64_t a_offset = 0;  // A [rank, in], in floats into the adapter buffer
  int64_t b_offset = 0;  // B transposed, [rank, out]
  std::string name;      // "layers.{i}.attention.wq" ...: utt's name of the adapted linear
};

struct LoraGroupPlan {
  int64_t in = 0;      // the fused linear's input width
  int64_t width = 0;   // its output width (q|k|v: C + 2 KVC)
  int64_t ranks = 0;   // R = rank x adapters
  int64_t a_offset = -1;
  std::vector<int64_t> adapters;  // indices into LoraLayout::adapters(), in column order
};

class LoraLayout {
 public:
  LoraLayout(const ModelConfig& model, const LoraSettings& settings);

  const LoraSettings& settings() const { return settings_; }
  const std::vector<LoraAdapter>& adapters() const { return adapters_; }
  const LoraGroupPlan& group(int64_t layer, LoraGroup g) const {
    return groups_[static_cast<size_t>(layer * kLoraGroups + static_cast<int>(g))];
  }
  int64_t total() const { return total_; }
  int64_t max_ranks() const { return max_ranks_; }
  int64_t max_in() const { return max_in_; }
  int64_t max_width() const { return max_width_; }
  // Every adapter matrix is 2-D: one decayed segment, as PyTorch's AdamW would treat them.
  std::vector<ParameterSegment> optimizer_segments() const { return {{0, total_, true}}; }

 private:
  LoraSettings settings_;
  std::vector<LoraAdapter> adapters_;
  std::vector<LoraGroupPlan> groups_;
  int64_t total_ = 0, max_ranks_ = 0, max_in_ = 0, max_width_ = 0;
};

// A Kaiming-uniform, B zero, from counter-based streams keyed by (seed, adapter index).
std::vector<float> initial_lora_parameters(const LoraLayout& layout, uint64_t seed);

}  // namespace utt
