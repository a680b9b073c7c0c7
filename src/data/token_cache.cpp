#include "data/token_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "data/token_pipeline.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace utt {
namespace {

constexpr char kMagic[8] = {'U', 'T', 'T', 'T', 'O', 'K', 'C', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t token_bytes;
  uint32_t vocab_size;
  uint32_t eos_id;
  uint64_t num_documents;
  uint64_t num_tokens;
  uint64_t key_hash;
  uint64_t offsets_offset;
  uint8_t reserved[8];
};
static_assert(sizeof(Header) == kHeaderBytes, "the header is 64 bytes on disk");

uint64_t align8(uint64_t n) { return (n + 7) / 8 * 8; }

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

uint64_t cache_key(const TokenCacheSource& source, const TokenEncoder& encoder) {
  std::string key = "split=" + source.split + "\ncolumn=" + source.text_column +
                    "\nhold_out=" + std::to_string(static_cast<int>(source.selection.hold_out)) +
                    "\nval_fraction=" + std::to_string(source.selection.val_fraction) +
                    "\nseed=" + std::to_string(source.selection.seed) + "\nmax=" +
                    (source.selection.max_documents ? std::to_string(*source.selection.max_documents) : "none") +
                    "\nencoder=" + encoder.fingerprint() + "\n";
  for (const std::string& file : source.files) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) throw UserError("cannot read " + file + ": " + std::strerror(errno));
    key += file + " " + std::to_string(info.st_size) + " " + std::to_string(info.st_mtim.tv_sec) +
           "." + std::to_string(info.st_mtim.tv_nsec) + "\n";
  }
  return fnv1a(key);
}

// A file being written; removed unless commit() renamed it into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& final_path)
      : final_path_(final_path),
        path_(final_path + ".tmp." + std::to_string(::getpid())),
        file_(std::fopen(path_.c_str(), "wb")) {
    if (file_ == nullptr) {
      throw UserError("cannot write the token cache " + path_ + ": " + std::strerror(errno) +
                      ": check that its folder is writable");
    }
  }
  ~TemporaryFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) std::remove(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(const void* data, size_t bytes) {
    if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) {
      throw UserError("cannot write the token cache " + path_ + " (disk full?)");
    }
  }
  void write_at(long offset, const void* data, size_t bytes) {
    if (std::fseek(file_, offset, SEEK_SET) != 0) throw UserError("cannot seek in " + path_);
    write(data, bytes);
  }
  long tell() { return std::ftell(file_); }
  void commit() {
    const int status = std::fclose(file_);
    file_ = nullptr;
    if (status != 0 || std::rename(path_.c_str(), final_path_.c_str()) != 0) {
      throw UserError("cannot write the token cache " + final_path_ + ": " + std::strerror(errno));
    }
    committed_ = true;
  }

 private:
  std::string final_path_;
  std::string path_;
  std::FILE* file_;
  bool committed_ = false;
};

}  // namespace

std::string token_cache_path(const std::string& cache_dir, const TokenCacheSource& source,
                             const TokenEncoder& encoder) {
  char name[64];
  std::snprintf(name, sizeof(name), "tokens-%016llx.bin",
                static_cast<unsigned long long>(cache_key(source, encoder)));
  return (fs::path(cache_dir) / name).string();
}

bool build_token_cache(const std::string& path, const TokenCacheSource& source,
                       const TokenEncoder& encoder, int worker_threads) {
  if (fs::exists(path)) return false;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.version = kVersion;
  header.vocab_size = encoder.vocab_size();
  // Informational: the loader frames documents with the encoder's separators.
  const DocumentFraming& framing = encoder.framing();
  header.eos_id = !framing.suffix.empty() ? framing.suffix[0] : !framing.prefix.empty() ? framing.prefix[0] : 0;
  // Half the bytes when every id fits in 16 bits.
  header.token_bytes = encoder.vocab_size() <= 65536 ? 2 : 4;
  header.key_hash = cache_key(source, encoder);

  TemporaryFile out(path);
  out.write(&header, sizeof(header));
  TokenPipelineConfig config;
  config.files = source.files;
  config.text_column = source.text_column;
  config.selection = source.selection;
  config.selection.rank = 0;
  config.selection.world = 1;
  config.worker_threads = worker_threads;
  TokenPipeline pipeline(config, encoder);

  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> ids;
  std::vector<uint16_t> narrow;
  while (pipeline.next(ids)) {
    if (header.token_bytes == 2) {
      narrow.assign(ids.begin(), ids.end());
      out.write(narrow.data(), narrow.size() * 2);
    } else {
      out.write(ids.data(), ids.size() * 4);
    }
    offsets.push_back(offsets.back() + ids.size());
  }
  if (offsets.size() == 1) {
    throw UserError("no documents in split '" + source.split + "': every text is NULL or empty "
                    "(or --max-*-examples / --val-fraction left none); check --text-column");
  }
  header.num_documents = offsets.size() - 1;
  header.num_tokens = offsets.back();
  const uint64_t tokens_end = static_cast<uint64_t>(out.tell());
  const uint64_t zeros = 0;
  out.write(&zeros, align8(tokens_end) - tokens_end);
  header.offsets_offset = align8(tokens_end);
  out.write(offsets.data(), offsets.size() * sizeof(uint64_t));
  out.write_at(0, &header, sizeof(header));
  out.commit();
  return true;
}

TokenCache::TokenCache(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  const auto refuse = [&](const std::string& why) {
    throw UserError("the token cache " + path + " is unusable (" + why +
                    "): delete it and it will be rebuilt");
  };
  if (file_->size() < kHeaderBytes) refuse("too short");
  Header header;
  std::memcpy(&header, file_->data(), sizeof(header));
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) refuse("not a utt token cache");
  if (header.version != kVersion) {
    refuse("version " + std::to_string(header.version) + ", this utt reads version " +
           std::to_string(kVersion));
  }
  if (header.token_bytes != 2 && header.token_bytes != 4) refuse("bad token width");
  // Sizes are checked before any arithmetic can overflow; the offsets start 8-aligned, as
  // they are read in place as u64.
  if (header.num_tokens > file_->size() || header.num_documents > file_->size()) refuse("sizes disagree");
  const uint64_t tokens_end = kHeaderBytes + header.num_tokens * header.token_bytes;
  if (header.offsets_offset != align8(tokens_end) ||
      header.offsets_offset + (header.num_documents + 1) * 8 != file_->size()) {
    refuse("sizes disagree");
  }
  token_bytes_ = header.token_bytes;
  eos_id_ = header.eos_id;
  num_documents_ = static_cast<int64_t>(header.num_documents);
  num_tokens_ = static_cast<int64_t>(header.num_tokens);
  tokens_ = file_->data() + kHeaderBytes;
  offsets_ = reinterpret_cast<const uint64_t*>(file_->data() + header.offsets_offset);
  if (offsets_[0] != 0 || offsets_[num_documents_] != header.num_tokens) refuse("bad offsets");
  for (int64_t d = 0; d < num_documents_; ++d) {
    if (offsets_[d] > offsets_[d + 1]) refuse("bad offsets");
  }
}

int64_t TokenCache::document_tokens(int64_t d) const {
  return static_cast<int64_t>(offsets_[d + 1] - offsets_[d]);
}

void TokenCache::append_document(int64_t d, std::vector<uint32_t>& out) const {
  UTT_CHECK(d >= 0 && d < num_documents_, "document index out of range");
  const uint64_t begin = offsets_[d], end = offsets_[d + 1];
  UTT_CHECK(begin <= end && end <= static_cast<uint64_t>(num_tokens_), "corrupt offsets");
  if (token_bytes_ == 2) {
    const auto* ids = reinterpret_cast<const uint16_t*>(tokens_);
    out.insert(out.end(), ids + begin, ids + end);
  } else {
    const auto* ids = reinterpret_cast<const uint32_t*>(tokens_);
    out.insert(out.end(), ids + begin, ids + end);
  }
}

}  // namespace utt
