#include "data/byte_stream.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class PlainFile : public ByteStream {
 public:
  explicit PlainFile(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "rb")) {
    if (file_ == nullptr) {
      throw UserError("cannot open " + path + ": " + std::strerror(errno) +
                      ": check the path given to --dataset-id");
    }
  }
  ~PlainFile() override { std::fclose(file_); }
  PlainFile(const PlainFile&) = delete;
  PlainFile& operator=(const PlainFile&) = delete;

  size_t read(char* buffer, size_t capacity) override {
    const size_t n = std::fread(buffer, 1, capacity, file_);
    if (n == 0 && std::ferror(file_)) throw UserError("cannot read " + path_);
    return n;
  }

 private:
  std::string path_;
  std::FILE* file_;
};

class GzipFile : public ByteStream {
 public:
  explicit GzipFile(const std::string& path) : path_(path), file_(path), input_(kChunkBytes) {
    std::memset(&z_, 0, sizeof(z_));
    // 16 + MAX_WBITS: gzip framing only, as the .gz suffix promises.
    UTT_CHECK(inflateInit2(&z_, 16 + MAX_WBITS) == Z_OK, "inflateInit2 failed");
  }
  ~GzipFile() override { inflateEnd(&z_); }
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  size_t read(char* buffer, size_t capacity) override {
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = static_cast<uInt>(capacity);
    while (z_.avail_out == capacity) {
      if (z_.avail_in == 0) {
        const size_t n = file_.read(input_.data(), input_.size());
        if (n == 0) {
          if (in_member_) {
            throw UserError(path_ + " is truncated: the gzip stream ends mid-member; "
                            "download or compress it again");
          }
          break;
        }
        z_.next_in = reinterpret_cast<Bytef*>(input_.data());
        z_.avail_in = static_cast<uInt>(n);
      }
      in_member_ = true;
      const int status = inflate(&z_, Z_NO_FLUSH);
      if (status == Z_STREAM_END) {
        // Another member may follow (concatenated .gz files are one stream).
        in_member_ = false;
        inflateReset(&z_);
      } else if (status != Z_OK && status != Z_BUF_ERROR) {
        throw UserError(path_ + " is not valid gzip data (" +
                        (z_.msg != nullptr ? std::string(z_.msg) : "zlib error") +
                        "): download or compress it again");
      }
    }
    return capacity - z_.avail_out;
  }

 private:
  std::string path_;
  PlainFile file_;
  std::vector<char> input_;
  z_stream z_;
  bool in_member_ = false;
};

class ZstdFile : public ByteStream {
 public:
  explicit ZstdFile(const std::string& path)
      : path_(path), file_(path), input_(ZSTD_DStreamInSize()), stream_(ZSTD_createDStream()) {
    UTT_CHECK(stream_ != nullptr, "ZSTD_createDStream failed");
  }
  ~ZstdFile() override { ZSTD_freeDStream(stream_); }
  ZstdFile(const ZstdFile&) = delete;
  ZstdFile& operator=(const ZstdFile&) = delete;

  size_t read(char* buffer, size_t capacity) override {
    ZSTD_outBuffer out{buffer, capacity, 0};
    while (out.pos == 0) {
      if (in_.pos == in_.size) {
        const size_t n = file_.read(input_.data(), input_.size());
        if (n == 0) {
          if (in_frame_) {
            throw UserError(path_ + " is truncated: the zstd stream ends mid-frame; "
                            "download or compress it again");
          }
          break;
        }
        in_ = ZSTD_inBuffer{input_.data(), n, 0};
      }
      const size_t status = ZSTD_decompressStream(stream_, &out, &in_);
      if (ZSTD_isError(status)) {
        throw UserError(path_ + " is not valid zstd data (" + ZSTD_getErrorName(status) +
                        "): download or compress it again");
      }
      // 0 = a frame just ended; anything else means more input is needed for this frame.
      in_frame_ = status != 0;
    }
    return out.pos;
  }

 private:
  std::string path_;
  PlainFile file_;
  std::vector<char> input_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  ZSTD_DStream* stream_;
  bool in_frame_ = false;
};

}  // namespace

Compression compression_of(const std::string& path) {
  if (ends_with(path, ".gz")) return Compression::gzip;
  if (ends_with(path, ".zst")) return Compression::zstd;
  return Compression::none;
}

std::string without_compression_suffix(const std::string& path) {
  switch (compression_of(path)) {
    case Compression::gzip: return path.substr(0, path.size() - 3);
    case Compression::zstd: return path.substr(0, path.size() - 4);
    case Compression::none: break;
  }
  return path;
}

std::unique_ptr<ByteStream> open_byte_stream(const std::string& path) {
  switch (compression_of(path)) {
    case Compression::gzip: return std::make_unique<GzipFile>(path);
    case Compression::zstd: return std::make_unique<ZstdFile>(path);
    case Compression::none: break;
  }
  return std::make_unique<PlainFile>(path);
}

LineReader::LineReader(std::unique_ptr<ByteStream> stream) : stream_(std::move(stream)) {}

bool LineReader::next(std::string& line) {
  while (true) {
    const size_t newline = buffer_.find('\n', begin_);
    if (newline != std::string::npos || (at_end_ && begin_ < buffer_.size())) {
      const size_t end = newline == std::string::npos ? buffer_.size() : newline;
      size_t stop = end;
      if (stop > begin_ && buffer_[stop - 1] == '\r') --stop;
      line.assign(buffer_, begin_, stop - begin_);
      begin_ = newline == std::string::npos ? buffer_.size() : newline + 1;
      ++line_number_;
      return true;
    }
    if (at_end_) return false;
    buffer_.erase(0, begin_);
    begin_ = 0;
    const size_t old_size = buffer_.size();
    buffer_.resize(old_size + kChunkBytes);
    const size_t n = stream_->read(buffer_.data() + old_size, kChunkBytes);
    buffer_.resize(old_size + n);
    if (n == 0) at_end_ = true;
  }
}

}  // namespace utt
