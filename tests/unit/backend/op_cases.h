// The op registry's table: for every op of backend.h, cases on awkward sizes (1 row, odd widths,
// long rows, more keys than one attention tile, repeated tokens, ignored targets). A case holds
// the host contents of its buffers and runs the op on backend memory; op_registry_test.cpp
// uploads, runs and downloads it on each backend and on the reference.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace utt::test {

struct OpCase {
  std::string shape;                         // "N=5 C=1031", for failure messages
  std::vector<std::vector<float>> floats;    // initial contents of each float buffer
  std::vector<std::vector<int32_t>> ints;    // initial contents of each int buffer
  std::set<size_t> scratch;                  // float buffers whose contents after the op are unspecified
  // Runs the op on buffers of the backend (in the order of `floats` and `ints`); returns the
  // scalars the op reads back (sum, sum_of_squares), else nothing.
  std::function<std::vector<double>(Backend&, const std::vector<float*>&, const std::vector<int32_t*>&)> run;
  double scalar_scale = 1.0;                 // the magnitude scalars are compared against
};

std::vector<OpCase> op_cases(Op op);

// Attention forward then backward at the tensor-core kernel's head sizes (64, 128), which the
// CUDA backend runs on that kernel under --use-mixed-precision.
std::vector<OpCase> flash_attention_cases();

// Matmul cases only, for the bf16 backends (no other op depends on --use-mixed-precision).
inline std::vector<OpCase> bf16_cases() { return op_cases(Op::kMatmul); }

}  // namespace utt::test
