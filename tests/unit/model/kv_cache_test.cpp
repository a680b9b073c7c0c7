// Generation with the KV cache gives the same next-token logits as a full forward pass over
// the same prefix, for every architecture variant.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "model/kv_cache.h"
#include "model/transformer.h"
#include "unit/model/small_models.h"
#include "util/error.h"

namespace utt {
namespace {

TEST(KvCache, LogitsEqualAFullForwardAtEveryPosition) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    const std::unique_ptr<Backend> backend = make_cpu_backend({});
    Transformer model(variant.config, *backend, 1);
    model.initialize(5);
    KvCacheDecoder decoder(model);
    std::vector<int32_t> tokens;
    for (int64_t p = 0; p < variant.config.seq_len; ++p) {
      tokens.push_back(static_cast<int32_t>((p * 11 + 3) % variant.config.vocab_size));
      const std::vector<float> cached = decoder.append(tokens.back());
      const std::vector<float> full = model.last_logits(tokens.data(), 1, static_cast<int64_t>(tokens.size()));
      ASSERT_EQ(cached.size(), full.size());
      float scale = 0;
      for (float v : full) scale = std::max(scale, std::fabs(v));
      for (size_t i = 0; i < full.size(); ++i) {
        // Same ops on the same values, but matmuls of 1 row and of seq_len rows may sum in
        // another order: float32 rounding, relative to the largest logit.
        ASSERT_NEAR(cached[i], full[i], 1e-5f * scale + 1e-6f) << variant.name << " position " << p << " logit " << i;
      }
    }
    EXPECT_EQ(decoder.length(), variant.config.seq_len);
    decoder.reset();
    EXPECT_EQ(decoder.length(), 0);
  }
}

// Several sequences share one cache, each in its own rows: every sequence's logits are those it
// gets decoded alone.
TEST(KvCache, SequencesDecodedTogetherGetTheLogitsTheyGetAlone) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    const ModelConfig& c = variant.config;
    const std::unique_ptr<Backend> backend = make_cpu_backend({});
    Transformer model(c, *backend, 0, ModelUse::kInference);
    model.initialize(13);
    constexpr int64_t kRows = 3;
    KvCache together(*backend, c, kRows);
    std::vector<KvCacheDecoder> alone;
    for (int64_t b = 0; b < kRows; ++b) alone.emplace_back(model);
    for (int64_t p = 0; p < c.seq_len; ++p) {
      int32_t tokens[kRows];
      for (int64_t b = 0; b < kRows; ++b) tokens[b] = static_cast<int32_t>((p * 5 + b * 11 + 2) % c.vocab_size);
      const std::vector<float> logits = model.decode_step(together, tokens);
      ASSERT_EQ(static_cast<int64_t>(logits.size()), kRows * c.vocab_size);
      for (int64_t b = 0; b < kRows; ++b) {
        const std::vector<float> single = alone[static_cast<size_t>(b)].append(tokens[b]);
        float scale = 0;
        for (float v : single) scale = std::max(scale, std::fabs(v));
        for (int64_t v = 0; v < c.vocab_size; ++v) {
          // Matmuls of 3 rows and of 1 row may sum in another order: float32 rounding, relative
          // to the largest logit.
          ASSERT_NEAR(logits[static_cast<size_t>(b * c.vocab_size + v)], single[static_cast<size_t>(v)],
                      1e-5f * scale + 1e-6f)
              << variant.name << " sequence " << b << " position " << p << " logit " << v;
        }
      }
    }
    EXPECT_EQ(together.length, c.seq_len);
  }
}

// A model loaded for inference holds no gradients and keeps no activations for a backward, yet
// computes exactly what the training model computes: its layers share one set of buffers, which
// changes where values are stored, not how they are computed.
TEST(KvCache, AWeightsOnlyModelComputesExactlyWhatTheTrainingModelDoes) {
  for (const test::NamedConfig& variant : test::architecture_variants()) {
    const ModelConfig& c = variant.config;
    const std::unique_ptr<Backend> backend = make_cpu_backend({});
    Transformer trained(c, *backend, 2);
    trained.initialize(9);
    Transformer evaluated(c, *backend, 2, ModelUse::kInference);
    Transformer weights_only(c, *backend, 0, ModelUse::kInference);
    evaluated.set_parameters(trained.get_parameters());
    weights_only.set_parameters(trained.get_parameters());
    EXPECT_EQ(evaluated.gradients(), nullptr) << variant.name;
    EXPECT_EQ(weights_only.gradients(), nullptr) << variant.name;

    // Evaluation: the loss of two rows, and the logits of a prompt.
    std::vector<int32_t> windows(static_cast<size_t>(2 * (c.seq_len + 1)));
    for (size_t i = 0; i < windows.size(); ++i) windows[i] = static_cast<int32_t>((i * 7 + 1) % c.vocab_size);
    EXPECT_EQ(evaluated.forward(windows.data(), 2, {}), trained.forward(windows.data(), 2, {})) << variant.name;
    EXPECT_EQ(evaluated.last_logits(windows.data(), 1, 3), trained.last_logits(windows.data(), 1, 3)) << variant.name;
    EXPECT_THROW(evaluated.forward(windows.data(), 2, {.training = true}), InternalError) << variant.name;
    EXPECT_THROW(weights_only.forward(windows.data(), 1, {}), InternalError) << variant.name;

    // Generation: the same logits at every position.
    KvCacheDecoder from_trained(trained);
    KvCacheDecoder from_weights(weights_only);
    for (int64_t p = 0; p < c.seq_len; ++p) {
      const int32_t token = windows[static_cast<size_t>(p)];
      ASSERT_EQ(from_weights.append(token), from_trained.append(token)) << variant.name << " position " << p;
    }
  }
}

}  // namespace
}  // namespace utt
