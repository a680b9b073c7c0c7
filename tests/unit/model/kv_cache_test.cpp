// Generation with the KV cache gives the same next-token logits as a full forward pass over
// the same prefix, for every architecture variant.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "model/kv_cache.h"
#include "model/transformer.h"
#include "unit/model/small_models.h"

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

}  // namespace
}  // namespace utt
