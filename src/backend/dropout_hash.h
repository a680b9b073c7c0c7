// The dropout mask as a pure function of (key, element index): a counter-based generator, so the
// backward pass, a resumed run and every backend (the CUDA kernels call these same functions)
// reproduce the same mask without storing it.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace utt {

// SplitMix64's finalizer: a bijective mix with full avalanche, cheap enough per element.
UTT_HOST_DEVICE uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits: exact in float, identical on every backend.
UTT_HOST_DEVICE float dropout_uniform(uint64_t key, int64_t index) {
  const uint64_t bits = mix64(mix64(key) + static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ULL);
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

// The key of one dropout site: (seed, optimizer step, micro-batch, layer, site) folded together.
UTT_HOST_DEVICE uint64_t dropout_key(uint64_t seed, int64_t step, int64_t micro_batch, int64_t layer,
                            int64_t site) {
  uint64_t key = mix64(seed);
  key = mix64(key ^ static_cast<uint64_t>(step));
  key = mix64(key ^ static_cast<uint64_t>(micro_batch));
  key = mix64(key ^ static_cast<uint64_t>(layer + 1));
  return mix64(key ^ static_cast<uint64_t>(site));
}

}  // namespace utt
