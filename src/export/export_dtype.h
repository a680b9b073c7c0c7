// The element type of exported weight matrices (--dtype f32|f16|bf16), and the conversion of fp32
// master weights into it. Norm weights and biases stay f32 in GGUF whatever the choice (llama.cpp
// aborts on F16 norm weights); Hugging Face exports convert every tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace utt {

enum class ExportDtype { kF32, kF16, kBF16 };

// Throws UserError for anything but f32, f16, bf16.
ExportDtype parse_export_dtype(const std::string& text);
std::string to_string(ExportDtype dtype);
safetensors::Dtype safetensors_dtype(ExportDtype dtype);
int64_t bytes_per_element(ExportDtype dtype);

// IEEE half precision, round to nearest even; overflow becomes infinity, NaN stays NaN.
uint16_t float_to_f16(float x);

// `values` as little-endian bytes of `dtype`.
std::vector<uint8_t> encode_values(const std::vector<float>& values, ExportDtype dtype);

}  // namespace utt
