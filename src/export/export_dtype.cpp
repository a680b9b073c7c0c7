#include "export/export_dtype.h"

#include <bit>
#include <cstring>

#include "backend/bf16.h"
#include "util/error.h"

namespace utt {

ExportDtype parse_export_dtype(const std::string& text) {
  if (text == "f32" || text == "float32") return ExportDtype::kF32;
  if (text == "f16" || text == "float16") return ExportDtype::kF16;
  if (text == "bf16" || text == "bfloat16") return ExportDtype::kBF16;
  throw UserError("unknown --dtype '" + text + "': use f32, f16 or bf16");
}

std::string to_string(ExportDtype dtype) {
  switch (dtype) {
    case ExportDtype::kF32: return "f32";
    case ExportDtype::kF16: return "f16";
    case ExportDtype::kBF16: return "bf16";
  }
  return "?";
}

safetensors::Dtype safetensors_dtype(ExportDtype dtype) {
  switch (dtype) {
    case ExportDtype::kF32: return safetensors::Dtype::kF32;
    case ExportDtype::kF16: return safetensors::Dtype::kF16;
    case ExportDtype::kBF16: return safetensors::Dtype::kBF16;
  }
  return safetensors::Dtype::kF32;
}

int64_t bytes_per_element(ExportDtype dtype) { return dtype == ExportDtype::kF32 ? 4 : 2; }

uint16_t float_to_f16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (magnitude < 0x38800000u) {
    // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even. Adding
    // 0.5 in float would round twice; do it on the integer mantissa instead.
    if (magnitude < 0x33000000u) return sign;  // below half of the smallest subnormal
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14..24 for exponents 102..112
    const uint32_t half_units = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    const uint32_t rounded = half_units + ((rest > halfway || (rest == halfway && (half_units & 1u))) ? 1u : 0u);
    return static_cast<uint16_t>(sign | rounded);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits.
  const uint32_t rebiased = magnitude - 0x38000000u;
  const uint32_t rounded = rebiased + 0xFFFu + ((rebiased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

std::vector<uint8_t> encode_values(const std::vector<float>& values, ExportDtype dtype) {
  std::vector<uint8_t> bytes(values.size() * static_cast<size_t>(bytes_per_element(dtype)));
  switch (dtype) {
    case ExportDtype::kF32:
      std::memcpy(bytes.data(), values.data(), bytes.size());
      break;
    case ExportDtype::kF16:
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = float_to_f16(values[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
      break;
    case ExportDtype::kBF16:
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = float_to_bf16(values[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
      break;
  }
  return bytes;
}

}  // namespace utt
