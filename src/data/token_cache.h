// The token cache (--no-use-streaming): a split tokenized once, in parallel, into one file
// that later runs memory-map, so the second run starts training after well under a second
// of data preparation.
//
// File layout (little-endian; our own format, so it starts with a magic and a version):
//   header, 64 bytes: magic "UTTTOKC1" | u32 version | u32 token_bytes (2 or 4)
//                     | u32 vocab_size | u32 eos_id | u64 num_documents | u64 num_tokens
//                     | u64 key_hash | u64 offsets_offset | 8 reserved bytes
//   tokens:  num_tokens ids of token_bytes each (uint16 when the vocabulary fits), the
//            documents back to back without separators (the loader adds the encoder's; the
//            header's eos_id is the first of them, for information)
//   offsets: num_documents + 1 u64, document d = tokens [offsets[d], offsets[d + 1])
//
// The file name carries a hash of what produced it: the dataset files (path, size, mtime),
// the split, the column, the selection (hold-out, cap) and the encoder's fingerprint, so a
// change in any of them makes a new cache rather than reusing a stale one. It is written to
// a temporary name and renamed into place, so a failed or interrupted build leaves nothing
// that a later run could mistake for a cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/document_stream.h"
#include "data/mapped_file.h"
#include "data/token_encoder.h"

namespace utt {

struct TokenCacheSource {
  std::vector<std::string> files;
  std::string split;
  std::string text_column = "text";
  DocumentSelection selection;  // rank/world are ignored: a cache holds every rank's share
};

// The cache file for `source` and `encoder` in `cache_dir`.
std::string token_cache_path(const std::string& cache_dir, const TokenCacheSource& source,
                             const TokenEncoder& encoder);

class TokenCache {
 public:
  // Opens the cache at `path`; UserError when it is not a valid cache of this version.
  explicit TokenCache(const std::string& path);

  int64_t num_documents() const { return num_documents_; }
  int64_t num_tokens() const { return num_tokens_; }
  uint32_t eos_id() const { return eos_id_; }
  // Appends document d's ids to `out`.
  void append_document(int64_t d, std::vector<uint32_t>& out) const;
  int64_t document_tokens(int64_t d) const;

 private:
  std::unique_ptr<MappedFile> file_;
  uint32_t token_bytes_ = 4;
  uint32_t eos_id_ = 0;
  int64_t num_documents_ = 0;
  int64_t num_tokens_ = 0;
  const uint8_t* tokens_ = nullptr;
  const uint64_t* offsets_ = nullptr;
};

// Builds the cache at `path` (tokenizing with `worker_threads` threads) unless it exists;
// returns true when it had to build it. UserError when the split has no documents.
bool build_token_cache(const std::string& path, const TokenCacheSource& source,
                       const TokenEncoder& encoder, int worker_threads);

}  // namespace utt
