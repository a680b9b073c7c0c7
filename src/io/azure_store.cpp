#include "io/azure_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
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

}  // namespace

AzureStore::AzureStore(AzureLocation location) : location_(std::move(location)) {
  if (location_.account.empty()) throw UserError("an Azure store needs --azure-account-name ACCOUNT");
  if (location_.container.empty() || location_.container.find('/') != std::string::npos) {
    throw UserError("'" + location_.container + "' is not an Azure container name: give --cloud-bucket NAME (no '/')");
  }
  if (!location_.sas_token.empty() && location_.sas_token.front() == '?') location_.sas_token.erase(0, 1);
  if (location_.sas_token.empty()) throw UserError("an Azure store needs --azure-sas-token TOKEN (a SAS for the container)");
  if (location_.endpoint) {
    base_ = *location_.endpoint;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  } else {
    base_ = "https://" + location_.account + ".blob.core.windows.net";
  }
}

ObjectHttpResponse AzureStore::send(const std::string& method, const std::string& key, const std::string& query,
                                    std::string_view body, std::vector<std::string> headers) {
  std::string url = base_;
  url.append("/").append(aws_uri_encode(location_.container, false));
  if (!key.empty()) url.append("/").append(aws_uri_encode(key, true));
  url.append("?").append(query).append(query.empty() ? "" : "&").append(location_.sas_token);
  headers.push_back(kServiceVersion);
  // base_ never holds the token: it names the server in messages.
  return send_object_request({method, url, headers, body}, describe(), base_);
}

void AzureStore::fail(const std::string& what, const ObjectHttpResponse& response) const {
  std::string code = xml_text(response.body, "Code");
  if (code.empty() && response.headers.count("x-ms-error-code")) code = response.headers.at("x-ms-error-code");
  const std::string reason = code.empty() ? "HTTP " + std::to_string(response.status)
                                          : code + ", HTTP " + std::to_string(response.status);
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
