#include "backend/cpu/reference/ops.h"

namespace utt::reference {

template <typename S>
void matmul(S* c, const S* a, const S* b, const S* bias, int64_t M, int64_t N, int64_t K,
            Transpose transpose_a, Transpose transpose_b, Accumulate accumulate) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = accumulate == Accumulate::kYes ? static_cast<double>(c[m * N + n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double a_mk = transpose_a == Transpose::kNo ? a[m * K + k] : a[k * M + m];
        const double b_kn = transpose_b == Transpose::kNo ? b[k * N + n] : b[n * K + k];
        acc += a_mk * b_kn;
      }
      if (bias != nullptr) acc += bias[n];
      c[m * N + n] = static_cast<S>(acc);
    }
  }
}

template <typename S>
void bias_backward(S* dbias, const S* dout, int64_t N, int64_t OC) {
  for (int64_t o = 0; o < OC; ++o) {
    double sum = 0;
    for (int64_t n = 0; n < N; ++n) sum += dout[n * OC + o];
    dbias[o] = static_cast<S>(dbias[o] + sum);
  }
}

template void matmul<float>(float*, const float*, const float*, const float*, int64_t, int64_t,
                            int64_t, Transpose, Transpose, Accumulate);
template void matmul<double>(double*, const double*, const double*, const double*, int64_t, int64_t,
                             int64_t, Transpose, Transpose, Accumulate);
template void bias_backward<float>(float*, const float*, int64_t, int64_t);
template void bias_backward<double>(double*, const double*, int64_t, int64_t);

}  // namespace utt::reference
