// Rotary position embedding, rotate-half pairing: dimension i of a head pairs with i + HS/2.
#include <cmath>

#include "backend/cpu/reference/ops.h"

namespace utt::reference {

// angle(t, i) = t * theta^(-2i/HS), computed in double.
template <typename S>
void rope_table(S* cos, S* sin, int64_t T, int64_t HS, double theta) {
  const int64_t half = HS / 2;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double frequency = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(HS));
      const double angle = static_cast<double>(t) * frequency;
      cos[t * half + i] = static_cast<S>(std::cos(angle));
      sin[t * half + i] = static_cast<S>(std::sin(angle));
    }
  }
}

// out[i] = x[i] cos - x[i+h] sin;  out[i+h] = x[i+h] cos + x[i] sin  (sin negated for the inverse).
template <typename S>
void rope_rotate(S* x, const S* cos, const S* sin, int64_t B, int64_t T, int64_t heads, int64_t HS,
                 int64_t row_stride, int direction) {
  const int64_t half = HS / 2;
  for (int64_t n = 0; n < B * T; ++n) {
    const int64_t t = n % T;
    for (int64_t h = 0; h < heads; ++h) {
      S* head = x + n * row_stride + h * HS;
      for (int64_t i = 0; i < half; ++i) {
        const double c = cos[t * half + i];
        const double s = direction * static_cast<double>(sin[t * half + i]);
        const double x0 = head[i];
        const double x1 = head[i + half];
        head[i] = static_cast<S>(x0 * c - x1 * s);
        head[i + half] = static_cast<S>(x1 * c + x0 * s);
      }
    }
  }
}

template void rope_table<float>(float*, float*, int64_t, int64_t, double);
template void rope_table<double>(double*, double*, int64_t, int64_t, double);
template void rope_rotate<float>(float*, const float*, const float*, int64_t, int64_t, int64_t,
                                 int64_t, int64_t, int);
template void rope_rotate<double>(double*, const double*, const double*, int64_t, int64_t, int64_t,
                                  int64_t, int64_t, int);

}  // namespace utt::reference
