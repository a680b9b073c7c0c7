#include "model/kv_cache.h"

namespace utt {

KvCache::KvCache(Backend& backend_in, const ModelConfig& config, int64_t row_count)
    : backend(backend_in),
      rows(row_count),
      capacity(config.seq_len),
      q_width(config.d_model),
      kv_width(config.kv_dim()),
      activations(backend_in, config, row_count, ModelUse::kInference, 1) {
  for (int64_t l = 0; l < config.num_layers; ++l) {
    keys.emplace_back(backend, rows * capacity * kv_width);
    values.emplace_back(backend, rows * capacity * kv_width);
  }
}

void KvCache::store(int64_t layer, const float* qkv, int64_t qkv_width) {
  float* layer_keys = keys[static_cast<size_t>(layer)].get();
  float* layer_values = values[static_cast<size_t>(layer)].get();
  for (int64_t b = 0; b < rows; ++b) {
    const float* row = qkv + b * qkv_width;
    const int64_t at = (b * capacity + length) * kv_width;
    backend.copy(layer_keys + at, row + q_width, kv_width);
    backend.copy(layer_values + at, row + q_width + kv_width, kv_width);
  }
}

KvCacheDecoder::KvCacheDecoder(Transformer& model)
    : model_(model), cache_(model.backend(), model.config(), 1) {}

}  // namespace utt
