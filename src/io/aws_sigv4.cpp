#include "io/aws_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>

#include "util/error.h"

namespace utt {
namespace {

std::string to_hex(const unsigned char* bytes, size_t size) {
  static const char* const kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex += kDigits[bytes[i] >> 4];
    hex += kDigits[bytes[i] & 0xF];
  }
  return hex;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out, &size);
  UTT_CHECK(result != nullptr, "HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(out), size);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  UTT_CHECK(EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) == 1, "SHA-256 failed");
  return to_hex(digest, size);
}

std::string aws_uri_encode(std::string_view text, bool keep_slash) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string sigv4_canonical_request(const SigV4Request& request) {
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : request.headers) {  // std::map: sorted by name
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  return request.method + "\n" + request.canonical_uri + "\n" + request.canonical_query + "\n" + canonical_headers +
         "\n" + signed_headers + "\n" + request.payload_sha256_hex;
}

std::string sigv4_authorization(const SigV4Request& request, const AwsCredentials& credentials,
                                const std::string& region, const std::string& service, const std::string& amz_date) {
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(sigv4_canonical_request(request));
  const std::string key = hmac_sha256(
      hmac_sha256(hmac_sha256(hmac_sha256("AWS4" + credentials.secret_access_key, date), region), service),
      "aws4_request");
  const std::string signature = hmac_sha256(key, string_to_sign);
  std::string signed_headers;
  for (const auto& entry : request.headers) signed_headers += (signed_headers.empty() ? "" : ";") + entry.first;
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope + ", SignedHeaders=" +
         signed_headers + ", Signature=" +
         to_hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace utt
