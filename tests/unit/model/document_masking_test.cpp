// Document masking: a packed window is its documents side by side, each as if alone.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "model/transformer.h"
#include "small_models.h"

namespace utt {
namespace {

// Documents of 6, 1, 9 and 8 inputs in one window of 24, a one-token document among them.
constexpr int64_t kDocumentLengths[] = {6, 1, 9, 8};
constexpr int64_t kWindow = 24;

std::vector<int32_t> window_positions() {
  std::vector<int32_t> doc_pos;
  for (int64_t length : kDocumentLengths) {
    for (int64_t i = 0; i < length; ++i) doc_pos.push_back(static_cast<int32_t>(i));
  }
  return doc_pos;
}

// Per-token losses of one row: inputs and targets (seq_len each; -1 ignores a target).
std::vector<float> row_losses(Transformer& model, const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets,
                              const int32_t* doc_pos) {
  model.forward(inputs.data(), targets.data(), 1, {.training = false, .doc_pos = doc_pos});
  return model.token_losses(1);
}

TEST(DocumentMasking, APackedWindowsLossIsTheSumOfItsDocumentsLossesComputedAlone) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    SCOPED_TRACE(variant.name);  // RoPE and learned positions, flash and naive attention
    ModelConfig config = variant.config;
    config.seq_len = kWindow;
    auto backend = make_cpu_backend();
    Transformer model(config, *backend, 1, ModelUse::kInference);
    model.initialize(3);
    const std::vector<int32_t> window = test::random_tokens(1, config, 4);  // kWindow + 1 ids
    const std::vector<int32_t> inputs(window.begin(), window.end() - 1), targets(window.begin() + 1, window.end());
    const std::vector<int32_t> doc_pos = window_positions();
    const std::vector<float> packed = row_losses(model, inputs, targets, doc_pos.data());
    const std::vector<float> unmasked = row_losses(model, inputs, targets, nullptr);

    double packed_sum = 0, separate_sum = 0;
    int64_t start = 0;
    for (const int64_t length : kDocumentLengths) {
      // The document alone at the start of a row: its inputs and targets, the rest of the row
      // ignored (padding after it cannot reach it: attention is causal).
      std::vector<int32_t> alone_inputs(kWindow, 0), alone_targets(kWindow, -1);
      std::copy_n(inputs.begin() + start, length, alone_inputs.begin());
      std::copy_n(targets.begin() + start, length, alone_targets.begin());
      const std::vector<float> alone = row_losses(model, alone_inputs, alone_targets, nullptr);
      for (int64_t i = 0; i < length; ++i) {
        // RoPE keeps the window's positions (scores depend on distances only): equal up to the
        // rounding of the rotation angles, and of a flash block's different key tiling.
        EXPECT_NEAR(packed[static_cast<size_t>(start + i)], alone[static_cast<size_t>(i)],
                    1e-5 * (1 + std::abs(alone[static_cast<size_t>(i)])))
            << "document at " << start << ", token " << i;
        packed_sum += packed[static_cast<size_t>(start + i)];
        separate_sum += alone[static_cast<size_t>(i)];
      }
      start += length;
    }
    EXPECT_NEAR(packed_sum, separate_sum, 1e-5 * std::abs(separate_sum));
    // Without the mask, later documents see earlier ones: the losses differ.
    double difference = 0;
    for (size_t i = static_cast<size_t>(kDocumentLengths[0]); i < packed.size(); ++i) {
      difference = std::max(difference, static_cast<double>(std::abs(packed[i] - unmasked[i])));
    }
    EXPECT_GT(difference, 1e-3);
  }
}

TEST(DocumentMasking, OneDocumentPerRowIsThePlainCausalModel) {
  ModelConfig config = test::small_base();
  auto backend = make_cpu_backend();
  Transformer model(config, *backend, 2);
  model.initialize(5);
  const std::vector<int32_t> tokens = test::random_tokens(2, config, 6);
  std::vector<int32_t> counting(static_cast<size_t>(2 * config.seq_len));
  for (size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<int32_t>(i % config.seq_len);
  const ForwardOptions plain{.training = true};
  ForwardOptions one_document = plain;
  one_document.doc_pos = counting.data();
  model.zero_gradients();
  const double loss = model.forward(tokens.data(), 2, plain);
  model.backward();
  const std::vector<float> gradients = model.get_gradients();
  model.zero_gradients();
  EXPECT_EQ(model.forward(tokens.data(), 2, one_document), loss);
  model.backward();
  EXPECT_EQ(model.get_gradients(), gradients);
}

}  // namespace
}  // namespace utt
