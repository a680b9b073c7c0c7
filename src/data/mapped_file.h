// A read-only memory map of a whole file (RAII). Used for Parquet files, which are read by
// offsets from the footer, and for token caches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace utt {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // UserError if it cannot be opened
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace utt
