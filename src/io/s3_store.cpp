#include "io/s3_store.h"

#include <algorithm>
#include <ctime>
#include <fstream>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace {

std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string etag_of(const ObjectHttpResponse& response) {
  const auto it = response.headers.find("etag");
  std::string etag = it == response.headers.end() ? "" : it->second;
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  return etag;
}

// Where requests go: path-style at a custom endpoint, virtual-hosted on AWS.
struct Endpoint {
  std::string origin;       // scheme://host[:port]
  std::string host;         // as sent in Host
  std::string bucket_path;  // "/BUCKET" path-style, "" virtual-hosted
};

Endpoint endpoint_of(const S3Location& location) {
  if (location.bucket.empty() || location.bucket.find('/') != std::string::npos) {
    throw UserError("'" + location.bucket + "' is not an S3 bucket name: give --cloud-bucket NAME (no '/')");
  }
  if (!location.endpoint) {
    const std::string host = location.bucket + ".s3." + location.region + ".amazonaws.com";
    return {"https://" + host, host, ""};
  }
  std::string endpoint = *location.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const size_t scheme = endpoint.find("://");
  if (scheme == std::string::npos || endpoint.find('/', scheme + 3) != std::string::npos) {
    throw UserError("S3 endpoint '" + *location.endpoint + "' is not of the form http(s)://HOST[:PORT]");
  }
  std::string bucket_path = "/";  // appended, not `+`: GCC 12's false -Wrestrict
  bucket_path.append(aws_uri_encode(location.bucket, false));
  return {endpoint, endpoint.substr(scheme + 3), bucket_path};
}

}  // namespace

S3Request plan_s3_request(const S3Location& location, const AwsCredentials& credentials, const std::string& method,
                          const std::string& key, const std::map<std::string, std::string>& query,
                          const std::string& payload_sha256_hex, const std::string& amz_date,
                          const std::map<std::string, std::string>& extra_headers) {
  const Endpoint endpoint = endpoint_of(location);
  S3Request request;
  SigV4Request& signing = request.signing;
  signing.method = method;
  signing.canonical_uri = endpoint.bucket_path + "/" + aws_uri_encode(key, true);
  for (const auto& [name, value] : query) {  // sorted by name, as SigV4 wants
    // appended, not `+`: GCC 12's false -Wrestrict
    if (!signing.canonical_query.empty()) signing.canonical_query.append("&");
    signing.canonical_query.append(aws_uri_encode(name, false)).append("=").append(aws_uri_encode(value, false));
  }
  signing.headers = {{"host", endpoint.host}, {"x-amz-content-sha256", payload_sha256_hex}, {"x-amz-date", amz_date}};
  if (!credentials.session_token.empty()) signing.headers["x-amz-security-token"] = credentials.session_token;
  for (const auto& [name, value] : extra_headers) signing.headers[name] = value;
  signing.payload_sha256_hex = payload_sha256_hex;
  request.url = endpoint.origin + signing.canonical_uri +
                (signing.canonical_query.empty() ? "" : "?" + signing.canonical_query);
  return request;
}

S3Store::S3Store(S3Location location, AwsCredentials credentials)
    : location_(std::move(location)), credentials_(std::move(credentials)), origin_(endpoint_of(location_).origin) {}

S3Store::S3Store(S3Location location, BearerToken token)
    : location_(std::move(location)), bearer_token_(std::move(token.value)), origin_(endpoint_of(location_).origin) {}

ObjectHttpResponse S3Store::send(const std::string& method, const std::string& key,
                                 const std::map<std::string, std::string>& query, std::string_view body,
                                 const std::map<std::string, std::string>& extra_headers,
                                 const std::filesystem::path* download_to) {
  // Signed once: a signature stays valid for 15 minutes, far longer than the retries take.
  const std::string amz_date = amz_date_now();
  const S3Request request =
      plan_s3_request(location_, credentials_, method, key, query, sha256_hex(body), amz_date, extra_headers);
  ObjectHttpRequest http{method, request.url, {}, body, download_to};
  if (!bearer_token_.empty()) {
    // GCS with an OAuth2 token: the token authorizes the request, nothing is signed.
    for (const auto& [name, value] : extra_headers) http.headers.push_back(name + ": " + value);
    http.headers.push_back("authorization: Bearer " + bearer_token_);
    http.headers.push_back("content-type: application/octet-stream");
    return send_object_request(http, describe(), origin_);
  }
  for (const auto& [name, value] : request.signing.headers) {
    if (name != "host") http.headers.push_back(name + ": " + value);  // curl sends Host itself
  }
  http.headers.push_back("authorization: " +
                         sigv4_authorization(request.signing, credentials_, location_.region, "s3", amz_date));
  http.headers.push_back("content-type: application/octet-stream");
  return send_object_request(http, describe(), origin_);
}

void S3Store::fail(const std::string& what, const ObjectHttpResponse& response) const {
  const std::string code = xml_text(response.body, "Code");
  const std::string reason = code.empty() ? "HTTP " + std::to_string(response.status)
                                          : code + ", HTTP " + std::to_string(response.status);
  if (response.status == 401 || response.status == 403 || code == "InvalidAccessKeyId" ||
      code == "SignatureDoesNotMatch") {
    throw UserError(describe() + " refused the credentials (" + reason + ") while trying to " + what + ": " +
                    location_.credentials_hint);
  }
  if (code == "NoSuchBucket") {
    throw UserError("the bucket '" + location_.bucket + "' does not exist at " + origin_ +
                    ": create it, or check --cloud-bucket and --cloud-region");
  }
  throw UserError("cannot " + what + " in " + describe() + " (" + reason + ")");
}

void S3Store::put(const std::string& key, std::string_view bytes) {
  const ObjectHttpResponse response = send("PUT", key, {}, bytes, {{"content-md5", md5_base64(bytes)}});
  if (response.status != 200) fail("upload " + key, response);
  const std::string etag = etag_of(response);
  if (!etag.empty() && etag != md5_hex(bytes)) {
    throw UserError("the upload of " + key + " to " + describe() + " came back with another checksum (ETag " + etag +
                    "): upload again");
  }
}

void S3Store::put_file(const std::string& key, const std::filesystem::path& path) {
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error) throw UserError("cannot read " + path.string() + " to upload it: " + error.message());
  if (size <= location_.part_bytes) {
    put(key, read_file(path, "file to upload"));
  } else {
    put_in_parts(key, path, size);
  }
}

// A multipart upload: the object appears only when the last request completes it, and an upload
// that fails part-way is aborted, so nothing half-written is ever visible under `key`.
void S3Store::put_in_parts(const std::string& key, const std::filesystem::path& path, uint64_t size) {
  UTT_CHECK(location_.part_bytes >= (uint64_t{5} << 20), "S3 parts must be at least 5 MiB, not " +
                                                              std::to_string(location_.part_bytes));
  const ObjectHttpResponse created = send("POST", key, {{"uploads", ""}}, {}, {});
  const std::string upload_id = xml_text(created.body, "UploadId");
  if (created.status != 200 || upload_id.empty()) fail("start a multipart upload of " + key, created);
  try {
    std::ifstream in(path, std::ios::binary);
    std::string part;
    std::string completion = "<CompleteMultipartUpload>";
    for (uint64_t offset = 0, number = 1; offset < size; offset += location_.part_bytes, ++number) {
      part.resize(static_cast<size_t>(std::min(location_.part_bytes, size - offset)));
      if (!in.read(part.data(), static_cast<std::streamsize>(part.size()))) {
        throw UserError("cannot read " + path.string() + " at byte " + std::to_string(offset) + " to upload it");
      }
      const std::string md5 = md5_hex(part);
      const ObjectHttpResponse uploaded = send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                                     part, {{"content-md5", md5_base64(part)}});
      if (uploaded.status != 200) fail("upload part " + std::to_string(number) + " of " + key, uploaded);
      const std::string etag = etag_of(uploaded);
      if (etag != md5) {
        throw UserError("part " + std::to_string(number) + " of " + key + " came back from " + describe() +
                        " with another checksum (ETag " + etag + "): upload again");
      }
      completion += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>\"" + etag +
                    "\"</ETag></Part>";
    }
    completion += "</CompleteMultipartUpload>";
    const ObjectHttpResponse completed = send("POST", key, {{"uploadId", upload_id}}, completion, {});
    // S3 may answer 200 and report an error in the body.
    if (completed.status != 200 || !xml_text(completed.body, "Code").empty()) {
      fail("complete the multipart upload of " + key, completed);
    }
  } catch (...) {
    try {
      send("DELETE", key, {{"uploadId", upload_id}}, {}, {});  // frees the parts; best effort
    } catch (const UserError&) {
    }
    throw;
  }
}

std::string S3Store::get(const std::string& key) {
  ObjectHttpResponse response = send("GET", key, {}, {}, {});
  if (response.status == 404 && xml_text(response.body, "Code") != "NoSuchBucket") {
    throw UserError("no object " + key + " in " + describe());
  }
  if (response.status != 200) fail("download " + key, response);
  const std::string etag = etag_of(response);
  // An ETag with '-' belongs to a multipart upload and is no MD5 of the whole object.
  if (!etag.empty() && etag.find('-') == std::string::npos && etag != md5_hex(response.body)) {
    throw UserError("the download of " + key + " from " + describe() + " does not match its checksum (ETag " + etag +
                    "): download again");
  }
  return std::move(response.body);
}

void S3Store::get_file(const std::string& key, const std::filesystem::path& path) {
  const ObjectHttpResponse response = send("GET", key, {}, {}, {}, &path);
  if (response.status == 404 && xml_text(response.body, "Code") != "NoSuchBucket") {
    throw UserError("no object " + key + " in " + describe());
  }
  if (response.status != 200) fail("download " + key, response);
}

std::vector<std::string> S3Store::list(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    std::map<std::string, std::string> query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) query["continuation-token"] = token;
    const ObjectHttpResponse response = send("GET", "", query, {}, {});
    if (response.status != 200) fail("list " + prefix, response);
    size_t from = 0;
    for (std::string key; !(key = xml_text(response.body, "Key", &from)).empty();) keys.push_back(key);
    token = xml_text(response.body, "IsTruncated") == "true" ? xml_text(response.body, "NextContinuationToken") : "";
  } while (!token.empty());
  std::sort(keys.begin(), keys.end());
  return keys;
}

void S3Store::remove(const std::string& key) {
  const ObjectHttpResponse response = send("DELETE", key, {}, {}, {});
  if (response.status != 204 && response.status != 200 && response.status != 404) fail("remove " + key, response);
  if (response.status == 404 && xml_text(response.body, "Code") == "NoSuchBucket") fail("remove " + key, response);
}

}  // namespace utt
