// TokenPipeline: one pass over a split's documents, shuffled and tokenized, in a fixed order.
//
//   reader thread:   DocumentStream -> ShuffleBuffer -> chunks of documents (numbered)
//   worker threads:  tokenize chunks, any chunk on any worker
//   caller (next()): takes chunks back in their numbered order
//
// The order is decided by the reader thread alone (seeded), so the output is the same for
// any number of workers, and a pass can be replayed: `skip_documents` drops the first
// documents after shuffling without tokenizing them, which is how a resumed loader
// rebuilds the shuffle buffer. Memory is bounded by the shuffle buffer plus
// kMaxChunksInFlight chunks, whatever the dataset size.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/document_stream.h"
#include "data/token_encoder.h"

namespace utt {

struct TokenPipelineConfig {
  std::vector<std::string> files;
  std::string text_column = "text";
  DocumentSelection selection;
  size_t shuffle_buffer_size = 0;  // <= 1: file order
  uint64_t shuffle_seed = 0;
  int64_t skip_documents = 0;
  int worker_threads = 2;
};

class TokenPipeline {
 public:
  TokenPipeline(TokenPipelineConfig config, const TokenEncoder& encoder);
  ~TokenPipeline();
  TokenPipeline(const TokenPipeline&) = delete;
  TokenPipeline& operator=(const TokenPipeline&) = delete;

  // The next document's token ids (without end of text) in `tokens`; false at the end.
  // Rethrows an error from the reader or a worker (a corrupt file, ...).
  bool next(std::vector<uint32_t>& tokens);

 private:
  struct Chunk {
    std::vector<std::string> texts;
    std::vector<std::vector<uint32_t>> tokens;
  };

  void read_documents();
  void tokenize_chunks();
  bool push_chunk(Chunk&& chunk);  // false when stopping
  void fail(std::exception_ptr error);

  TokenPipelineConfig config_;
  const TokenEncoder& encoder_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Chunk> to_tokenize_;  // chunk number -> texts
  std::map<int64_t, Chunk> tokenized_;    // chunk number -> tokens
  int64_t chunks_read_ = 0;
  int64_t in_flight_ = 0;
  bool reading_done_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;

  // The caller's side.
  int64_t next_chunk_ = 0;
  Chunk current_;
  size_t current_index_ = 0;

  std::vector<std::thread> threads_;
};

}  // namespace utt
