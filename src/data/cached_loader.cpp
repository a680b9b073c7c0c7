#include "data/cached_loader.h"

#include "data/shuffle_buffer.h"
#include "data/window_packer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint64_t kPermutationPurpose = 2;

}  // namespace

CachedLoader::CachedLoader(LoaderConfig config, const TokenCache& cache,
                           const TokenEncoder& encoder, std::optional<LoaderState> resume)
    : WindowLoader(config, describe_loader_settings(config, encoder, "cache"), encoder.framing()),
      cache_(cache) {
  const int64_t rank = config.selection.rank, world = config.selection.world;
  for (int64_t d = rank; d < cache_.num_documents(); d += world) {
    documents_.push_back(d);
    stream_tokens_ += cache_.document_tokens(d) + encoder.framing().size();
  }
  const int64_t stride = config.stride > 0 ? config.stride : config.seq_len;
  if (count_windows(stream_tokens_, config.seq_len, stride) < config.batch_size) {
    throw UserError("the dataset is too small for one batch of " +
                    std::to_string(config.batch_size) + " windows of " +
                    std::to_string(config.seq_len + 1) + " tokens (" +
                    std::to_string(stream_tokens_) + " tokens on this rank): use more data, a "
                    "smaller --batch-size or a smaller --seq-len");
  }
  begin(resume);
}

uint64_t CachedLoader::document_seed(int64_t epoch) const {
  return derive_seed(config().seed, kPermutationPurpose, static_cast<uint64_t>(epoch));
}

DocumentSource& CachedLoader::open_epoch(int64_t epoch, int64_t skip_documents) {
  if (skip_documents < 0 || skip_documents > static_cast<int64_t>(documents_.size())) {
    throw UserError("the data loader state does not fit this dataset: resume from another checkpoint");
  }
  // Fisher-Yates with our own generator, so the order is the same on every platform.
  std::vector<int64_t> order = documents_;
  SplitMix64 rng(document_seed(epoch));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(rng.below(i))]);
  source_.emplace(cache_, std::move(order), static_cast<size_t>(skip_documents));
  return *source_;
}

bool CachedLoader::PermutedDocuments::next(std::vector<uint32_t>& ids) {
  if (next_ >= order_.size()) return false;
  ids.clear();
  cache_.append_document(order_[next_++], ids);
  return true;
}

}  // namespace utt
