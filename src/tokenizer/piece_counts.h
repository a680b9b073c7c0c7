// PieceCounts: distinct pre-tokenized pieces and how often each occurs, in one flat
// open-addressing table over one byte arena. A std::unordered_map<std::string, ...> costs a
// node, a string and several cache misses per distinct piece; this costs a 24-byte slot plus
// the piece's bytes. Measured with the flat word arrays of bpe_train.cpp, on 30 MB of text with
// 1.27 M distinct words: 18.8 s / 521 MB before, 13.9 s / 404 MB after (docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

class PieceCounts {
 public:
  PieceCounts() { slots_.resize(kInitialSlots); }

  void add(std::string_view piece, uint64_t count = 1) {
    add_hashed(std::hash<std::string_view>{}(piece), piece, count);
  }

  // Adds every piece of `other` (whose table is then left as it was).
  void add_all(const PieceCounts& other) {
    for (const Slot& slot : other.slots_) {
      if (slot.count != 0) add_hashed(slot.hash, other.piece(slot), slot.count);
    }
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // f(std::string_view piece, uint64_t count) for every distinct piece, in table order.
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_) {
      if (slot.count != 0) f(piece(slot), slot.count);
    }
  }

  void clear() {
    std::vector<Slot>().swap(slots_);
    std::string().swap(arena_);
    size_ = 0;
    slots_.resize(kInitialSlots);
  }

 private:
  static constexpr size_t kInitialSlots = 1 << 12;

  struct Slot {
    uint64_t hash = 0;
    uint64_t count = 0;  // 0: empty slot
    uint64_t offset_and_length = 0;  // offset in arena << 24 | length (pieces < 16 MB)
  };
  static constexpr uint64_t kLengthBits = 24;

  std::string_view piece(const Slot& slot) const {
    const uint64_t length = slot.offset_and_length & ((uint64_t{1} << kLengthBits) - 1);
    return std::string_view(arena_).substr(slot.offset_and_length >> kLengthBits, length);
  }

  void add_hashed(uint64_t hash, std::string_view text, uint64_t count) {
    if (text.size() >= (uint64_t{1} << kLengthBits)) {
      // A piece of 16 MB or more (one huge run of spaces): count it in parts.
      const size_t half = text.size() / 2;
      add(text.substr(0, half), count);
      add(text.substr(half), count);
      return;
    }
    size_t mask = slots_.size() - 1;
    size_t index = hash & mask;
    while (slots_[index].count != 0) {
      Slot& slot = slots_[index];
      if (slot.hash == hash && piece(slot) == text) {
        slot.count += count;
        return;
      }
      index = (index + 1) & mask;
    }
    Slot& slot = slots_[index];
    slot.hash = hash;
    slot.count = count;
    slot.offset_and_length = (static_cast<uint64_t>(arena_.size()) << kLengthBits) | text.size();
    arena_.append(text);
    // Linear probing stays short up to 3/4 full with a good hash; fuller tables waste less.
    if (++size_ * 4 > slots_.size() * 3) grow();
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.count == 0) continue;
      size_t index = slot.hash & mask;
      while (slots_[index].count != 0) index = (index + 1) & mask;
      slots_[index] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

}  // namespace utt
