#include "model/lora_adapters.h"

#include "util/error.h"

namespace utt {

LoraAdapters::LoraAdapters(const ModelConfig& model, const LoraSettings& settings, Backend& backend,
                           int64_t max_rows)
    : layout_(model, settings),
      backend_(backend),
      max_rows_(max_rows),
      parameters_(backend, layout_.total()),
      gradients_(backend, layout_.total()),
      dropped_x_(backend, settings.dropout > 0 ? max_rows * layout_.max_in() : 0),
      dx_scratch_(backend, settings.dropout > 0 ? max_rows * layout_.max_in() : 0),
      du_(backend, max_rows * layout_.max_ranks()),
      dbt_(backend, layout_.max_ranks() * layout_.max_width()) {
  for (int64_t l = 0; l < model.num_layers; ++l) {
    for (int g = 0; g < kLoraGroups; ++g) {
      const LoraGroupPlan& plan = layout_.group(l, static_cast<LoraGroup>(g));
      // Bt's off-block entries are zero from allocation and never written.
      saved_u_.emplace_back(backend, plan.adapters.empty() ? 0 : max_rows * plan.ranks);
      saved_bt_.emplace_back(backend, plan.adapters.empty() ? 0 : plan.ranks * plan.width);
    }
  }
}

void LoraAdapters::set_parameters(const std::vector<float>& values) {
  UTT_CHECK(static_cast<int64_t>(values.size()) == count(), "LoRA parameter count mismatch");
  backend_.upload(parameters_.get(), values.data(), count());
}

std::vector<float> LoraAdapters::get_parameters() const {
  std::vector<float> values(static_cast<size_t>(count()));
  backend_.download(values.data(), parameters_.get(), count());
  return values;
}

void LoraAdapters::zero_gradients() { backend_.fill(gradients_.get(), 0.0f, count()); }

const float* LoraAdapters::adapter_input(const LoraGroupPlan& plan, const float* x, int64_t N, bool training,
                                         uint64_t key) {
  if (!dropout_on(training)) return x;
  backend_.residual_dropout(dropped_x_.get(), nullptr, x, N * plan.in,
                            static_cast<float>(layout_.settings().dropout), key);
  return dropped_x_.get();
}

void LoraAdapters::assemble_bt(const LoraGroupPlan& plan, float* bt) {
  const int64_t r = layout_.settings().rank;
  for (size_t j = 0; j < plan.adapters.size(); ++j) {
    const LoraAdapter& a = layout_.adapters()[static_cast<size_t>(plan.adapters[j])];
    for (int64_t k = 0; k < r; ++k) {
      backend_.copy(bt + (static_cast<int64_t>(j) * r + k) * plan.width + a.column,
                    parameters_.get() + a.b_offset + k * a.out, a.out);
    }
  }
}

void LoraAdapters::forward(int64_t layer, LoraGroup group, const float* x, float* y, int64_t N, bool training,
                           uint64_t dropout_key) {
  const LoraGroupPlan& plan = layout_.group(layer, group);
  if (plan.adapters.empty()) return;
  UTT_CHECK(N <= max_rows_, "LoRA forward on more rows than allocated");
  const size_t slot = static_cast<size_t>(layer * kLoraGroups + static_cast<int>(group));
  float* u = saved_u_[slot].get();
  float* bt = saved_bt_[slot].get();
  const float* input = adapter_input(plan, x, N, training, dropout_key);
  backend_.matmul(u, input, parameters_.get() + plan.a_offset, nullptr, N, plan.ranks, plan.in, Transpose::kNo,
                  Transpose::kYes, Accumulate::kNo);
  backend_.scale(u, static_cast<float>(layout_.settings().scale()), N * plan.ranks);
  assemble_bt(plan, bt);
  backend_.matmul(y, u, bt, nullptr, N, plan.width, plan.ranks, Transpose::kNo, Transpose::kNo, Accumulate::kYes);
}

void LoraAdapters::backward(int64_t layer, LoraGroup group, const float* x, const float* dy, float* dx, int64_t N,
                            bool training, uint64_t dropout_key) {
  const LoraGroupPlan& plan = layout_.group(layer, group);
  if (plan.adapters.empty()) return;
  const size_t slot = static_cast<size_t>(layer * kLoraGroups + static_cast<int>(group));
  const float* u = saved_u_[slot].get();
  const float* bt = saved_bt_[slot].get();
  const int64_t r = layout_.settings().rank;

  // dB^T of each adapter: its rows and columns of U^T dy.
  backend_.matmul(dbt_.get(), u, dy, nullptr, plan.ranks, plan.width, N, Transpose::kYes, Transpose::kNo,
                  Accumulate::kNo);
  for (size_t j = 0; j < plan.adapters.size(); ++j) {
    const LoraAdapter& a = layout_.adapters()[static_cast<size_t>(plan.adapters[j])];
    for (int64_t k = 0; k < r; ++k) {
      backend_.add_inplace(gradients_.get() + a.b_offset + k * a.out,
                           dbt_.get() + (static_cast<int64_t>(j) * r + k) * plan.width + a.column, a.out);
    }
  }
  float* du = du_.get();
  backend_.matmul(du, dy, bt, nullptr, N, plan.ranks, plan.width, Transpose::kNo, Transpose::kYes, Accumulate::kNo);
  backend_.scale(du, static_cast<float>(layout_.settings().scale()), N * plan.ranks);
  const float* input = adapter_input(plan, x, N, training, dropout_key);
  backend_.matmul(gradients_.get() + plan.a_offset, du, input, nullptr, plan.ranks, plan.in, N, Transpose::kYes,
                  Transpose::kNo, Accumulate::kYes);
  const float* acat = parameters_.get() + plan.a_offset;
  if (dropout_on(training)) {
    backend_.matmul(dx_scratch_.get(), du, acat, nullptr, N, plan.in, plan.ranks, Transpose::kNo, Transpose::kNo,
                    Accumulate::kNo);
    backend_.residual_dropout(dx, dx, dx_scratch_.get(), N * plan.in, static_cast<float>(layout_.settings().dropout),
                              dropout_key);
  } else {
    backend_.matmul(dx, du, acat, nullptr, N, plan.in, plan.ranks, Transpose::kNo, Transpose::kNo, Accumulate::kYes);
  }
}

}  // namespace utt
