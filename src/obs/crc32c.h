// CRC-32C (Castagnoli), as TFRecord files check their lengths and payloads with it, and the
// "masked" form TFRecord stores (a CRC of data that itself holds CRCs is weak, so the stored
// value is rotated and offset).
#pragma once

#include <cstddef>
#include <cstdint>

namespace utt {

// Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF.
// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size);

// Rotate right by 15 bits, then add 0xA282EAD8 (LevelDB's and TFRecord's mask).
uint32_t mask_crc32c(uint32_t crc);

}  // namespace utt
