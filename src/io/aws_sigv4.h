// AWS Signature Version 4 for S3 requests (header-based), written from AWS's description of the
// algorithm: canonical request -> string to sign -> signing key (HMAC-SHA256 chain over date,
// region, service) -> signature. S3 also wants the payload's SHA-256 in x-amz-content-sha256.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace utt {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only; sent as x-amz-security-token
};

struct SigV4Request {
  std::string method;           // GET, PUT, DELETE, HEAD
  std::string canonical_uri;    // the path, percent-encoded as sent ("/bucket/a%20b")
  std::string canonical_query;  // "k=v&k2=v2", names sorted, both percent-encoded; "" for none
  // Every header to sign, names lower-case, values trimmed: at least host, x-amz-date and
  // x-amz-content-sha256.
  std::map<std::string, std::string> headers;
  std::string payload_sha256_hex;
};

std::string sha256_hex(std::string_view data);

// The canonical request of AWS's description (exposed for tests and error reports).
std::string sigv4_canonical_request(const SigV4Request& request);

// The Authorization header's value for `request` made at `amz_date` (YYYYMMDDTHHMMSSZ, UTC):
// "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=...,
// Signature=...".
std::string sigv4_authorization(const SigV4Request& request, const AwsCredentials& credentials,
                                const std::string& region, const std::string& service,
                                const std::string& amz_date);

// Percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and '/' when
// keep_slash, for object key paths).
std::string aws_uri_encode(std::string_view text, bool keep_slash);

}  // namespace utt
