// doc_pos for tests of document masking (backend.h): rows of B x T tokens packed with documents
// of varied lengths — 1-token documents, documents across the 64-token blocks of the CPU flash
// kernel, and a row's first document continuing from before the row.
#pragma once

#include <cstdint>
#include <vector>

namespace utt::test {

inline std::vector<int32_t> packed_document_positions(int64_t B, int64_t T) {
  constexpr int64_t kLengths[] = {5, 1, 70, 2, 13, 1, 1, 40, 9, 66};
  std::vector<int32_t> doc_pos(static_cast<size_t>(B * T));
  for (int64_t b = 0; b < B; ++b) {
    int64_t next = b;               // which length comes next: rows differ
    int64_t left = 3 + 4 * b;       // the row's first document: its tail
    int32_t position = 0;
    for (int64_t t = 0; t < T; ++t) {
      if (left == 0) {
        left = kLengths[next++ % 10];
        position = 0;
      }
      doc_pos[static_cast<size_t>(b * T + t)] = position++;
      --left;
    }
  }
  return doc_pos;
}

}  // namespace utt::test
