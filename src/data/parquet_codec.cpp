#include "data/parquet_codec.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

namespace utt::parquet {
namespace {

void gunzip(const uint8_t* data, size_t size, std::string& out) {
  z_stream z;
  std::memset(&z, 0, sizeof(z));
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw ParquetFormatError("zlib init failed");
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int status = Z_OK;
  while (true) {
    status = inflate(&z, Z_FINISH);
    if (status == Z_STREAM_END && z.avail_in > 0) {
      inflateReset(&z);  // another gzip member follows
      continue;
    }
    break;
  }
  const size_t produced = out.size() - z.avail_out;
  inflateEnd(&z);
  if (status != Z_STREAM_END || produced != out.size()) {
    throw ParquetFormatError("corrupt GZIP page");
  }
}

}  // namespace

std::string codec_name(Codec codec) {
  switch (codec) {
    case Codec::uncompressed: return "UNCOMPRESSED";
    case Codec::snappy: return "SNAPPY";
    case Codec::gzip: return "GZIP";
    case Codec::lzo: return "LZO";
    case Codec::brotli: return "BROTLI";
    case Codec::lz4: return "LZ4";
    case Codec::zstd: return "ZSTD";
    case Codec::lz4_raw: return "LZ4_RAW";
  }
  return "codec " + std::to_string(static_cast<int32_t>(codec));
}

void decompress(Codec codec, const uint8_t* data, size_t size, size_t expected_size,
                std::string& out) {
  out.resize(expected_size);
  if (size == 0 && expected_size == 0) return;  // e.g. a v2 page of NULLs only
  switch (codec) {
    case Codec::uncompressed:
      if (size != expected_size) throw ParquetFormatError("page sizes disagree");
      std::memcpy(out.data(), data, size);
      return;
    case Codec::snappy: {
      size_t length = 0;
      const char* input = reinterpret_cast<const char*>(data);
      if (!snappy::GetUncompressedLength(input, size, &length) || length != expected_size ||
          !snappy::RawUncompress(input, size, out.data())) {
        throw ParquetFormatError("corrupt SNAPPY page");
      }
      return;
    }
    case Codec::gzip:
      gunzip(data, size, out);
      return;
    case Codec::zstd: {
      const size_t n = ZSTD_decompress(out.data(), out.size(), data, size);
      if (ZSTD_isError(n) || n != expected_size) throw ParquetFormatError("corrupt ZSTD page");
      return;
    }
    default:
      throw ParquetFormatError("pages compressed with " + codec_name(codec) +
                               ", which utt does not read: rewrite the file with snappy, zstd, "
                               "gzip or no compression");
  }
}

}  // namespace utt::parquet
