#include "backend/cpu/reference/ops.h"

namespace utt::reference {

template <typename S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe,
                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) {
  for (int64_t n = 0; n < B * T; ++n) {
    const S* token_row = wte + static_cast<int64_t>(tokens[n]) * C;
    const int64_t position = doc_pos != nullptr ? doc_pos[n] : n % T;
    for (int64_t c = 0; c < C; ++c) {
      out[n * C + c] = wpe != nullptr ? token_row[c] + wpe[position * C + c] : token_row[c];
    }
  }
}

template <typename S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, const int32_t* doc_pos,
                        int64_t B, int64_t T, int64_t C) {
  for (int64_t n = 0; n < B * T; ++n) {
    S* token_row = dwte + static_cast<int64_t>(tokens[n]) * C;
    const int64_t position = doc_pos != nullptr ? doc_pos[n] : n % T;
    for (int64_t c = 0; c < C; ++c) {
      token_row[c] += dout[n * C + c];
      if (dwpe != nullptr) dwpe[position * C + c] += dout[n * C + c];
    }
  }
}

template void embedding_forward<float>(float*, const int32_t*, const float*, const float*, const int32_t*,
                                       int64_t, int64_t, int64_t);
template void embedding_forward<double>(double*, const int32_t*, const double*, const double*, const int32_t*,
                                        int64_t, int64_t, int64_t);
template void embedding_backward<float>(float*, float*, const float*, const int32_t*, const int32_t*, int64_t,
                                        int64_t, int64_t);
template void embedding_backward<double>(double*, double*, const double*, const int32_t*, const int32_t*,
                                         int64_t, int64_t, int64_t);

}  // namespace utt::reference
