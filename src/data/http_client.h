// A small HTTP client over libcurl for the Hub: one request at a time, headers in and out,
// redirects returned to the caller (who decides whether the Authorization header may follow
// them: only to the same host), bodies to memory or appended to a file with a progress bar.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace utt {

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // when not written to a file
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::map<std::string, std::string> headers;
  std::optional<std::string> append_to_file;  // a 2xx body is appended to this file
  int64_t progress_total_bytes = 0;           // > 0: a progress bar on a terminal
  int64_t progress_start_bytes = 0;
  std::string progress_label;
};

// Throws UserError when the server cannot be reached or the connection breaks; the body
// received before a break stays in append_to_file (so a retry can resume).
HttpResponse http_request(const HttpRequest& request);

// "https://host:1234/a/b" -> "host:1234"
std::string url_host(const std::string& url);

// A redirect's Location made absolute against the request's URL.
std::string resolve_location(const std::string& base_url, const std::string& location);

// Percent-encodes everything but unreserved characters, and '/' too when keep_slash.
std::string percent_encode(const std::string& text, bool keep_slash);

}  // namespace utt
