// One HTTP request of an object store (S3, GCS, Azure Blob) over libcurl, retried with backoff on
// a failed or broken connection and on 5xx and 429 (throttled) answers: three retries, 0.25 s,
// 0.5 s and 1 s apart.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

struct ObjectHttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct ObjectHttpRequest {
  std::string method;                // GET, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // "name: value"
  std::string_view body;             // sent with PUT and POST
  // When set, a 200 answer's body is streamed into this file (created or truncated on every
  // try) instead of `body`; other answers' bodies (error documents) still go to `body`.
  const std::filesystem::path* download_to = nullptr;
};

inline constexpr int kObjectHttpAttempts = 4;

// Returns the last answer (a 5xx after every try included). Throws UserError naming `store` and
// `origin` when no try got an answer.
ObjectHttpResponse send_object_request(const ObjectHttpRequest& request, const std::string& store,
                                       const std::string& origin);

// MD5 of `data`, as lower-case hex (S3's ETag) or base64 (Content-MD5).
std::string md5_hex(std::string_view data);
std::string md5_base64(std::string_view data);

// The text of the first <tag>...</tag> at or after `*from` (advanced past it), entities decoded;
// "" if there is none.
std::string xml_text(const std::string& xml, const std::string& tag, size_t* from = nullptr);

}  // namespace utt
