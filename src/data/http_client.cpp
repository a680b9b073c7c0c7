#include "data/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

struct Transfer {
  HttpResponse* response;
  CURL* curl = nullptr;
  std::FILE* file = nullptr;
  const HttpRequest* request;
  bool show_progress = false;
  int last_percent = -1;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  if (starts_with(line, "HTTP/")) transfer->response->headers.clear();  // a new response
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    const size_t begin = value.find_first_not_of(" \t");
    const size_t end = value.find_last_not_of(" \t\r\n");
    value = begin == std::string::npos ? "" : value.substr(begin, end - begin + 1);
    transfer->response->headers[to_lower(line.substr(0, colon))] = value;
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  // Only a successful response's body goes to the file; an error's stays in memory.
  long status = 0;
  curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->file != nullptr && status >= 200 && status < 300) {
    return std::fwrite(data, 1, size * count, transfer->file);
  }
  transfer->response->body.append(data, size * count);
  return size * count;
}

int on_progress(void* user, curl_off_t, curl_off_t received, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (!transfer->show_progress) return 0;
  const int64_t total = transfer->request->progress_total_bytes;
  const int64_t have = transfer->request->progress_start_bytes + static_cast<int64_t>(received);
  const int percent = static_cast<int>(100 * have / std::max<int64_t>(total, 1));
  if (percent == transfer->last_percent) return 0;
  transfer->last_percent = percent;
  constexpr int kWidth = 30;
  const int filled = kWidth * std::min(percent, 100) / 100;
  std::fprintf(stderr, "\r%s [%s%s] %3d%% %s / %s", transfer->request->progress_label.c_str(),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(), percent,
               human_bytes(static_cast<double>(have)).c_str(),
               human_bytes(static_cast<double>(total)).c_str());
  std::fflush(stderr);
  return 0;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

}  // namespace

std::string url_host(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t begin = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find_first_of("/?#", begin);
  return url.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::string resolve_location(const std::string& base_url, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  const size_t scheme = base_url.find("://");
  const size_t host_end = base_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const std::string origin = base_url.substr(0, host_end);
  if (!location.empty() && location[0] == '/') return origin + location;
  const size_t last_slash = base_url.rfind('/');
  return base_url.substr(0, last_slash + 1) + location;
}

std::string percent_encode(const std::string& text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

HttpResponse http_request(const HttpRequest& request) {
  static CurlGlobal global;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  UTT_CHECK(curl != nullptr, "curl_easy_init failed");
  HttpResponse response;
  Transfer transfer{&response, curl.get(), nullptr, &request};
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file(nullptr, std::fclose);
  if (request.append_to_file) {
    file.reset(std::fopen(request.append_to_file->c_str(), "ab"));
    if (!file) throw UserError("cannot write " + *request.append_to_file + ": check that the cache folder is writable");
    transfer.file = file.get();
  }
  transfer.show_progress = request.progress_total_bytes > 0 && ::isatty(STDERR_FILENO);

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  // A stalled transfer (under 1 byte/s for 30 s) is a broken one.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "utt");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, transfer.show_progress ? 0L : 1L);
  if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

  const CURLcode code = curl_easy_perform(c);
  if (transfer.show_progress) std::fprintf(stderr, "\n");
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (code != CURLE_OK) {
    throw UserError("cannot download " + request.url + ": " + curl_easy_strerror(code) +
                    " (check the network, or set HF_HUB_OFFLINE=1 to use the local cache)");
  }
  return response;
}

}  // namespace utt
