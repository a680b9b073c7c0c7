// The model's contracts beyond its gradients: parameter layout and names, initialization,
// gradient accumulation, dropout, weights on disk, and logits for sampling.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#include "model/transformer.h"
#include "model/weights_io.h"
#include "small_models.h"
#include "test_paths.h"
#include "train/adamw.h"
#include "util/error.h"

namespace utt {
namespace {

double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0, difference = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    largest = std::max(largest, std::abs(static_cast<double>(b[i])));
    difference = std::max(difference, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return difference / largest;
}

TEST(ParameterLayout, NamesShapesAndDecayFollowTheEcosystem) {
  ModelConfig c = test::small_base();
  c.num_kv_heads = 2;
  c.linear_bias = true;
  const ParameterLayout layout(c);
  EXPECT_EQ(layout.total(), count_parameters(c).total);
  ASSERT_NE(layout.find("layers.1.attention.wk.weight"), nullptr);
  EXPECT_EQ(layout.find("layers.1.attention.wk.weight")->shape, (std::vector<int64_t>{12, 24}));
  EXPECT_EQ(layout.find("layers.0.feed_forward.w_down.weight")->shape, (std::vector<int64_t>{24, 40}));
  EXPECT_TRUE(layout.find("tok_embeddings.weight")->decay());
  EXPECT_FALSE(layout.find("layers.0.ffn_norm.weight")->decay());
  EXPECT_FALSE(layout.find("layers.0.attention.wq.bias")->decay());
  EXPECT_EQ(layout.find("output.weight"), nullptr);  // tied
  EXPECT_EQ(layout.find("pos_embeddings.weight"), nullptr);  // RoPE
  EXPECT_EQ(layout.output_weight(), layout.tok_embeddings());
  // wq, wk, wv are adjacent: one fused matmul.
  EXPECT_EQ(layout.find("layers.0.attention.wk.weight")->offset,
            layout.find("layers.0.attention.wq.weight")->offset + 24 * 24);
  // The optimizer segments tile the buffer, alternating decay.
  int64_t covered = 0;
  for (const ParameterSegment& s : layout.optimizer_segments()) {
    EXPECT_EQ(s.begin, covered);
    covered = s.end;
  }
  EXPECT_EQ(covered, layout.total());
}

TEST(Initialization, NormalWithScaledResidualProjectionsOnesAndZeros) {
  ModelConfig c = test::small_base();
  c.d_model = 64;
  c.d_ff = 256;
  c.num_layers = 4;
  c.linear_bias = true;
  c.rmsnorm = false;
  const ParameterLayout layout(c);
  const std::vector<float> values = initial_parameters(c, layout, 42);
  auto stats = [&](const std::string& name) {
    const ParameterTensor& t = *layout.find(name);
    double sum = 0, sum_squares = 0;
    for (int64_t i = 0; i < t.count; ++i) {
      sum += values[t.offset + i];
      sum_squares += values[t.offset + i] * values[t.offset + i];
    }
    return std::pair{sum / t.count, std::sqrt(sum_squares / t.count)};
  };
  // 16384 samples: the standard deviation is measured to ~1%.
  EXPECT_NEAR(stats("layers.2.feed_forward.w_up.weight").second, 0.02, 0.0005);
  EXPECT_NEAR(stats("layers.2.attention.wo.weight").second, 0.02 / std::sqrt(8.0), 0.0002);
  EXPECT_NEAR(stats("layers.2.feed_forward.w_down.weight").second, 0.02 / std::sqrt(8.0), 0.0002);
  EXPECT_NEAR(stats("layers.2.feed_forward.w_up.weight").first, 0.0, 0.0005);
  EXPECT_EQ(stats("layers.1.ffn_norm.weight"), (std::pair{1.0, 1.0}));
  EXPECT_EQ(stats("layers.1.ffn_norm.bias"), (std::pair{0.0, 0.0}));
  EXPECT_EQ(stats("layers.1.attention.wq.bias"), (std::pair{0.0, 0.0}));
  EXPECT_EQ(values, initial_parameters(c, layout, 42));
  EXPECT_NE(values, initial_parameters(c, layout, 43));
}

class GradientAccumulation : public testing::TestWithParam<int64_t> {};

TEST_P(GradientAccumulation, MicroBatchesEqualOneBigBatch) {
  const int64_t micro_batches = GetParam();
  const int64_t rows = 4;
  ModelConfig c = test::small_base();
  c.num_kv_heads = 2;
  auto backend = make_cpu_backend();
  Transformer big(c, *backend, rows);
  Transformer small(c, *backend, rows / micro_batches);
  std::vector<int32_t> tokens = test::random_tokens(rows, c, 3);
  tokens[c.seq_len] = -1;  // an ignored last target changes the step's target count: 4 * 7 - 1
  const std::vector<float> parameters = test::exercised_parameters(big.layout(), 4);
  big.set_parameters(parameters);
  small.set_parameters(parameters);

  big.zero_gradients();
  const double big_loss = big.forward(tokens.data(), rows, {.training = true});
  big.backward();

  const double step_targets = rows * c.seq_len - 1;
  const int64_t rows_per_micro = rows / micro_batches;
  double accumulated_loss = 0;
  small.zero_gradients();
  for (int64_t m = 0; m < micro_batches; ++m) {
    accumulated_loss += small.forward(tokens.data() + m * rows_per_micro * (c.seq_len + 1), rows_per_micro,
                                      {.training = true, .loss_normalizer = step_targets, .micro_batch = m});
    small.backward();
  }
  EXPECT_NEAR(accumulated_loss, big_loss, 1e-5 * big_loss);
  EXPECT_LT(max_relative_difference(small.get_gradients(), big.get_gradients()), 1e-5);

  // And so is the optimizer step taken from them.
  AdamW big_optimizer(*backend, big.layout().optimizer_segments(), big.parameter_count(), {});
  AdamW small_optimizer(*backend, small.layout().optimizer_segments(), small.parameter_count(), {});
  big_optimizer.step(big.parameters(), big.gradients(), 1e-3);
  small_optimizer.step(small.parameters(), small.gradients(), 1e-3);
  EXPECT_LT(max_relative_difference(small.get_parameters(), big.get_parameters()), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(MicroBatches, GradientAccumulation, testing::Values(2, 4));

TEST(Dropout, OffInEvaluationAndDeterministicForAGivenSeedAndStep) {
  ModelConfig with_dropout = test::small_base();
  with_dropout.dropout_rate = 0.3;
  ModelConfig without = with_dropout;
  without.dropout_rate = 0.0;
  auto backend = make_cpu_backend();
  Transformer a(with_dropout, *backend, 2);
  Transformer b(without, *backend, 2);
  a.initialize(1);
  b.initialize(1);
  const std::vector<int32_t> tokens = test::random_tokens(2, with_dropout, 2);

  const double eval_loss = a.forward(tokens.data(), 2, {.training = false});
  EXPECT_EQ(eval_loss, b.forward(tokens.data(), 2, {.training = false}));
  EXPECT_EQ(eval_loss, b.forward(tokens.data(), 2, {.training = true}));

  const ForwardOptions step3{.training = true, .dropout_seed = 11, .step = 3};
  a.zero_gradients();
  const double train_loss = a.forward(tokens.data(), 2, step3);
  a.backward();
  const std::vector<float> gradients = a.get_gradients();
  EXPECT_NE(train_loss, eval_loss);
  a.zero_gradients();
  EXPECT_EQ(a.forward(tokens.data(), 2, step3), train_loss);  // bit for bit
  a.backward();
  EXPECT_EQ(a.get_gradients(), gradients);

  ForwardOptions step4 = step3;
  step4.step = 4;
  EXPECT_NE(a.forward(tokens.data(), 2, step4), train_loss);
  ForwardOptions other_seed = step3;
  other_seed.dropout_seed = 12;
  EXPECT_NE(a.forward(tokens.data(), 2, other_seed), train_loss);
}

TEST(Weights, SaveLoadRoundTripAndMismatchesAreRefused) {
  const std::string path = std::string(UTT_BINARY_DIR) + "/model_test_weights.safetensors";
  ModelConfig c = test::small_base();
  auto backend = make_cpu_backend();
  Transformer model(c, *backend, 1);
  model.initialize(5);
  save_weights(model, path);
  Transformer loaded(c, *backend, 1);
  load_weights(loaded, path);
  EXPECT_EQ(loaded.get_parameters(), model.get_parameters());
  const safetensors::File file = safetensors::File::read(path);
  EXPECT_EQ(file.at("layers.0.feed_forward.w_gate.weight").shape, (std::vector<int64_t>{40, 24}));

  ModelConfig untied = c;
  untied.tie_embeddings = false;
  Transformer other(untied, *backend, 1);
  try {
    load_weights(other, path);
    FAIL() << "loading weights of a tied model into an untied one must fail";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("output.weight"), std::string::npos) << e.what();
  }
  ModelConfig wider = c;
  wider.d_ff = 48;
  Transformer misshapen(wider, *backend, 1);
  EXPECT_THROW(load_weights(misshapen, path), UserError);
  std::filesystem::remove(path);
}

// Large enough that every op takes its multi-threaded path (above cpu::kMinParallelWork).
ModelConfig threaded_size() {
  ModelConfig c = test::small_base();
  c.vocab_size = 301;
  c.d_model = 64;
  c.d_ff = 160;
  c.seq_len = 64;
  c.num_kv_heads = 2;
  return c;
}

TEST(OptimizedBackend, WholeModelMatchesReferenceModeAtAThreadedSize) {
  for (bool flash : {true, false}) {
    ModelConfig c = threaded_size();
    c.flash_attention = flash;
    const int64_t rows = 8;
    auto optimized_backend = make_cpu_backend({.reference_mode = false, .threads = 2});
    auto reference_backend = make_cpu_backend({.reference_mode = true});
    Transformer optimized(c, *optimized_backend, rows);
    Transformer reference(c, *reference_backend, rows);
    const std::vector<float> parameters = test::exercised_parameters(optimized.layout(), 12);
    optimized.set_parameters(parameters);
    reference.set_parameters(parameters);
    const std::vector<int32_t> tokens = test::random_tokens(rows, c, 13);
    optimized.zero_gradients();
    reference.zero_gradients();
    const double optimized_loss = optimized.forward(tokens.data(), rows, {.training = true});
    const double reference_loss = reference.forward(tokens.data(), rows, {.training = true});
    optimized.backward();
    reference.backward();
    EXPECT_NEAR(optimized_loss, reference_loss, 1e-5 * reference_loss);
    const std::vector<float> g = optimized.get_gradients();
    const std::vector<float> expected = reference.get_gradients();
    for (const ParameterTensor& t : optimized.layout().tensors()) {
      const std::vector<float> a(g.begin() + t.offset, g.begin() + t.offset + t.count);
      const std::vector<float> b(expected.begin() + t.offset, expected.begin() + t.offset + t.count);
      // float32 against double accumulation through a whole model: ~1e-6, with headroom.
      EXPECT_LT(max_relative_difference(a, b), 1e-4) << t.name << (flash ? " flash" : " naive");
    }
  }
}

TEST(Determinism, TwoIdenticalRunsGiveBitIdenticalWeights) {
  const ModelConfig c = threaded_size();
  const int64_t rows = 8;
  auto run = [&] {
    auto backend = make_cpu_backend({.reference_mode = false, .threads = 2});
    Transformer model(c, *backend, rows);
    model.initialize(3);
    AdamW optimizer(*backend, model.layout().optimizer_segments(), model.parameter_count(), {});
    for (int64_t step = 0; step < 3; ++step) {
      const std::vector<int32_t> tokens = test::random_tokens(rows, c, static_cast<uint64_t>(100 + step));
      model.zero_gradients();
      model.forward(tokens.data(), rows, {.training = true, .step = step});
      model.backward();
      clip_grad_norm(*backend, model.gradients(), model.parameter_count(), 0.5);
      optimizer.step(model.parameters(), model.gradients(), 1e-2);
    }
    return model.get_parameters();
  };
  EXPECT_EQ(run(), run());
}

TEST(GradientClipping, AppliedByAdamWEqualsClippingTheGradientsInPlace) {
  // The trainer measures the norm and lets AdamW scale each gradient as it reads it; the result
  // is PyTorch's clip_grad_norm_ followed by a plain step, bit for bit, and clipping happens once.
  const ModelConfig c = test::small_base();
  const int64_t rows = 2;
  const std::vector<int32_t> tokens = test::random_tokens(rows, c, 11);
  auto run = [&](bool in_optimizer) {
    auto backend = make_cpu_backend();
    Transformer model(c, *backend, rows);
    model.initialize(5);
    AdamW optimizer(*backend, model.layout().optimizer_segments(), model.parameter_count(), {});
    float scale = 1.0f;
    for (int64_t step = 0; step < 2; ++step) {
      model.zero_gradients();
      model.forward(tokens.data(), rows, {.training = true});
      model.backward();
      if (in_optimizer) {
        const GradientNorm norm = measure_grad_norm(*backend, model.gradients(), model.parameter_count(), 0.1);
        optimizer.step(model.parameters(), model.gradients(), 1e-2, norm.scale);
        scale = norm.scale;
      } else {
        clip_grad_norm(*backend, model.gradients(), model.parameter_count(), 0.1);
        optimizer.step(model.parameters(), model.gradients(), 1e-2);
      }
    }
    EXPECT_TRUE(!in_optimizer || scale < 1.0f) << "the test should clip";
    return model.get_parameters();
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(LastLogits, MatchTheLossAtThatPositionForAnyLength) {
  ModelConfig c = test::small_base();
  auto backend = make_cpu_backend();
  Transformer model(c, *backend, 2);
  model.set_parameters(test::exercised_parameters(model.layout(), 6));
  const std::vector<int32_t> prompt = test::random_tokens(1, c, 7);  // seq_len + 1 tokens
  for (int64_t length = 1; length <= c.seq_len; ++length) {
    const std::vector<float> logits = model.last_logits(prompt.data(), 1, length);
    // The only target is the token after position length-1: the loss is -log p(target). What
    // follows that position cannot matter (causal attention).
    std::vector<int32_t> inputs(prompt.begin(), prompt.begin() + c.seq_len);
    for (int64_t t = length; t < c.seq_len; ++t) inputs[t] = static_cast<int32_t>((t * 5) % c.vocab_size);
    std::vector<int32_t> targets(static_cast<size_t>(c.seq_len), -1);
    targets[length - 1] = prompt[length];
    const double loss = model.forward(inputs.data(), targets.data(), 1, {});
    double max_logit = -1e30, sum = 0;
    for (float l : logits) max_logit = std::max(max_logit, static_cast<double>(l));
    for (float l : logits) sum += std::exp(l - max_logit);
    const double expected = max_logit + std::log(sum) - logits[prompt[length]];
    EXPECT_NEAR(loss, expected, 1e-5) << "length " << length;
  }
}

}  // namespace
}  // namespace utt
