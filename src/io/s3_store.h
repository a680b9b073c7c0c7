// An ObjectStore in an S3 bucket, over libcurl with our own SigV4 signer (io/aws_sigv4.h):
// AWS itself (virtual-hosted URLs, https://BUCKET.s3.REGION.amazonaws.com/KEY) or any
// S3-compatible server at a custom endpoint (path-style URLs, ENDPOINT/BUCKET/KEY). Google Cloud
// Storage's XML API is one: HMAC keys sign as SigV4 does, and an OAuth2 access token is sent as
// a Bearer token instead of a signature (io/cloud_store.h sets both up).
//
// Every request carries the payload's SHA-256 (signed) and uploads its MD5 (Content-MD5), so
// the server rejects a body damaged on the way; downloads are checked against the ETag (the MD5
// of an object uploaded in one piece). Connection failures and 5xx answers are retried with
// backoff. Credentials appear in no message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "io/aws_sigv4.h"
#include "io/object_http.h"
#include "io/object_store.h"

namespace utt {

struct S3Location {
  std::string bucket;
  std::string region = "us-east-1";
  std::optional<std::string> endpoint;  // "http://127.0.0.1:4568"; nullopt: AWS
  // put_file uploads larger files in parts of this size (S3: at least 5 MiB, at most 10,000
  // parts, objects up to 5 TiB): 64 MiB parts cover a 625 GB checkpoint file.
  uint64_t part_bytes = uint64_t{64} << 20;
  std::string scheme = "s3";  // "gs" for GCS: describe() and messages
  // What to check when the store refuses the credentials (names of variables, never values).
  std::string credentials_hint =
      "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE in use) and the bucket's permissions";
};

// An OAuth2 access token (GCS): sent as "Authorization: Bearer TOKEN", nothing signed.
struct BearerToken {
  std::string value;
};

// A request as S3Store sends it: its URL and what SigV4 signs (host, x-amz-date,
// x-amz-content-sha256, x-amz-security-token with temporary credentials, `extra_headers`).
// Exposed so the tests can sign the same request with the AWS SDK's signer. Throws UserError for
// a bucket name or endpoint that cannot make a URL.
struct S3Request {
  std::string url;
  SigV4Request signing;
};
S3Request plan_s3_request(const S3Location& location, const AwsCredentials& credentials, const std::string& method,
                          const std::string& key, const std::map<std::string, std::string>& query,
                          const std::string& payload_sha256_hex, const std::string& amz_date,
                          const std::map<std::string, std::string>& extra_headers);

class S3Store : public ObjectStore {
 public:
  S3Store(S3Location location, AwsCredentials credentials);
  S3Store(S3Location location, BearerToken token);
  void put(const std::string& key, std::string_view bytes) override;
  void put_file(const std::string& key, const std::filesystem::path& path) override;
  std::string get(const std::string& key) override;
  void get_file(const std::string& key, const std::filesystem::path& path) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  std::string describe() const override { return location_.scheme + "://" + location_.bucket; }

 private:
  // One signed request, retried on connection failures and 5xx. `key` empty: the bucket.
  // `download_to`: a 200 answer's body goes into that file (object_http.h).
  ObjectHttpResponse send(const std::string& method, const std::string& key, const std::map<std::string, std::string>& query,
                          std::string_view body, const std::map<std::string, std::string>& extra_headers,
                          const std::filesystem::path* download_to = nullptr);
  [[noreturn]] void fail(const std::string& what, const ObjectHttpResponse& response) const;
  void put_in_parts(const std::string& key, const std::filesystem::path& path, uint64_t size);

  S3Location location_;
  AwsCredentials credentials_;
  std::string bearer_token_;  // set: Bearer authorization instead of SigV4
  std::string origin_;  // scheme://host[:port], for messages
};

}  // namespace utt
