// Token-by-token inference with a key/value cache, for generation.
//
// Each new token runs the model's matmuls for its own position only; the keys and values of
// earlier positions (with RoPE already applied) stay in a per-layer cache of seq_len rows. The
// attention of the new position is computed by the backend's causal attention over the cached
// rows. Logits equal those of a full forward over the same prefix (test: kv_cache_test).
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "model/transformer.h"

namespace utt {

class KvCacheDecoder {
 public:
  // Reads `model`'s parameters; allocates one row of activations and seq_len rows of cache.
  explicit KvCacheDecoder(const Transformer& model);

  // Forgets every cached position.
  void reset() { length_ = 0; }
  int64_t length() const { return length_; }
  int64_t capacity() const { return model_.config().seq_len; }

  // Appends `token` at the next position and returns the logits (V) for the position after
  // it. UTT_CHECK-fails when the cache is full (length() == capacity()): reset and refill.
  std::vector<float> append(int32_t token);

 private:
  void norm(float* out, const float* x, int64_t weight, int64_t bias);
  void linear(float* y, const float* x, int64_t weight, int64_t bias, int64_t in, int64_t out,
              Accumulate accumulate);
  const float* param(int64_t offset) const {
    return offset < 0 ? nullptr : model_.parameters() + offset;
  }

  const Transformer& model_;
  Backend& backend_;
  int64_t length_ = 0;
  int64_t qkv_width_ = 0;
  BackendBuffer<int32_t> token_;
  BackendBuffer<float> x_, normed_, mean_, rstd_, middle_, hidden_, act_, logits_;
  BackendBuffer<float> rope_cos_, rope_sin_;
  std::vector<BackendBuffer<float>> qkv_;  // per layer: (seq_len, qkv_width), q then k then v
  BackendBuffer<float> attention_;         // (seq_len, C): the attention output of every row
  BackendBuffer<float> lse_;               // (NH, seq_len)
};

}  // namespace utt
