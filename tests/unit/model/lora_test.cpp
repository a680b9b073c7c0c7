// LoRA adapters: their hand-written backward against finite differences (every target, with and
// without adapter dropout), a frozen base without gradients, a zero B that leaves the model as it
// is, and merging B A into the base weights computes what the adapters compute.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "export/peft_adapters.h"
#include "model/lora_adapters.h"
#include "model/transformer.h"
#include "small_models.h"

namespace utt {
namespace {

// As in model_gradient_test.cpp: Richardson-extrapolated central differences in reference mode.
constexpr double kStep = 0.04;
constexpr double kRelativeTolerance = 1e-3;
constexpr double kAbsoluteTolerance = 5e-5;

LoraSettings all_targets(double dropout) {
  LoraSettings s;
  s.rank = 3;
  s.alpha = 5;
  s.dropout = dropout;
  s.targets = {LoraTarget::kQ, LoraTarget::kK, LoraTarget::kV, LoraTarget::kO, LoraTarget::kGate,
               LoraTarget::kUp, LoraTarget::kDown};
  return s;
}

// Adapters with B away from zero, so every path carries gradient.
std::vector<float> exercised_adapters(const LoraLayout& layout, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> values(static_cast<size_t>(layout.total()));
  for (float& v : values) v = normal(rng);
  return values;
}

struct Case {
  const char* name;
  ModelConfig config;
  LoraSettings settings;
};

std::vector<Case> cases() {
  const std::vector<test::NamedConfig> variants = test::architecture_variants();
  LoraSettings mlp = all_targets(0.0);
  mlp.targets = {LoraTarget::kQ, LoraTarget::kK, LoraTarget::kV, LoraTarget::kO, LoraTarget::kUp, LoraTarget::kDown};
  return {{"llama_gqa", variants[0].config, all_targets(0.0)},
          {"llama_gqa_adapter_dropout", variants[0].config, all_targets(0.3)},
          {"gpt2_untied_naive", variants[1].config, mlp},
          {"llama_dropout_bias", variants[4].config, all_targets(0.2)}};
}

TEST(Lora, AdapterGradientsMatchFiniteDifferences) {
  for (const Case& c : cases()) {
    auto backend = make_cpu_backend({.reference_mode = true});
    const int64_t rows = 2;
    Transformer model(c.config, *backend, rows, ModelUse::kAdapterTraining);
    LoraAdapters lora(c.config, c.settings, *backend, rows * c.config.seq_len);
    model.attach_lora(&lora);
    model.set_parameters(test::exercised_parameters(model.layout(), 7));
    const std::vector<float> adapters = exercised_adapters(lora.layout(), 3);
    lora.set_parameters(adapters);
    const std::vector<int32_t> tokens = test::random_tokens(rows, c.config, 8);
    const ForwardOptions options{.training = true, .dropout_seed = 5, .step = 3};

    model.zero_gradients();
    model.forward(tokens.data(), rows, options);
    model.backward();
    std::vector<float> gradients(static_cast<size_t>(lora.count()));
    backend->download(gradients.data(), lora.gradients(), lora.count());

    std::mt19937_64 rng(9);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (const LoraAdapter& a : lora.layout().adapters()) {
      for (const auto& [offset, count, what] : {std::tuple{a.a_offset, c.settings.rank * a.in, "A"},
                                                std::tuple{a.b_offset, c.settings.rank * a.out, "B"}}) {
        std::vector<double> direction(static_cast<size_t>(count));
        double norm = 0;
        for (double& d : direction) {
          d = normal(rng);
          norm += d * d;
        }
        double analytic = 0;
        for (int64_t i = 0; i < count; ++i) analytic += (direction[i] /= std::sqrt(norm)) * gradients[offset + i];
        auto loss_at = [&](double step) {
          std::vector<float> moved = adapters;
          for (int64_t i = 0; i < count; ++i) moved[offset + i] += static_cast<float>(step * direction[i]);
          lora.set_parameters(moved);
          return model.forward(tokens.data(), rows, options);
        };
        auto central = [&](double eps) { return (loss_at(eps) - loss_at(-eps)) / (2 * eps); };
        const double numeric = (4 * central(kStep / 2) - central(kStep)) / 3;
        EXPECT_NEAR(analytic, numeric, kRelativeTolerance * std::abs(numeric) + kAbsoluteTolerance)
            << c.name << " " << a.name << " " << to_string(a.target) << " " << what;
      }
    }
  }
}

TEST(Lora, TheBaseIsFrozenAndOnlyTheAdaptersTrain) {
  const ModelConfig config = test::architecture_variants()[0].config;
  auto backend = make_cpu_backend({});
  Transformer model(config, *backend, 1, ModelUse::kAdapterTraining);
  LoraAdapters lora(config, LoraSettings{}, *backend, config.seq_len);
  model.attach_lora(&lora);
  EXPECT_EQ(model.gradients(), nullptr);  // no gradient buffer for the base
  EXPECT_EQ(model.trainable_parameters(), lora.parameters());
  EXPECT_EQ(model.trainable_count(), lora.count());
  // q and v adapters of rank 8 on two layers: A [8, C] each, B [8, C] and [8, KVC].
  EXPECT_EQ(lora.count(), 2 * (8 * 24 + 8 * 24 + 8 * 24 + 8 * 12));
}

TEST(Lora, ZeroBLeavesTheModelExactlyAsItWas) {
  const ModelConfig config = test::architecture_variants()[0].config;
  auto backend = make_cpu_backend({});
  Transformer model(config, *backend, 2);
  model.set_parameters(test::exercised_parameters(model.layout(), 7));
  const std::vector<int32_t> tokens = test::random_tokens(2, config, 8);
  const double base = model.forward(tokens.data(), 2, {});
  LoraAdapters lora(config, all_targets(0.0), *backend, 2 * config.seq_len);
  lora.set_parameters(initial_lora_parameters(lora.layout(), 1));
  model.attach_lora(&lora);
  EXPECT_EQ(model.forward(tokens.data(), 2, {}), base);
}

TEST(Lora, InitialAIsKaimingUniformAndBIsZero) {
  const ModelConfig config = test::architecture_variants()[0].config;
  const LoraLayout layout(config, all_targets(0.0));
  const std::vector<float> values = initial_lora_parameters(layout, 1);
  for (const LoraAdapter& a : layout.adapters()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(a.in));
    double sum_squares = 0;
    for (int64_t i = 0; i < layout.settings().rank * a.in; ++i) {
      const float v = values[static_cast<size_t>(a.a_offset + i)];
      ASSERT_LE(std::abs(v), bound);
      sum_squares += v * v;
    }
    // Uniform(-b, b) has variance b^2 / 3.
    EXPECT_NEAR(sum_squares / static_cast<double>(layout.settings().rank * a.in), bound * bound / 3, bound * bound / 6);
    for (int64_t i = 0; i < layout.settings().rank * a.out; ++i) EXPECT_EQ(values[static_cast<size_t>(a.b_offset + i)], 0.0f);
  }
}

}  // namespace
}  // namespace utt

namespace utt {
namespace {

// What `utt export` writes for a LoRA checkpoint (merge_lora) computes what training computed.
TEST(Lora, MergingTheAdaptersIntoTheBaseGivesTheAdaptedModelsOutputs) {
  for (const Case& c : cases()) {
    if (c.settings.dropout > 0) continue;  // dropout is off in evaluation anyway
    auto backend = make_cpu_backend({});
    const int64_t rows = 2;
    Transformer model(c.config, *backend, rows);
    const std::vector<float> base = test::exercised_parameters(model.layout(), 7);
    model.set_parameters(base);
    LoraAdapters lora(c.config, c.settings, *backend, rows * c.config.seq_len);
    const std::vector<float> adapters = exercised_adapters(lora.layout(), 3);
    lora.set_parameters(adapters);
    model.attach_lora(&lora);
    const std::vector<int32_t> tokens = test::random_tokens(rows, c.config, 8);
    model.forward(tokens.data(), rows, {});
    const std::vector<float> adapted = model.token_losses(rows);

    std::vector<float> merged = base;
    merge_lora(c.config, lora.layout(), adapters, merged);
    model.attach_lora(nullptr);
    model.set_parameters(merged);
    model.forward(tokens.data(), rows, {});
    const std::vector<float> after_merge = model.token_losses(rows);
    for (size_t i = 0; i < adapted.size(); ++i) EXPECT_NEAR(adapted[i], after_merge[i], 1e-4) << c.name << " " << i;
  }
}

}  // namespace
}  // namespace utt
