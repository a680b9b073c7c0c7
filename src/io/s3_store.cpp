#include "io/s3_store.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr int kAttempts = 4;  // one try and three retries: 0.25 s, 0.5 s, 1 s apart
constexpr auto kFirstBackoff = std::chrono::milliseconds(250);

std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string md5_of(std::string_view data, bool base64) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  UTT_CHECK(EVP_Digest(data.data(), data.size(), digest, &size, EVP_md5(), nullptr) == 1, "MD5 failed");
  if (base64) {
    unsigned char encoded[64];
    const int length = EVP_EncodeBlock(encoded, digest, static_cast<int>(size));
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(length));
  }
  static const char* const kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xF];
  }
  return hex;
}

// The text of the first <tag>...</tag> at or after `from`, XML entities decoded; "" if none.
std::string xml_text(const std::string& xml, const std::string& tag, size_t* from = nullptr) {
  const std::string open = "<" + tag + ">";
  const std::string close = "</" + tag + ">";
  const size_t begin = xml.find(open, from ? *from : 0);
  if (begin == std::string::npos) return "";
  const size_t end = xml.find(close, begin + open.size());
  if (end == std::string::npos) return "";
  if (from) *from = end + close.size();
  std::string text = xml.substr(begin + open.size(), end - begin - open.size());
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    static const std::pair<const char*, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool replaced = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.compare(i, std::char_traits<char>::length(entity), entity) == 0) {
        decoded += c;
        i += std::char_traits<char>::length(entity) - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) decoded += text[i];
  }
  return decoded;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const size_t begin = line.find_first_not_of(" \t", colon + 1);
    const size_t end = line.find_last_not_of(" \t\r\n");
    (*headers)[name] = begin == std::string::npos || end < begin ? "" : line.substr(begin, end - begin + 1);
  }
  return size * count;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

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

S3Store::Response S3Store::send(const std::string& method, const std::string& key,
                                const std::map<std::string, std::string>& query, std::string_view body,
                                const std::map<std::string, std::string>& extra_headers) {
  static CurlGlobal global;
  const std::string payload_hash = sha256_hex(body);
  Response response;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(kFirstBackoff * (1 << (attempt - 1)));
    // Signed anew for every try: the signature covers the time.
    const S3Request request =
        plan_s3_request(location_, credentials_, method, key, query, payload_hash, amz_date_now(), extra_headers);
    const SigV4Request& signing = request.signing;
    const std::string& url = request.url;
    curl_slist* list = nullptr;
    for (const auto& [name, value] : signing.headers) {
      if (name != "host") list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    list = curl_slist_append(list, ("authorization: " + sigv4_authorization(signing, credentials_, location_.region,
                                                                           "s3", signing.headers.at("x-amz-date")))
                                       .c_str());
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    list = curl_slist_append(list, "Content-Type: application/octet-stream");
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, curl_slist_free_all);
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    UTT_CHECK(curl != nullptr, "curl_easy_init failed");
    CURL* c = curl.get();
    response = Response{};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "PUT" || method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer is a broken one
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "utt");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
    const CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    const bool retry = code != CURLE_OK || response.status >= 500;
    if (!retry) return response;
    if (attempt + 1 == kAttempts && code != CURLE_OK) {
      throw UserError("the connection to " + origin_ + " for " + describe() + " failed: " + curl_easy_strerror(code) +
                      " (" + std::to_string(kAttempts) + " tries): check the network and the endpoint");
    }
  }
  return response;  // a 5xx after every retry: the caller reports it
}

void S3Store::fail(const std::string& what, const Response& response) const {
  const std::string code = xml_text(response.body, "Code");
  const std::string reason = code.empty() ? "HTTP " + std::to_string(response.status)
                                          : code + ", HTTP " + std::to_string(response.status);
  if (response.status == 403 || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch") {
    throw UserError(describe() + " refused the credentials (" + reason + ") while trying to " + what +
                    ": check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE in use) and the "
                    "bucket's permissions");
  }
  if (code == "NoSuchBucket") {
    throw UserError("the bucket '" + location_.bucket + "' does not exist at " + origin_ +
                    ": create it, or check --cloud-bucket and --cloud-region");
  }
  throw UserError("cannot " + what + " in " + describe() + " (" + reason + ")");
}

void S3Store::put(const std::string& key, std::string_view bytes) {
  const Response response = send("PUT", key, {}, bytes, {{"content-md5", md5_of(bytes, true)}});
  if (response.status != 200) fail("upload " + key, response);
  std::string etag = response.headers.count("etag") ? response.headers.at("etag") : "";
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  if (!etag.empty() && etag != md5_of(bytes, false)) {
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
  const Response created = send("POST", key, {{"uploads", ""}}, {}, {});
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
      const std::string md5 = md5_of(part, false);
      const Response uploaded = send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                                     part, {{"content-md5", md5_of(part, true)}});
      if (uploaded.status != 200) fail("upload part " + std::to_string(number) + " of " + key, uploaded);
      std::string etag = uploaded.headers.count("etag") ? uploaded.headers.at("etag") : "";
      etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
      if (etag != md5) {
        throw UserError("part " + std::to_string(number) + " of " + key + " came back from " + describe() +
                        " with another checksum (ETag " + etag + "): upload again");
      }
      completion += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>\"" + etag +
                    "\"</ETag></Part>";
    }
    completion += "</CompleteMultipartUpload>";
    const Response completed = send("POST", key, {{"uploadId", upload_id}}, completion, {});
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
  Response response = send("GET", key, {}, {}, {});
  if (response.status == 404 && xml_text(response.body, "Code") != "NoSuchBucket") {
    throw UserError("no object " + key + " in " + describe());
  }
  if (response.status != 200) fail("download " + key, response);
  std::string etag = response.headers.count("etag") ? response.headers.at("etag") : "";
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  // An ETag with '-' belongs to a multipart upload and is no MD5 of the whole object.
  if (!etag.empty() && etag.find('-') == std::string::npos && etag != md5_of(response.body, false)) {
    throw UserError("the download of " + key + " from " + describe() + " does not match its checksum (ETag " + etag +
                    "): download again");
  }
  return std::move(response.body);
}

std::vector<std::string> S3Store::list(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    std::map<std::string, std::string> query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) query["continuation-token"] = token;
    const Response response = send("GET", "", query, {}, {});
    if (response.status != 200) fail("list " + prefix, response);
    size_t from = 0;
    for (std::string key; !(key = xml_text(response.body, "Key", &from)).empty();) keys.push_back(key);
    token = xml_text(response.body, "IsTruncated") == "true" ? xml_text(response.body, "NextContinuationToken") : "";
  } while (!token.empty());
  std::sort(keys.begin(), keys.end());
  return keys;
}

void S3Store::remove(const std::string& key) {
  const Response response = send("DELETE", key, {}, {}, {});
  if (response.status != 204 && response.status != 200 && response.status != 404) fail("remove " + key, response);
  if (response.status == 404 && xml_text(response.body, "Code") == "NoSuchBucket") fail("remove " + key, response);
}

}  // namespace utt
