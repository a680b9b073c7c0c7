// Causal attention on the CPU.
//
// Flash-attention-2 style: the T x T score matrix of one (batch, head) is cut into blocks of
// kBlock queries x kBlock keys and never stored whole. Each block is a handful of small matrix
// products (multiply_blocks in block_matmul.h: register-blocked, vectorized along the block's
// columns) plus an elementwise vectorized softmax step. The previous version did one `dot` per
// (query, key) pair, whose horizontal sums and scalar loops made attention ~40% of a nano training
// step; this one is about 6-9x faster with AVX-512 (bench/attention_bench, docs/benchmarks.md).
// Operands are copied into per-thread scratch first: the copy transposes where a product needs
// queries or keys along the vector lanes, and pads rows to 4 and columns to whole vectors with
// zeros so that the products have no remainder loops. Blocks above the diagonal are skipped; on
// blocks that cross it, query q sees key k when k <= q, a mask applied by position in the softmax
// step. Document masking (doc_pos, backend.h) adds a lower bound: query q sees keys from the
// first token of its document on, first_key(q) = q - doc_pos[q], which never decreases with q
// (documents are contiguous), so the key blocks before a query block's first document are skipped
// and the rest is the same mask with two bounds.
//
// Forward, per (batch, head, query block): per key block, the scores transposed, S^T = K Q^T
// (Q^T built once per query block, pre-scaled by 1/sqrt(HS)), so that each query's running max
// and sum of the online softmax run down a column: elementwise across queries, no horizontal
// reductions (row-wise, the scalar max loop alone took a fifth of the forward). Then O += P V,
// P read as a strided view of S^T. Saves lse = max + log(sum) per query for the backward.
//
// Backward, per (batch, kv head): threads own the dk/dv rows of their kv head and the dq rows of
// its query heads, so no two threads write one element (no atomics, results independent of thread
// timing). Per key block (K^T and V^T built once) and each query block at or below it:
// P = exp(S / sqrt(HS) - lse) recomputed row-wise, dP = dO V^T, dS = P (dP - D) / sqrt(HS) with
// D = rowsum(dO * O), then dV += P^T dO, dK += dS^T Q (accumulated in scratch for the key block)
// and dQ += dS K.
//
// Scratch: one buffer per thread, kept between calls (thread_scratch), a few blocks of
// kBlock x HS floats (under 300 KB at HS = 128, so it stays in L2), whatever T is.
//
// The naive forms at the end (the --attention naive path, which stores the probabilities) keep
// the row-at-a-time loops.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "backend/cpu/block_matmul.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/qkv_rows.h"
#include "backend/cpu/vector_math.h"

namespace utt::cpu {
namespace {

// Queries and keys per block. 64 x 64 scores (16 KB) plus the Q, K, V blocks fit in L2 for HS up
// to 128; query and key blocks have the same size and start, so a block either lies below the
// diagonal or crosses it. Without document masking every query row sees at least one key of
// every block it visits; with it, a query may see none of a block its neighbours need.
constexpr int64_t kBlock = 64;

// The first key each of `count` queries from q0 sees (0 without document masking); 0 for the
// padding lanes past count, which see what query q0 + i would and carry zeros.
void first_keys(int* first, const int32_t* row_doc_pos, int64_t q0, int64_t count) {
  for (int64_t i = 0; i < kBlock; ++i) {
    first[i] = row_doc_pos != nullptr && i < count ? static_cast<int>(q0 + i - row_doc_pos[q0 + i]) : 0;
  }
}

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// The calling thread's scratch of at least `floats` floats. It lives as long as the thread and
// grows only when a larger head size first arrives, so the kernels do not allocate in a training
// loop (nor per generated token) and the size is bounded by the head size, not by T.
float* thread_scratch(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < static_cast<size_t>(floats)) buffer.resize(static_cast<size_t>(floats));
  return buffer.data();
}

// Block sizes of one call: head size padded to whole vectors.
struct BlockShape {
  int64_t HS, padded_HS;
  explicit BlockShape(int64_t head_size)
      : HS(head_size), padded_HS(round_up(head_size, kVectorWidth)) {}
  int64_t rows_block() const { return kBlock * padded_HS; }  // kBlock rows of a head
};

// dst (padded_rows x padded_HS) = count rows of src (HS floats each, row stride src_stride) times
// `scale`, zero in the padding.
void load_rows(float* dst, const BlockShape& shape, const float* src, int64_t src_stride,
               int64_t count, int64_t padded_rows, float scale = 1.0f) {
  for (int64_t r = 0; r < padded_rows; ++r) {
    float* row = dst + r * shape.padded_HS;
    if (r < count) {
      const float* from = src + r * src_stride;
#pragma omp simd
      for (int64_t d = 0; d < shape.HS; ++d) row[d] = from[d] * scale;
      std::fill(row + shape.HS, row + shape.padded_HS, 0.0f);
    } else {
      std::fill_n(row, shape.padded_HS, 0.0f);
    }
  }
}

// dst (HS x kBlock) = the transpose of count rows of src times `scale`, zero in the columns past
// count. Reads source rows in order (contiguous), writes down the columns.
void load_transposed(float* dst, const BlockShape& shape, const float* src, int64_t src_stride,
                     int64_t count, float scale = 1.0f) {
  for (int64_t j = 0; j < count; ++j) {
    const float* from = src + j * src_stride;
    for (int64_t d = 0; d < shape.HS; ++d) dst[d * kBlock + j] = from[d] * scale;
  }
  for (int64_t d = 0; d < shape.HS; ++d) {
    std::fill(dst + d * kBlock + count, dst + (d + 1) * kBlock, 0.0f);
  }
}

// Dst rows (count x HS) += block rows (row stride padded_HS).
void add_rows(float* dst, int64_t dst_stride, const float* block, const BlockShape& shape,
              int64_t count) {
  for (int64_t r = 0; r < count; ++r) {
    float* row = dst + r * dst_stride;
    const float* from = block + r * shape.padded_HS;
#pragma omp simd
    for (int64_t d = 0; d < shape.HS; ++d) row[d] += from[d];
  }
}

// How many keys of the block starting at key k0 (count keys) query q sees: a prefix, causally.
// An int, like the lane indices it is compared with in the vector loops, so that the mask's
// compares have float-sized lanes.
inline int visible_keys(int64_t q, int64_t k0, int64_t count) {
  return static_cast<int>(std::clamp<int64_t>(q - k0 + 1, 0, count));
}

// The first query lane (of the block starting at q0) that sees key k: queries i >= it do.
inline int first_seeing_query(int64_t k, int64_t q0) {
  return static_cast<int>(std::clamp<int64_t>(k - q0, 0, kBlock));
}

// One key block of the online softmax, on transposed scores: row j of `scores` holds key j's
// scores against the block's kBlock queries, so each query's max and sum run down a column and
// every step is an elementwise vector operation across queries (no horizontal reductions). Turns
// the scores into exp(score - new max), 0 where the query does not see the key, and rescales
// each query's running sum and partial output when its max grows. A query that has seen no key
// yet (max still -inf: a later document's query in a block of an earlier one) keeps a
// correction of 1 on its zero sum and output; otherwise the first block's correction is
// fast_exp(-inf) ~ 1e-38 times a zero sum and output.
void online_softmax_step(float* scores, float* output, float* row_max, float* row_sum,
                         float* column_scratch, const int* first_key, const BlockShape& shape,
                         int64_t rows, int64_t q0, int64_t k0, int64_t keys) {
  float* block_max = column_scratch;
  float* correction = column_scratch + kBlock;
  constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
  std::copy_n(row_max, kBlock, block_max);
  for (int64_t j = 0; j < keys; ++j) {
    const float* s = scores + j * kBlock;
    const int first_query = first_seeing_query(k0 + j, q0);
    const int key = static_cast<int>(k0 + j);
#pragma omp simd
    for (int i = 0; i < kBlock; ++i) {
      const float score = i >= first_query && key >= first_key[i] ? s[i] : kMinusInfinity;
      block_max[i] = score > block_max[i] ? score : block_max[i];
    }
  }
#pragma omp simd
  for (int64_t i = 0; i < kBlock; ++i) {
    const float c = fast_exp(row_max[i] - block_max[i]);
    correction[i] = block_max[i] == kMinusInfinity ? 1.0f : c;
    row_sum[i] *= correction[i];
    row_max[i] = block_max[i];
  }
  for (int64_t j = 0; j < keys; ++j) {
    float* p = scores + j * kBlock;
    const int first_query = first_seeing_query(k0 + j, q0);
    const int key = static_cast<int>(k0 + j);
    // exp of every lane, then the mask: a select after the call keeps the loop branch-free, so
    // it vectorizes without AVX-512's masked instructions too.
#pragma omp simd
    for (int i = 0; i < kBlock; ++i) {
      const float e = fast_exp(p[i] - block_max[i]);
      p[i] = i >= first_query && key >= first_key[i] ? e : 0.0f;
      row_sum[i] += p[i];
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    float* o = output + i * shape.padded_HS;
    const float c = correction[i];
#pragma omp simd
    for (int64_t d = 0; d < shape.padded_HS; ++d) o[d] *= c;
  }
}

// Per-thread blocks of the forward: Q^T of the query block, K and V rows of a key block, the
// transposed scores, the output accumulator and the per-query softmax state.
struct ForwardScratch {
  float *q_transposed, *k, *v, *output, *scores, *row_max, *row_sum, *column_scratch;
  int first_key[kBlock];
  explicit ForwardScratch(const BlockShape& shape) {
    float* next = thread_scratch(4 * shape.rows_block() + kBlock * kBlock + 4 * kBlock);
    for (float** block : {&q_transposed, &k, &v, &output}) {
      *block = std::exchange(next, next + shape.rows_block());
    }
    scores = std::exchange(next, next + kBlock * kBlock);
    row_max = std::exchange(next, next + kBlock);
    row_sum = std::exchange(next, next + kBlock);
    column_scratch = next;
  }
};

// Output rows [q0, q0 + count) of query head h (kv head g) of batch b, and their lse.
// Scores are computed transposed, S^T = K Q^T: Q^T is built once per query block, and the
// softmax then works across queries (see online_softmax_step).
void forward_query_block(float* out, float* lse, const float* qkv, const int32_t* doc_pos,
                         const QkvLayout& at, const BlockShape& shape, ForwardScratch& s, int64_t b,
                         int64_t h, int64_t q0) {
  const int64_t count = std::min(kBlock, at.T - q0);
  const int64_t rows = round_up(count, kTileRows);
  const int64_t g = h / at.group();
  const int64_t stride = at.row_stride();
  const float scale = 1.0f / std::sqrt(static_cast<float>(at.HS));
  load_transposed(s.q_transposed, shape, qkv + at.q(b, q0, h), stride, count, scale);
  std::fill_n(s.output, rows * shape.padded_HS, 0.0f);
  std::fill_n(s.row_max, kBlock, -std::numeric_limits<float>::infinity());
  std::fill_n(s.row_sum, kBlock, 0.0f);
  first_keys(s.first_key, doc_pos != nullptr ? doc_pos + b * at.T : nullptr, q0, count);
  // The key blocks before the first query's document hold no key any query here sees.
  for (int64_t k0 = s.first_key[0] / kBlock * kBlock; k0 < q0 + count; k0 += kBlock) {
    const int64_t keys = std::min(kBlock, at.T - k0);
    const int64_t key_rows = round_up(keys, kTileRows);
    load_rows(s.k, shape, qkv + at.k(b, k0, g), stride, keys, key_rows);
    load_rows(s.v, shape, qkv + at.v(b, k0, g), stride, keys, keys);
    multiply_blocks(s.scores, kBlock, {s.k, shape.padded_HS, 1}, s.q_transposed, kBlock, key_rows,
                    kBlock, at.HS, Accumulate::kNo);
    online_softmax_step(s.scores, s.output, s.row_max, s.row_sum, s.column_scratch, s.first_key, shape,
                        rows, q0, k0, keys);
    // O += P V, P being the transpose of the scores block: a strided view.
    multiply_blocks(s.output, shape.padded_HS, {s.scores, 1, kBlock}, s.v, shape.padded_HS, rows,
                    shape.padded_HS, keys, Accumulate::kYes);
  }
  for (int64_t i = 0; i < count; ++i) {
    float* o = out + (b * at.T + q0 + i) * at.NH * at.HS + h * at.HS;
    const float* acc = s.output + i * shape.padded_HS;
    const float inverse_sum = 1.0f / s.row_sum[i];
#pragma omp simd
    for (int64_t d = 0; d < at.HS; ++d) o[d] = acc[d] * inverse_sum;
    lse[(b * at.NH + h) * at.T + q0 + i] = s.row_max[i] + std::log(s.row_sum[i]);
  }
}

// Per-thread blocks of the backward: the key block (transposed K and V, K rows), its dK and dV
// accumulators, and the current query block (Q, dO, dQ, lse, D) with its P and dP/dS.
struct BackwardScratch {
  float *k_transposed, *v_transposed, *k, *dk, *dv, *q, *dout, *dq, *p, *ds, *lse, *D;
  int first_key[kBlock];  // of the current query block
  explicit BackwardScratch(const BlockShape& shape) {
    float* next = thread_scratch(8 * shape.rows_block() + 2 * kBlock * kBlock + 2 * kBlock);
    for (float** block : {&k_transposed, &v_transposed, &k, &dk, &dv, &q, &dout, &dq}) {
      *block = std::exchange(next, next + shape.rows_block());
    }
    for (float** block : {&p, &ds}) *block = std::exchange(next, next + kBlock * kBlock);
    lse = std::exchange(next, next + kBlock);
    D = next;
  }
};

// P = exp(S / sqrt(HS) - lse) (0 where the query does not see the key), and in place of dP,
// dS = P (dP - D) / sqrt(HS).
void probabilities_and_score_gradients(float* p, float* ds, const float* lse, const float* D,
                                       const int* first_key, int64_t rows, int64_t q0, int64_t k0,
                                       int64_t keys, float scale) {
  for (int64_t i = 0; i < rows; ++i) {
    float* p_row = p + i * kBlock;
    float* ds_row = ds + i * kBlock;
    // Query q0 + i sees keys [first_key, q0 + i]: the block's lanes [first_visible, visible).
    const int visible = visible_keys(q0 + i, k0, keys);
    const int first_visible = static_cast<int>(std::clamp<int64_t>(first_key[i] - k0, 0, keys));
    // Row values in locals: read through the pointers, they kept GCC from vectorizing the loop.
    const float row_lse = lse[i];
    const float row_D = D[i];
#pragma omp simd
    for (int j = 0; j < kBlock; ++j) {
      const float e = fast_exp(p_row[j] * scale - row_lse);  // every lane, then the mask
      const float probability = j < visible && j >= first_visible ? e : 0.0f;
      p_row[j] = probability;
      ds_row[j] = probability * (ds_row[j] - row_D) * scale;
    }
  }
}

// Loads query block q0 of head h (Q, dO, lse, D = rowsum(dO * O)); padded rows get zeros, so
// they add nothing to dK and dV.
int64_t load_query_block(BackwardScratch& s, const float* dout, const float* qkv, const float* out,
                         const float* lse, const int32_t* doc_pos, const QkvLayout& at,
                         const BlockShape& shape, int64_t b, int64_t h, int64_t q0) {
  const int64_t count = std::min(kBlock, at.T - q0);
  const int64_t rows = round_up(count, kTileRows);
  const int64_t out_stride = at.NH * at.HS;
  const int64_t first_row = (b * at.T + q0) * out_stride + h * at.HS;
  load_rows(s.q, shape, qkv + at.q(b, q0, h), at.row_stride(), count, rows);
  load_rows(s.dout, shape, dout + first_row, out_stride, count, rows);
  first_keys(s.first_key, doc_pos != nullptr ? doc_pos + b * at.T : nullptr, q0, count);
  for (int64_t i = 0; i < rows; ++i) {
    s.lse[i] = i < count ? lse[(b * at.NH + h) * at.T + q0 + i] : 0.0f;
    const int64_t row = first_row + i * out_stride;
    s.D[i] = i < count ? dot(dout + row, out + row, at.HS) : 0.0f;
  }
  return count;
}

// The gradient contributions of the key block k0 (keys keys, loaded in s) for query head h.
void backward_key_block(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, const int32_t* doc_pos, const QkvLayout& at,
                        const BlockShape& shape, BackwardScratch& s, int64_t b, int64_t h, int64_t k0,
                        int64_t keys) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(at.HS));
  const int64_t key_rows = round_up(keys, kTileRows);
  const int64_t HSP = shape.padded_HS;
  for (int64_t q0 = k0; q0 < at.T; q0 += kBlock) {
    // Document masking: once a query block's first query belongs to a document that starts
    // after this key block, so do all later ones (first keys never decrease).
    if (doc_pos != nullptr && q0 - doc_pos[b * at.T + q0] >= k0 + keys) break;
    const int64_t count = load_query_block(s, dout, qkv, out, lse, doc_pos, at, shape, b, h, q0);
    const int64_t rows = round_up(count, kTileRows);
    multiply_blocks(s.p, kBlock, {s.q, HSP, 1}, s.k_transposed, kBlock, rows, kBlock, at.HS,
                    Accumulate::kNo);
    multiply_blocks(s.ds, kBlock, {s.dout, HSP, 1}, s.v_transposed, kBlock, rows, kBlock, at.HS,
                    Accumulate::kNo);
    probabilities_and_score_gradients(s.p, s.ds, s.lse, s.D, s.first_key, rows, q0, k0, keys, scale);
    // dV += P^T dO and dK += dS^T Q: the transposes are strided views of P and dS.
    multiply_blocks(s.dv, HSP, {s.p, 1, kBlock}, s.dout, HSP, key_rows, HSP, count,
                    Accumulate::kYes);
    multiply_blocks(s.dk, HSP, {s.ds, 1, kBlock}, s.q, HSP, key_rows, HSP, count,
                    Accumulate::kYes);
    multiply_blocks(s.dq, HSP, {s.ds, kBlock, 1}, s.k, HSP, rows, HSP, keys, Accumulate::kNo);
    add_rows(dqkv + at.q(b, q0, h), at.row_stride(), s.dq, shape, count);
  }
}

}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos, int64_t B,
                       int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const BlockShape shape(HS);
  const int64_t query_blocks = (T + kBlock - 1) / kBlock;
#pragma omp parallel if ((B * NH * T * T * HS) >= kMinParallelWork)
  {
    ForwardScratch scratch(shape);
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < B * NH * query_blocks; ++task) {
      // The last query blocks (most keys) first, so that the short ones balance the end.
      const int64_t q0 = (query_blocks - 1 - task % query_blocks) * kBlock;
      const int64_t bh = task / query_blocks;
      forward_query_block(out, lse, qkv, doc_pos, at, shape, scratch, bh / NH, bh % NH, q0);
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH,
                        int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const BlockShape shape(HS);
  const int64_t stride = at.row_stride();
#pragma omp parallel if ((B * NH * T * T * HS) >= kMinParallelWork)
  {
    BackwardScratch s(shape);
#pragma omp for schedule(dynamic, 1)
    for (int64_t bg = 0; bg < B * KVH; ++bg) {
      const int64_t b = bg / KVH;
      const int64_t g = bg % KVH;
      zero_owned_rows(dqkv, at, b, g);
      for (int64_t h = g * at.group(); h < (g + 1) * at.group(); ++h) {
        for (int64_t k0 = 0; k0 < T; k0 += kBlock) {
          const int64_t keys = std::min(kBlock, T - k0);
          load_transposed(s.k_transposed, shape, qkv + at.k(b, k0, g), stride, keys);
          load_transposed(s.v_transposed, shape, qkv + at.v(b, k0, g), stride, keys);
          load_rows(s.k, shape, qkv + at.k(b, k0, g), stride, keys, keys);
          std::fill_n(s.dk, shape.rows_block(), 0.0f);
          std::fill_n(s.dv, shape.rows_block(), 0.0f);
          backward_key_block(dqkv, dout, qkv, out, lse, doc_pos, at, shape, s, b, h, k0, keys);
          add_rows(dqkv + at.k(b, k0, g), stride, s.dk, shape, keys);
          add_rows(dqkv + at.v(b, k0, g), stride, s.dv, shape, keys);
        }
      }
    }
  }
}

void naive_attention_forward(float* out, float* att, const float* qkv, const int32_t* doc_pos,
                             int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for collapse(2) schedule(dynamic, 4) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bh = 0; bh < B * NH; ++bh) {
    for (int64_t i = 0; i < T; ++i) {
      const int64_t b = bh / NH;
      const int64_t h = bh % NH;
      const int64_t g = h / at.group();
      const float* q = qkv + at.q(b, i, h);
      float* probabilities = att + (bh * T + i) * T;
      const int64_t first = doc_pos != nullptr ? std::max<int64_t>(0, i - doc_pos[b * T + i]) : 0;
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = first; j <= i; ++j) {
        probabilities[j] = dot(q, qkv + at.k(b, j, g), HS) * scale;
        max_score = std::max(max_score, probabilities[j]);
      }
      float sum = 0;
      for (int64_t j = first; j <= i; ++j) {
        probabilities[j] = fast_exp(probabilities[j] - max_score);
        sum += probabilities[j];
      }
      const float inverse_sum = 1.0f / sum;
      float* o = out + (b * T + i) * NH * HS + h * HS;
      std::fill_n(o, HS, 0.0f);
      for (int64_t j = first; j <= i; ++j) {
        probabilities[j] *= inverse_sum;
        axpy(o, probabilities[j], qkv + at.v(b, j, g), HS);
      }
      std::fill(probabilities, probabilities + first, 0.0f);
      std::fill(probabilities + i + 1, probabilities + T, 0.0f);
    }
  }
}

void naive_attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv,
                              const float* att, const int32_t* doc_pos, int64_t B, int64_t T,
                              int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(dynamic, 1) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bg = 0; bg < B * KVH; ++bg) {
    const int64_t b = bg / KVH;
    const int64_t g = bg % KVH;
    zero_owned_rows(dqkv, at, b, g);
    for (int64_t h = g * at.group(); h < (g + 1) * at.group(); ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const float* probabilities = att + ((b * NH + h) * T + i) * T;
        float* dprobabilities = datt + ((b * NH + h) * T + i) * T;
        const float* d_o = dout + (b * T + i) * NH * HS + h * HS;
        const int64_t first = doc_pos != nullptr ? std::max<int64_t>(0, i - doc_pos[b * T + i]) : 0;
        float p_dot_dp = 0;
        for (int64_t j = first; j <= i; ++j) {
          dprobabilities[j] = dot(d_o, qkv + at.v(b, j, g), HS);
          p_dot_dp += probabilities[j] * dprobabilities[j];
          axpy(dqkv + at.v(b, j, g), probabilities[j], d_o, HS);
        }
        const float* q = qkv + at.q(b, i, h);
        float* dq = dqkv + at.q(b, i, h);
        for (int64_t j = first; j <= i; ++j) {
          const float ds = probabilities[j] * (dprobabilities[j] - p_dot_dp) * scale;
          axpy(dq, ds, qkv + at.k(b, j, g), HS);
          axpy(dqkv + at.k(b, j, g), ds, q, HS);
        }
      }
    }
  }
}

}  // namespace utt::cpu
