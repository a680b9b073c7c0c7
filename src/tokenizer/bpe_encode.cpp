// Encoding: special tokens, then pre-tokenization, then BPE per piece behind a per-thread
// cache (real text repeats its pieces, so most pieces are looked up, not merged).
#include <algorithm>
#include <atomic>
#include <limits>
#include <queue>
#include <thread>
#include <unordered_map>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();
// Texts at least this long are split over threads; below it thread start-up costs more
// than it saves.
constexpr size_t kParallelMinBytes = 1 << 20;
// The cache is dropped when it holds this many pieces, which bounds its memory (pieces are
// at most kCacheMaxPieceBytes long: well under 100 MB per thread).
constexpr size_t kCacheMaxPieces = 1 << 19;
// Longer pieces (long whitespace runs, huge words) bypass the cache.
constexpr size_t kCacheMaxPieceBytes = 64;
// Above this many symbols a piece is merged with a heap, O(n log n), instead of rescanning.
constexpr size_t kLongPieceSymbols = 128;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// Piece -> ids, for one tokenizer on one thread (the tokenizer is const and shared, so the
// cache cannot live in it without locks).
struct PieceCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>>
      spans;  // piece -> (offset, count) in ids
  std::vector<uint32_t> ids;

  void reset(uint64_t new_owner) {
    owner = new_owner;
    spans.clear();
    ids.clear();
  }
};

PieceCache& piece_cache(uint64_t owner) {
  thread_local PieceCache cache;
  if (cache.owner != owner || cache.spans.size() >= kCacheMaxPieces) cache.reset(owner);
  return cache;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Split points where both built-in patterns always split: after '\n' and before an ASCII
// letter (no alternative matches a newline followed by a letter), and no special token of
// ours contains a newline.
std::vector<size_t> safe_split_points(std::string_view text, size_t parts) {
  std::vector<size_t> points{0};
  for (size_t part = 1; part < parts; ++part) {
    size_t at = std::max(points.back(), text.size() * part / parts);
    while (at < text.size() && !(at > 0 && text[at - 1] == '\n' && is_ascii_letter(text[at]))) {
      ++at;
    }
    if (at >= text.size()) break;
    points.push_back(at);
  }
  points.push_back(text.size());
  return points;
}

}  // namespace

void Tokenizer::encode(std::string_view text, std::vector<uint32_t>& out,
                       SpecialTokens specials) const {
  const size_t threads = std::max(1u, std::thread::hardware_concurrency());
  const bool splittable = spec_.pretokenizer != PretokenizerKind::kCustom &&
                          !spec_.add_prefix_space;
  if (text.size() < kParallelMinBytes || threads == 1 || !splittable) {
    encode_serial(text, out, specials);
    return;
  }
  for (const SpecialToken& special : spec_.specials) {
    if (special.content.find('\n') != std::string::npos) {
      encode_serial(text, out, specials);
      return;
    }
  }
  const std::vector<size_t> points = safe_split_points(text, threads * 4);
  std::vector<std::vector<uint32_t>> parts(points.size() - 1);
  std::atomic<size_t> next_part{0};
  auto worker = [&] {
    for (size_t part = next_part++; part < parts.size(); part = next_part++) {
      encode_serial(text.substr(points[part], points[part + 1] - points[part]), parts[part],
                    specials);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  for (const std::vector<uint32_t>& part : parts) out.insert(out.end(), part.begin(), part.end());
}

void Tokenizer::encode_serial(std::string_view text, std::vector<uint32_t>& out,
                              SpecialTokens specials) const {
  if (specials == SpecialTokens::kTreatAsText || spec_.specials.empty()) {
    if (!text.empty()) encode_ordinary(text, out);
    return;
  }
  // Leftmost special token first; at one position the longest (as HF's matcher does).
  // next_at[k] caches where special k occurs next, so each is searched for once per hit.
  std::vector<size_t> next_at(spec_.specials.size(), 0);
  for (size_t k = 0; k < next_at.size(); ++k) next_at[k] = text.find(spec_.specials[k].content);
  size_t start = 0;
  while (start < text.size()) {
    const SpecialToken* best = nullptr;
    size_t best_at = std::string_view::npos;
    for (size_t k = 0; k < next_at.size(); ++k) {
      if (next_at[k] != std::string_view::npos && next_at[k] < start) {
        next_at[k] = text.find(spec_.specials[k].content, start);
      }
      const size_t at = next_at[k];
      if (at == std::string_view::npos) continue;
      if (at < best_at || (at == best_at && spec_.specials[k].content.size() > best->content.size())) {
        best_at = at;
        best = &spec_.specials[k];
      }
    }
    if (best == nullptr) break;
    if (best_at > start) encode_ordinary(text.substr(start, best_at - start), out);
    out.push_back(best->id);
    start = best_at + best->content.size();
  }
  if (start < text.size()) encode_ordinary(text.substr(start), out);
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<uint32_t>& out) const {
  std::string prefixed;
  if (spec_.add_prefix_space && text.front() != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  regex_->for_each_piece(text, [&](std::string_view piece) { encode_piece(piece, out); });
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<uint32_t>& out) const {
  if (piece.size() == 1) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(piece[0])];
    if (id >= 0) out.push_back(static_cast<uint32_t>(id));
    return;
  }
  const bool cacheable = piece.size() <= kCacheMaxPieceBytes;
  PieceCache* cache = cacheable ? &piece_cache(instance_) : nullptr;
  if (cache != nullptr) {
    auto hit = cache->spans.find(piece);
    if (hit != cache->spans.end()) {
      const uint32_t* begin = cache->ids.data() + hit->second.first;
      out.insert(out.end(), begin, begin + hit->second.second);
      return;
    }
  }
  std::vector<uint32_t> ids;
  auto whole = spec_.ignore_merges ? id_of_bytes_.find(std::string(piece)) : id_of_bytes_.end();
  if (whole != id_of_bytes_.end()) {
    ids.push_back(whole->second);
  } else {
    ids.reserve(piece.size());
    // A byte without a token is dropped, as HF does for a symbol missing from the vocab
    // (only possible in third-party files; ours hold all 256 bytes).
    for (unsigned char byte : piece) {
      if (byte_ids_[byte] >= 0) ids.push_back(static_cast<uint32_t>(byte_ids_[byte]));
    }
    apply_merges(ids);
  }
  if (cache != nullptr) {
    cache->spans.emplace(std::string(piece),
                         std::pair<uint32_t, uint32_t>(static_cast<uint32_t>(cache->ids.size()),
                                                       static_cast<uint32_t>(ids.size())));
    cache->ids.insert(cache->ids.end(), ids.begin(), ids.end());
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

// Repeatedly merge the adjacent pair of lowest rank, the leftmost one among equals: exactly
// the order HF's priority queue produces. O(n^2) in the piece length, which is the fastest for
// the short pieces of real text; long ones (whitespace runs, long words) take the heap below.
void Tokenizer::apply_merges(std::vector<uint32_t>& ids) const {
  if (ids.size() < 2) return;
  if (ids.size() > kLongPieceSymbols) {
    apply_merges_long(ids);
    return;
  }
  auto rank_of = [&](size_t i, MergeResult& result) {
    const MergeResult* found = merge_table_.find(pair_key(ids[i], ids[i + 1]));
    if (found == nullptr) return kNoRank;
    result = *found;
    return found->rank;
  };
  std::vector<uint32_t> ranks(ids.size() - 1);
  std::vector<uint32_t> results(ids.size() - 1);
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    MergeResult result;
    ranks[i] = rank_of(i, result);
    results[i] = result.id;
  }
  while (true) {
    const auto best = std::min_element(ranks.begin(), ranks.end());
    if (best == ranks.end() || *best == kNoRank) break;
    const size_t i = static_cast<size_t>(best - ranks.begin());
    ids[i] = results[i];
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    ranks.erase(ranks.begin() + static_cast<std::ptrdiff_t>(i));
    results.erase(results.begin() + static_cast<std::ptrdiff_t>(i));
    MergeResult result;
    if (i > 0) {
      ranks[i - 1] = rank_of(i - 1, result);
      results[i - 1] = result.id;
    }
    if (i < ranks.size()) {
      ranks[i] = rank_of(i, result);
      results[i] = result.id;
    }
  }
}

// The same merge order for long pieces, as HF implements it: a doubly linked list of symbols
// and a min-heap of (rank, position) candidates. A candidate is stale when its left symbol was
// merged away or its pair changed; a rank names exactly one pair, so "the pair at this
// position still has this rank" is the whole validity check.
void Tokenizer::apply_merges_long(std::vector<uint32_t>& ids) const {
  struct Candidate {
    uint32_t rank;
    uint32_t position;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  const auto n = static_cast<uint32_t>(ids.size());
  constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> next(n);
  std::vector<uint32_t> prev(n);
  std::vector<bool> alive(n, true);
  for (uint32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : kNone;
    prev[i] = i > 0 ? i - 1 : kNone;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](uint32_t left) {
    if (left == kNone || next[left] == kNone) return;
    const MergeResult* found = merge_table_.find(pair_key(ids[left], ids[next[left]]));
    if (found != nullptr) queue.push({found->rank, left});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    if (!alive[top.position] || next[top.position] == kNone) continue;
    const uint32_t right = next[top.position];
    const MergeResult* found = merge_table_.find(pair_key(ids[top.position], ids[right]));
    if (found == nullptr || found->rank != top.rank) continue;
    ids[top.position] = found->id;
    alive[right] = false;
    next[top.position] = next[right];
    if (next[right] != kNone) prev[next[right]] = top.position;
    consider(prev[top.position]);
    consider(top.position);
  }
  size_t written = 0;
  for (uint32_t i = 0; i != kNone; i = next[i]) ids[written++] = ids[i];
  ids.resize(written);
}

}  // namespace utt
