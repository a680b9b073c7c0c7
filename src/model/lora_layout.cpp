#include "model/lora_layout.h"

#include <algorithm>
#include <cmath>

#include "backend/dropout_hash.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

const std::vector<std::pair<LoraTarget, const char*>>& target_names() {
  static const std::vector<std::pair<LoraTarget, const char*>> names = {
      {LoraTarget::kQ, "q"}, {LoraTarget::kK, "k"}, {LoraTarget::kV, "v"}, {LoraTarget::kO, "o"},
      {LoraTarget::kGate, "gate"}, {LoraTarget::kUp, "up"}, {LoraTarget::kDown, "down"}};
  return names;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : text + ",") {
    if (c == ',') {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else if (c != ' ') {
      part += c;
    }
  }
  return parts;
}

}  // namespace

std::string to_string(LoraTarget target) {
  for (const auto& [t, name] : target_names()) {
    if (t == target) return name;
  }
  return "?";
}

LoraGroup group_of(LoraTarget target) {
  switch (target) {
    case LoraTarget::kQ: case LoraTarget::kK: case LoraTarget::kV: return LoraGroup::kQkv;
    case LoraTarget::kO: return LoraGroup::kO;
    case LoraTarget::kGate: case LoraTarget::kUp: return LoraGroup::kFfnIn;
    case LoraTarget::kDown: return LoraGroup::kDown;
  }
  return LoraGroup::kQkv;
}

std::vector<LoraTarget> parse_lora_targets(const std::string& list, const ModelConfig& model) {
  std::vector<LoraTarget> targets;
  for (const std::string& raw : split_list(list)) {
    const std::string name = to_lower(raw);
    auto it = std::find_if(target_names().begin(), target_names().end(), [&](const auto& p) { return name == p.second; });
    if (it == target_names().end()) {
      throw UserError("unknown --lora-targets entry '" + name + "': use a comma-separated list of q, k, v, o, gate, up, down");
    }
    if (std::find(targets.begin(), targets.end(), it->first) != targets.end()) {
      throw UserError("--lora-targets names '" + name + "' twice");
    }
    if (it->first == LoraTarget::kGate && !model.swiglu) {
      throw UserError("--lora-targets gate needs a SwiGLU model (this one has a plain MLP): use up and down");
    }
    targets.push_back(it->first);
  }
  if (targets.empty()) throw UserError("--lora-targets is empty: name at least one of q, k, v, o, gate, up, down");
  std::sort(targets.begin(), targets.end());
  return targets;
}

std::string lora_targets_text(const std::vector<LoraTarget>& targets) {
  std::string text;
  for (LoraTarget t : targets) {
    if (!text.empty()) text += ',';  // appended apart: GCC 12 warns falsely (-Wrestrict) on "" + string
    text += to_string(t);
  }
  return text;
}

LoraLayout::LoraLayout(const ModelConfig& c, const LoraSettings& settings) : settings_(settings) {
  UTT_CHECK(settings.rank >= 1, "LoRA rank must be positive");
  const int64_t C = c.d_model, KVC = c.kv_dim(), F = c.d_ff, r = settings.rank;
  groups_.resize(static_cast<size_t>(c.num_layers * kLoraGroups));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    for (int g = 0; g < kLoraGroups; ++g) {
      LoraGroupPlan& plan = groups_[static_cast<size_t>(l * kLoraGroups + g)];
      switch (static_cast<LoraGroup>(g)) {
        case LoraGroup::kQkv: plan.in = C; plan.width = C + 2 * KVC; break;
        case LoraGroup::kO: plan.in = C; plan.width = C; break;
        case LoraGroup::kFfnIn: plan.in = C; plan.width = c.swiglu ? 2 * F : F; break;
        case LoraGroup::kDown: plan.in = F; plan.width = C; break;
      }
      std::vector<LoraAdapter> group;
      for (LoraTarget t : settings.targets) {
        if (static_cast<int>(group_of(t)) != g) continue;
        LoraAdapter a{t, l, plan.in, 0, 0, 0, 0, ""};
        switch (t) {
          case LoraTarget::kQ: a.out = C; a.column = 0; a.name = p + "attention.wq"; break;
          case LoraTarget::kK: a.out = KVC; a.column = C; a.name = p + "attention.wk"; break;
          case LoraTarget::kV: a.out = KVC; a.column = C + KVC; a.name = p + "attention.wv"; break;
          case LoraTarget::kO: a.out = C; a.column = 0; a.name = p + "attention.wo"; break;
          case LoraTarget::kGate: a.out = F; a.column = 0; a.name = p + "feed_forward.w_gate"; break;
          case LoraTarget::kUp: a.out = F; a.column = c.swiglu ? F : 0; a.name = p + "feed_forward.w_up"; break;
          case LoraTarget::kDown: a.out = C; a.column = 0; a.name = p + "feed_forward.w_down"; break;
        }
        group.push_back(a);
      }
      if (group.empty()) continue;
      // The group's A matrices side by side, then each B (transposed).
      plan.a_offset = total_;
      for (LoraAdapter& a : group) {
        a.a_offset = total_;
        total_ += r * a.in;
      }
      for (LoraAdapter& a : group) {
        a.b_offset = total_;
        total_ += r * a.out;
        plan.adapters.push_back(static_cast<int64_t>(adapters_.size()));
        adapters_.push_back(a);
      }
      plan.ranks = r * static_cast<int64_t>(group.size());
      max_ranks_ = std::max(max_ranks_, plan.ranks);
      max_in_ = std::max(max_in_, plan.in);
      max_width_ = std::max(max_width_, plan.width);
    }
  }
}

std::vector<float> initial_lora_parameters(const LoraLayout& layout, uint64_t seed) {
  std::vector<float> values(static_cast<size_t>(layout.total()), 0.0f);  // B = 0
  const int64_t r = layout.settings().rank;
  for (size_t index = 0; index < layout.adapters().size(); ++index) {
    const LoraAdapter& a = layout.adapters()[index];
    const double bound = 1.0 / std::sqrt(static_cast<double>(a.in));
    const uint64_t key = mix64(mix64(seed ^ 0x4c6f5241ULL) ^ static_cast<uint64_t>(index + 1));
    for (int64_t i = 0; i < r * a.in; ++i) {
      const double u = static_cast<double>(mix64(key + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL) >> 11) * 0x1.0p-53;
      values[static_cast<size_t>(a.a_offset + i)] = static_cast<float>((2.0 * u - 1.0) * bound);
    }
  }
  return values;
}

}  // namespace utt
