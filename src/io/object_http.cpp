#include "io/object_http.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "util/error.h"

namespace utt {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(250);

// Where a response's body goes: memory, or a file once the status says it is the object.
struct BodySink {
  CURL* curl = nullptr;
  std::string* memory = nullptr;
  std::FILE* file = nullptr;
  bool file_failed = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  long status = 0;
  curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
  if (sink->file != nullptr && status == 200) {
    if (std::fwrite(data, 1, size * count, sink->file) != size * count) {
      sink->file_failed = true;
      return 0;  // ends the transfer
    }
    return size * count;
  }
  sink->memory->append(data, size * count);
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

std::string md5_raw(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  UTT_CHECK(EVP_Digest(data.data(), data.size(), digest, &size, EVP_md5(), nullptr) == 1, "MD5 failed");
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace

ObjectHttpResponse send_object_request(const ObjectHttpRequest& request, const std::string& store,
                                       const std::string& origin) {
  static CurlGlobal global;
  ObjectHttpResponse response;
  for (int attempt = 0; attempt < kObjectHttpAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(kFirstBackoff * (1 << (attempt - 1)));
    curl_slist* list = nullptr;
    for (const std::string& header : request.headers) list = curl_slist_append(list, header.c_str());
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, curl_slist_free_all);
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    UTT_CHECK(curl != nullptr, "curl_easy_init failed");
    CURL* c = curl.get();
    response = ObjectHttpResponse{};
    std::unique_ptr<std::FILE, decltype(&std::fclose)> file(nullptr, std::fclose);
    if (request.download_to != nullptr) {
      file.reset(std::fopen(request.download_to->c_str(), "wb"));
      if (!file) {
        throw UserError("cannot write " + request.download_to->string() + " to download into it: " +
                        std::strerror(errno));
      }
    }
    BodySink sink{c, &response.body, file.get()};
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "PUT" || request.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer is a broken one
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "utt");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
    const CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    if (file && (sink.file_failed || std::fflush(file.get()) != 0)) {
      throw UserError("cannot write " + request.download_to->string() + " (" + std::strerror(errno) +
                      "): free some space there");
    }
    const bool retry_status = response.status >= 500 || response.status == 429;
    if (code == CURLE_OK && !retry_status) return response;
    if (attempt + 1 == kObjectHttpAttempts && code != CURLE_OK) {
      throw UserError("the connection to " + origin + " for " + store + " failed: " + curl_easy_strerror(code) + " (" +
                      std::to_string(kObjectHttpAttempts) + " tries): check the network and the endpoint");
    }
  }
  return response;  // a 5xx after every retry: the caller reports it
}

std::string md5_hex(std::string_view data) {
  static const char* const kDigits = "0123456789abcdef";
  std::string hex;
  for (const char byte : md5_raw(data)) {
    hex += kDigits[static_cast<unsigned char>(byte) >> 4];
    hex += kDigits[static_cast<unsigned char>(byte) & 0xF];
  }
  return hex;
}

std::string md5_base64(std::string_view data) {
  const std::string digest = md5_raw(data);
  unsigned char encoded[64];
  const int length =
      EVP_EncodeBlock(encoded, reinterpret_cast<const unsigned char*>(digest.data()), static_cast<int>(digest.size()));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(length));
}

std::string xml_text(const std::string& xml, const std::string& tag, size_t* from) {
  const std::string open = "<" + tag + ">";
  const std::string close = "</" + tag + ">";
  const size_t begin = xml.find(open, from ? *from : 0);
  if (begin == std::string::npos) return "";
  const size_t end = xml.find(close, begin + open.size());
  if (end == std::string::npos) return "";
  if (from) *from = end + close.size();
  const std::string text = xml.substr(begin + open.size(), end - begin - open.size());
  static const std::pair<const char*, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    bool replaced = false;
    for (const auto& [entity, c] : kEntities) {
      const size_t length = std::char_traits<char>::length(entity);
      if (text.compare(i, length, entity) == 0) {
        decoded += c;
        i += length - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) decoded += text[i];
  }
  return decoded;
}

}  // namespace utt
