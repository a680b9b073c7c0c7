#include "data/shuffle_buffer.h"

namespace utt {

uint64_t derive_seed(uint64_t seed, uint64_t purpose, uint64_t epoch) {
  SplitMix64 mix(seed ^ (purpose * 0xD1B54A32D192ED03ull));
  mix.next();
  SplitMix64 again(mix.next() ^ (epoch * 0x9E3779B97F4A7C15ull));
  return again.next();
}

bool ShuffleBuffer::push(std::string&& document, std::string& out) {
  if (capacity_ <= 1) {
    out = std::move(document);
    return true;
  }
  if (documents_.size() < capacity_) {
    documents_.push_back(std::move(document));
    return false;
  }
  const size_t i = static_cast<size_t>(rng_.below(documents_.size()));
  out = std::move(documents_[i]);
  documents_[i] = std::move(document);
  return true;
}

bool ShuffleBuffer::drain(std::string& out) {
  if (documents_.empty()) return false;
  const size_t i = static_cast<size_t>(rng_.below(documents_.size()));
  out = std::move(documents_[i]);
  documents_[i] = std::move(documents_.back());
  documents_.pop_back();
  return true;
}

}  // namespace utt
