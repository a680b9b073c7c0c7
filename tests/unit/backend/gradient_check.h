// Finite-difference checking of a backward pass in double precision.
//
// For an op y = f(x), the backward with upstream gradient dy must give dx = J^T dy, i.e. the
// gradient of L(x) = sum_i dy_i * y_i(x). Each element of x is nudged by +-h and L re-evaluated.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace utt::test {

// h = 1e-5 in double: truncation error ~h^2 and rounding ~1e-16/h, both far below the tolerance.
constexpr double kFiniteDifferenceStep = 1e-5;
constexpr double kFiniteDifferenceTolerance = 1e-7;

inline std::vector<double> random_doubles(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> values(n);
  for (double& v : values) v = normal(rng);
  return values;
}

// `loss()` evaluates L at the current contents of `x`; `analytic` is the backward's dL/dx.
inline void expect_gradient_matches(const std::string& what, std::vector<double>& x,
                                    const std::vector<double>& analytic,
                                    const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  for (size_t k = 0; k < x.size(); ++k) {
    const double saved = x[k];
    x[k] = saved + kFiniteDifferenceStep;
    const double plus = loss();
    x[k] = saved - kFiniteDifferenceStep;
    const double minus = loss();
    x[k] = saved;
    const double numeric = (plus - minus) / (2 * kFiniteDifferenceStep);
    EXPECT_NEAR(analytic[k], numeric, kFiniteDifferenceTolerance * (1.0 + std::abs(numeric)))
        << what << " element " << k;
  }
}

inline double weighted_sum(const std::vector<double>& y, const std::vector<double>& dy) {
  double total = 0;
  for (size_t i = 0; i < y.size(); ++i) total += y[i] * dy[i];
  return total;
}

}  // namespace utt::test
