#include "io/azure_store.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "io/aws_sigv4.h"
#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace {

// A service version azurite and Azure both serve, with every operation used here.
constexpr const char* kServiceVersion = "x-ms-version: 2021-12-02";

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

// Block ids must all have the same length within a blob.
std::string block_id(uint64_t number) {
  char text[32];
  std::snprintf(text, sizeof(text), "utt-block-%08llu", static_cast<unsigned long long>(number));
  return base64(text);
}

std::string from_base64(const std::string& text) {
  std::string out(text.size(), '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (length < 0 || text.size() % 4 != 0) return "";
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++padding;
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// "Mon, 07 Dec 2026 10:00:00 GMT": x-ms-date, which Shared Key signs.
std::string rfc1123_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[64];
  std::snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[utc.tm_wday], utc.tm_mday,
                kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

}  // namespace

std::string azure_shared_key_string_to_sign(const std::string& method, const std::vector<std::string>& headers,
                                            size_t content_length, const std::string& account,
                                            const std::string& path, const std::string& query) {
  std::map<std::string, std::string> values;  // names lower-cased
  for (const std::string& header : headers) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos) continue;
    const size_t begin = header.find_first_not_of(' ', colon + 1);
    values[lower(header.substr(0, colon))] = begin == std::string::npos ? "" : header.substr(begin);
  }
  auto value = [&](const char* name) { return values.count(name) ? values.at(name) : std::string(); };
  std::string text = method + "\n" + value("content-encoding") + "\n" + value("content-language") + "\n" +
                     (content_length > 0 ? std::to_string(content_length) : "") + "\n" + value("content-md5") +
                     "\n" + value("content-type") + "\n" + value("date") + "\n" + value("if-modified-since") +
                     "\n" + value("if-match") + "\n" + value("if-none-match") + "\n" +
                     value("if-unmodified-since") + "\n" + value("range") + "\n";
  for (const auto& [name, header_value] : values) {
    if (name.rfind("x-ms-", 0) == 0) text += name + ":" + header_value + "\n";
  }
  text += "/" + account + path;
  std::map<std::string, std::string> parameters;
  for (size_t begin = 0; begin < query.size();) {
    size_t end = query.find('&', begin);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(begin, end - begin);
    const size_t equals = pair.find('=');
    if (!pair.empty()) {
      parameters[lower(percent_decode(pair.substr(0, equals)))] =
          equals == std::string::npos ? "" : percent_decode(pair.substr(equals + 1));
    }
    begin = end + 1;
  }
  for (const auto& [name, parameter] : parameters) text += "\n" + name + ":" + parameter;
  return text;
}

AzureStore::AzureStore(AzureLocation location) : location_(std::move(location)) {
  if (location_.account.empty()) throw UserError("an Azure store needs --azure-account-name ACCOUNT");
  if (location_.container.empty() || location_.container.find('/') != std::string::npos) {
    throw UserError("'" + location_.container + "' is not an Azure container name: give --cloud-bucket NAME (no '/')");
  }
  if (!location_.sas_token.empty() && location_.sas_token.front() == '?') location_.sas_token.erase(0, 1);
  if (location_.sas_token.empty()) {
    if (location_.account_key.empty()) {
      throw UserError("an Azure store needs --azure-sas-token TOKEN (a SAS for the container) or the account key "
                      "(AZURE_STORAGE_KEY, or AZURE_STORAGE_CONNECTION_STRING)");
    }
    account_key_ = from_base64(location_.account_key);
    if (account_key_.empty()) {
      throw UserError("the Azure account key is not base64 text: copy it again from the storage account's "
                      "access keys (AZURE_STORAGE_KEY or the connection string's AccountKey)");
    }
  }
  if (location_.endpoint) {
    base_ = *location_.endpoint;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  } else {
    base_ = "https://" + location_.account + ".blob.core.windows.net";
  }
}

ObjectHttpResponse AzureStore::send(const std::string& method, const std::string& key, const std::string& query,
                                    std::string_view body, std::vector<std::string> headers,
                                    const std::filesystem::path* download_to) {
  std::string path = "/";  // appended, not `+`: GCC 12's false -Wrestrict
  path.append(aws_uri_encode(location_.container, false));
  if (!key.empty()) path.append("/").append(aws_uri_encode(key, true));
  headers.push_back(kServiceVersion);
  if ((method == "PUT" || method == "POST") &&
      std::none_of(headers.begin(), headers.end(), [](const std::string& h) { return lower(h).rfind("content-type:", 0) == 0; })) {
    headers.push_back("content-type: application/octet-stream");  // else curl sends a form's type
  }
  std::string url = base_ + path;
  if (location_.sas_token.empty()) {
    headers.push_back("x-ms-date: " + rfc1123_now());
    const size_t scheme = base_.find("://");
    const size_t base_path = base_.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    const std::string signed_path = (base_path == std::string::npos ? "" : base_.substr(base_path)) + path;
    const std::string text =
        azure_shared_key_string_to_sign(method, headers, body.size(), location_.account, signed_path, query);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), account_key_.data(), static_cast<int>(account_key_.size()),
         reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest, &size);
    headers.push_back("authorization: SharedKey " + location_.account + ":" +
                      base64(std::string_view(reinterpret_cast<const char*>(digest), size)));
    if (!query.empty()) url.append("?").append(query);
  } else {
    url.append("?").append(query).append(query.empty() ? "" : "&").append(location_.sas_token);
  }
  // base_ never holds the token: it names the server in messages.
  ObjectHttpRequest request{method, url, headers, body, download_to};
  return send_object_request(request, describe(), base_);
}

void AzureStore::fail(const std::string& what, const ObjectHttpResponse& response) const {
  std::string code = xml_text(response.body, "Code");
  if (code.empty() && response.headers.count("x-ms-error-code")) code = response.headers.at("x-ms-error-code");
  const std::string reason = code.empty() ? "HTTP " + std::to_string(response.status)
                                          : code + ", HTTP " + std::to_string(response.status);
  if (response.status == 403 && location_.sas_token.empty()) {
    throw UserError(describe() + " refused the account key (" + reason + ") while trying to " + what +
                    ": check AZURE_STORAGE_KEY (or the connection string's AccountKey) and --azure-account-name");
  }
  if (response.status == 403) {
    throw UserError(describe() + " refused the SAS token (" + reason + ") while trying to " + what +
                    ": check --azure-sas-token (not expired, for this container, with read, add, create, write, "
                    "delete and list permissions) and --azure-account-name");
  }
  if (code == "ContainerNotFound") {
    throw UserError("the container '" + location_.container + "' does not exist in the account " + location_.account +
                    ": create it, or check --cloud-bucket and --azure-account-name");
  }
  throw UserError("cannot " + what + " in " + describe() + " (" + reason + ")");
}

void AzureStore::put(const std::string& key, std::string_view bytes) {
  const ObjectHttpResponse response =
      send("PUT", key, "", bytes, {"x-ms-blob-type: BlockBlob", "content-md5: " + md5_base64(bytes),
                                   "content-type: application/octet-stream"});
  if (response.status != 201) fail("upload " + key, response);
}

void AzureStore::put_file(const std::string& key, const std::filesystem::path& path) {
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error) throw UserError("cannot read " + path.string() + " to upload it: " + error.message());
  if (size <= location_.block_bytes) {
    put(key, read_file(path, "file to upload"));
    return;
  }
  // Blocks stay uncommitted, invisible, until the block list names them (Azure drops
  // uncommitted blocks after a week).
  std::ifstream in(path, std::ios::binary);
  std::string block;
  std::string block_list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (uint64_t offset = 0, number = 1; offset < size; offset += location_.block_bytes, ++number) {
    block.resize(static_cast<size_t>(std::min(location_.block_bytes, size - offset)));
    if (!in.read(block.data(), static_cast<std::streamsize>(block.size()))) {
      throw UserError("cannot read " + path.string() + " at byte " + std::to_string(offset) + " to upload it");
    }
    const std::string id = block_id(number);
    const ObjectHttpResponse response = send("PUT", key, "comp=block&blockid=" + aws_uri_encode(id, false), block,
                                             {"content-md5: " + md5_base64(block)});
    if (response.status != 201) fail("upload block " + std::to_string(number) + " of " + key, response);
    block_list += "<Latest>" + id + "</Latest>";
  }
  block_list += "</BlockList>";
  const ObjectHttpResponse committed = send("PUT", key, "comp=blocklist", block_list, {"content-type: application/xml"});
  if (committed.status != 201) fail("commit the blocks of " + key, committed);
}

std::string AzureStore::get(const std::string& key) {
  ObjectHttpResponse response = send("GET", key, "", {}, {});
  if (response.status == 404 && xml_text(response.body, "Code") != "ContainerNotFound" &&
      (!response.headers.count("x-ms-error-code") || response.headers.at("x-ms-error-code") != "ContainerNotFound")) {
    throw UserError("no object " + key + " in " + describe());
  }
  if (response.status != 200) fail("download " + key, response);
  // A blob put in one piece keeps its Content-MD5; one committed from blocks has none.
  const auto md5 = response.headers.find("content-md5");
  if (md5 != response.headers.end() && !md5->second.empty() && md5->second != md5_base64(response.body)) {
    throw UserError("the download of " + key + " from " + describe() +
                    " does not match its checksum (Content-MD5): download again");
  }
  return std::move(response.body);
}

void AzureStore::get_file(const std::string& key, const std::filesystem::path& path) {
  const ObjectHttpResponse response = send("GET", key, "", {}, {}, &path);
  const std::string code = response.headers.count("x-ms-error-code") ? response.headers.at("x-ms-error-code")
                                                                      : xml_text(response.body, "Code");
  if (response.status == 404 && code != "ContainerNotFound") throw UserError("no object " + key + " in " + describe());
  if (response.status != 200) fail("download " + key, response);
}

std::vector<std::string> AzureStore::list(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string marker;
  do {
    std::string query = "restype=container&comp=list&prefix=" + aws_uri_encode(prefix, false);
    if (!marker.empty()) query += "&marker=" + aws_uri_encode(marker, false);
    const ObjectHttpResponse response = send("GET", "", query, {}, {});
    if (response.status != 200) fail("list " + prefix, response);
    size_t from = 0;
    for (std::string name; !(name = xml_text(response.body, "Name", &from)).empty();) keys.push_back(name);
    marker = xml_text(response.body, "NextMarker");
  } while (!marker.empty());
  std::sort(keys.begin(), keys.end());
  return keys;
}

void AzureStore::remove(const std::string& key) {
  const ObjectHttpResponse response = send("DELETE", key, "", {}, {});
  if (response.status == 202) return;
  const std::string code = response.headers.count("x-ms-error-code") ? response.headers.at("x-ms-error-code")
                                                                      : xml_text(response.body, "Code");
  if (response.status == 404 && code == "BlobNotFound") return;  // gone already
  fail("remove " + key, response);
}

}  // namespace utt
