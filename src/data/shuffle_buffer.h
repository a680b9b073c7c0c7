// A seeded shuffle buffer over a stream (the streaming shuffle of Hugging Face datasets and
// tf.data): it holds up to `capacity` documents; each new document takes the place of one
// chosen at random, which goes out. Memory is bounded by the capacity whatever the stream's
// length; documents move at most `capacity` places from where the stream had them, so the
// buffer should be large next to any ordering in the data (files sorted by topic, ...).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace utt {

// splitmix64 (Steele, Lea, Flood 2014): one 64-bit word of state, so it saves and restores
// exactly, and it is the same on every platform (std:: distributions are not).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); the modulo bias is below 2^-40 for any buffer that fits in memory.
  uint64_t below(uint64_t n) { return next() % n; }
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// A seed for one purpose and epoch, from the run's seed.
uint64_t derive_seed(uint64_t seed, uint64_t purpose, uint64_t epoch);

class ShuffleBuffer {
 public:
  // capacity <= 1 passes documents through in order.
  ShuffleBuffer(size_t capacity, uint64_t seed) : capacity_(capacity), rng_(seed) {}

  // Takes `document`; returns true with a document in `out` once the buffer is full.
  bool push(std::string&& document, std::string& out);
  // After the last push: the remaining documents, in random order, one per call.
  bool drain(std::string& out);

 private:
  size_t capacity_;
  SplitMix64 rng_;
  std::vector<std::string> documents_;
};

}  // namespace utt
