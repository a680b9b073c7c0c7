// PairMap: an open-addressing hash map from a token pair to a small value, for the merge
// table that encoding consults once per adjacent pair: one flat array, no node per entry.
#pragma once

#include <cstdint>
#include <vector>

namespace utt {

inline uint64_t pair_key(uint32_t left, uint32_t right) {
  return (static_cast<uint64_t>(left) << 32) | right;
}

template <typename Value>
class PairMap {
 public:
  void reserve(size_t count) {
    size_t capacity = 16;
    while (capacity < count * 2) capacity *= 2;
    keys_.assign(capacity, kEmpty);
    values_.assign(capacity, Value{});
    size_ = 0;
  }

  void insert(uint64_t key, const Value& value) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t slot = find_slot(key);
    if (keys_[slot] == kEmpty) ++size_;
    keys_[slot] = key;
    values_[slot] = value;
  }

  const Value* find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    const size_t slot = find_slot(key);
    return keys_[slot] == key ? &values_[slot] : nullptr;
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  size_t find_slot(uint64_t key) const {
    const size_t mask = keys_.size() - 1;
    size_t slot = (key * 0x9E3779B97F4A7C15ull) >> 20 & mask;
    while (keys_[slot] != kEmpty && keys_[slot] != key) slot = (slot + 1) & mask;
    return slot;
  }

  void grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Value> old_values = std::move(values_);
    reserve(old_keys.empty() ? 8 : old_keys.size());
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) insert(old_keys[i], old_values[i]);
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
  size_t size_ = 0;
};

}  // namespace utt
