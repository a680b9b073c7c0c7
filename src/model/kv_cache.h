// Token-by-token inference with a key/value cache, for generation.
//
// Each new token runs the model's own blocks (Transformer::decode_step, the same code as a full
// forward) over its one position; the keys and values of earlier positions (RoPE applied) stay
// in a per-layer cache of seq_len positions, and the new position's queries attend over it with
// the backend's decode_attention, reading each cached row once: a token costs O(length), where
// re-running causal attention over every cached position cost O(length^2). Logits equal those of
// a full forward over the same prefix (test: kv_cache_test).
//
// The cache also holds the one-position activations a step runs in, so a model loaded for
// generation (ModelUse::kInference, max_batch 0) is its weights and this, nothing more.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "model/activations.h"
#include "model/transformer.h"

namespace utt {

struct KvCache {
  // `rows` sequences of up to seq_len positions each.
  KvCache(Backend& backend, const ModelConfig& config, int64_t rows);

  // Copies the keys and values of `rows` qkv rows (q heads, k heads, v heads; row stride
  // qkv_width) into position `length` of layer l.
  void store(int64_t layer, const float* qkv, int64_t qkv_width);

  Backend& backend;
  int64_t rows = 0;
  int64_t capacity = 0;  // positions per row: the model's seq_len
  int64_t q_width = 0;   // NH * HS
  int64_t kv_width = 0;  // KVH * HS
  int64_t length = 0;    // positions filled
  std::vector<BackendBuffer<float>> keys, values;  // per layer: (rows, capacity, kv_width)
  Activations activations;                         // rows x 1 position, forward only
};

// One sequence's decoding, for `utt generate`.
class KvCacheDecoder {
 public:
  explicit KvCacheDecoder(Transformer& model);

  // Forgets every cached position.
  void reset() { cache_.length = 0; }
  int64_t length() const { return cache_.length; }
  int64_t capacity() const { return cache_.capacity; }

  // Appends `token` at the next position and returns the logits (V) for the position after
  // it. UTT_CHECK-fails when the cache is full (length() == capacity()): reset and refill.
  // Passing the argument's address is safe: upload has read it when it returns (backend.h).
  std::vector<float> append(int32_t token) { return model_.decode_step(cache_, &token); }

 private:
  Transformer& model_;
  KvCache cache_;
};

}  // namespace utt
