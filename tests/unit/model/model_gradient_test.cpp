// The whole model's hand-written backward against finite differences, for every architecture
// variant: per tensor, the directional derivative along a random unit direction.
//
// Float32 forward passes in reference mode (double accumulation) give the loss to ~1e-7; a central
// difference with step 0.04, Richardson-extrapolated against step 0.02, cancels truncation to
// O(eps^4), leaving ~1e-5 of noise. Tolerance: 1e-3 relative plus 5e-5 absolute.
// ReLU is not smooth: a step that large moves some units across the kink, so its variant uses a
// step of 2e-3, where the loss's float32 noise (~4e-7 / 2e-3) needs 4e-4 of absolute tolerance.
// Each variant is checked as one sequence per row and with document masking (documents of 3, 1
// and 3 tokens in row 0, and 2 and 5 in row 1: attention and learned positions by document).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "model/transformer.h"
#include "small_models.h"

namespace utt {
namespace {

constexpr double kStep = 0.04;
constexpr double kRelativeTolerance = 1e-3;
constexpr double kAbsoluteTolerance = 5e-5;
constexpr double kReluStep = 2e-3;
constexpr double kReluAbsoluteTolerance = 4e-4;

class ModelGradientCheck : public testing::TestWithParam<test::NamedConfig> {};

TEST_P(ModelGradientCheck, EveryTensorsGradientMatchesFiniteDifferences) {
  const ModelConfig config = GetParam().config;
  auto backend = make_cpu_backend({.reference_mode = true});
  const int64_t rows = 2;
  Transformer model(config, *backend, rows);
  const std::vector<float> parameters = test::exercised_parameters(model.layout(), 7);
  const std::vector<int32_t> tokens = test::random_tokens(rows, config, 8);
  ASSERT_EQ(config.seq_len, 7);
  const std::vector<int32_t> documents = {0, 1, 2, 0, 0, 1, 2, 0, 1, 0, 1, 2, 3, 4};
  for (const int32_t* doc_pos : {static_cast<const int32_t*>(nullptr), documents.data()}) {
    SCOPED_TRACE(doc_pos ? "document-masked" : "one sequence per row");
    const ForwardOptions options{.training = true, .dropout_seed = 5, .step = 3, .doc_pos = doc_pos};

    model.set_parameters(parameters);
    model.zero_gradients();
    model.forward(tokens.data(), rows, options);
    model.backward();
    const std::vector<float> gradients = model.get_gradients();

    std::mt19937_64 rng(9);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (const ParameterTensor& t : model.layout().tensors()) {
      std::vector<double> direction(static_cast<size_t>(t.count));
      double norm = 0;
      for (double& d : direction) {
        d = normal(rng);
        norm += d * d;
      }
      double analytic = 0;
      for (int64_t i = 0; i < t.count; ++i) {
        direction[i] /= std::sqrt(norm);
        analytic += direction[i] * gradients[t.offset + i];
      }
      auto loss_at = [&](double step) {
        std::vector<float> moved = parameters;
        for (int64_t i = 0; i < t.count; ++i) moved[t.offset + i] += static_cast<float>(step * direction[i]);
        model.set_parameters(moved);
        return model.forward(tokens.data(), rows, options);
      };
      auto central = [&](double eps) { return (loss_at(eps) - loss_at(-eps)) / (2 * eps); };
      const bool relu = config.activation == Activation::kRelu;  // MLP or ReGLU: a kink at 0
      const double step = relu ? kReluStep : kStep;
      const double numeric = (4 * central(step / 2) - central(step)) / 3;
      const double absolute_tolerance = relu ? kReluAbsoluteTolerance : kAbsoluteTolerance;
      EXPECT_NEAR(analytic, numeric, kRelativeTolerance * std::abs(numeric) + absolute_tolerance) << t.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, ModelGradientCheck, testing::ValuesIn(test::architecture_variants()),
                         [](const testing::TestParamInfo<test::NamedConfig>& variant) { return variant.param.name; });

}  // namespace
}  // namespace utt
