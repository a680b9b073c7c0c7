#include "data/token_pipeline.h"

#include <utility>

#include "data/shuffle_buffer.h"

namespace utt {
namespace {

// A chunk is the unit of work handed to a tokenizer thread: large enough that the locking
// is noise next to tokenizing it, small enough that few are in memory at once.
constexpr size_t kChunkDocuments = 64;
constexpr size_t kChunkBytes = 1 << 20;
constexpr int64_t kMaxChunksInFlight = 16;

}  // namespace

TokenPipeline::TokenPipeline(TokenPipelineConfig config, const TokenEncoder& encoder)
    : config_(std::move(config)), encoder_(encoder) {
  threads_.emplace_back([this] { read_documents(); });
  for (int i = 0; i < std::max(1, config_.worker_threads); ++i) {
    threads_.emplace_back([this] { tokenize_chunks(); });
  }
}

TokenPipeline::~TokenPipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void TokenPipeline::fail(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = error;
    stopping_ = true;
  }
  changed_.notify_all();
}

bool TokenPipeline::push_chunk(Chunk&& chunk) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return stopping_ || in_flight_ < kMaxChunksInFlight; });
  if (stopping_) return false;
  to_tokenize_.emplace(chunks_read_++, std::move(chunk));
  ++in_flight_;
  lock.unlock();
  changed_.notify_all();
  return true;
}

void TokenPipeline::read_documents() {
  try {
    DocumentStream stream(config_.files, config_.text_column, config_.selection);
    ShuffleBuffer shuffle(config_.shuffle_buffer_size, config_.shuffle_seed);
    int64_t skip = config_.skip_documents;
    Chunk chunk;
    size_t chunk_bytes = 0;
    std::string out;
    // Every document leaving the shuffle buffer goes through here, in the final order.
    const auto emit = [&](std::string&& document) {
      if (skip > 0) {
        --skip;
        return true;
      }
      chunk_bytes += document.size();
      chunk.texts.push_back(std::move(document));
      if (chunk.texts.size() >= kChunkDocuments || chunk_bytes >= kChunkBytes) {
        chunk_bytes = 0;
        return push_chunk(std::exchange(chunk, Chunk{}));
      }
      return true;
    };
    std::string_view text;
    while (stream.next(text)) {
      if (shuffle.push(std::string(text), out) && !emit(std::move(out))) return;
    }
    while (shuffle.drain(out)) {
      if (!emit(std::move(out))) return;
    }
    if (!chunk.texts.empty() && !push_chunk(std::move(chunk))) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reading_done_ = true;
    }
    changed_.notify_all();
  } catch (...) {
    fail(std::current_exception());
  }
}

void TokenPipeline::tokenize_chunks() {
  try {
    while (true) {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !to_tokenize_.empty() || reading_done_; });
      if (stopping_ || (to_tokenize_.empty() && reading_done_)) return;
      auto node = to_tokenize_.extract(to_tokenize_.begin());
      lock.unlock();
      Chunk& chunk = node.mapped();
      chunk.tokens.resize(chunk.texts.size());
      for (size_t i = 0; i < chunk.texts.size(); ++i) {
        encoder_.encode(chunk.texts[i], chunk.tokens[i]);
        std::string().swap(chunk.texts[i]);  // the text is no longer needed
      }
      lock.lock();
      tokenized_.insert(std::move(node));
      lock.unlock();
      changed_.notify_all();
    }
  } catch (...) {
    fail(std::current_exception());
  }
}

bool TokenPipeline::next(std::vector<uint32_t>& tokens) {
  while (current_index_ >= current_.tokens.size()) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] {
      return error_ || tokenized_.count(next_chunk_) > 0 ||
             (reading_done_ && next_chunk_ == chunks_read_);
    });
    if (error_) std::rethrow_exception(error_);
    auto it = tokenized_.find(next_chunk_);
    if (it == tokenized_.end()) return false;  // every chunk delivered
    current_ = std::move(it->second);
    tokenized_.erase(it);
    ++next_chunk_;
    --in_flight_;
    current_index_ = 0;
    lock.unlock();
    changed_.notify_all();
  }
  tokens = std::move(current_.tokens[current_index_++]);
  return true;
}

}  // namespace utt
