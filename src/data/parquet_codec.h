// Page decompression for Parquet's codecs: UNCOMPRESSED, SNAPPY (raw block format), GZIP
// (RFC 1952, concatenated members accepted) and ZSTD. The page header gives the exact
// decompressed size, and anything else is a corrupt page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/parquet_metadata.h"

namespace utt::parquet {

std::string codec_name(Codec codec);

// Decompresses `size` bytes at `data` into `out`, which must come out `expected_size` long.
// Throws ParquetFormatError on corrupt data and on codecs utt does not read.
void decompress(Codec codec, const uint8_t* data, size_t size, size_t expected_size,
                std::string& out);

}  // namespace utt::parquet
