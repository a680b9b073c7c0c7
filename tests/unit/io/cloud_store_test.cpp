// The store a run's cloud flags name: checkpoint URLs, where credentials come from, and what
// the GCS OAuth2 path sends (no GCS emulator is packaged: a recording server on 127.0.0.1
// shows the request).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "io/azure_store.h"
#include "io/cloud_store.h"
#include "io/s3_store.h"
#include "util/error.h"

namespace utt {
namespace {

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const UserError& error) {
    return error.what();
  }
  return "<no error>";
}

TEST(CloudUrl, NamesProviderBucketAndPath) {
  const CloudUrl s3 = *parse_cloud_url("s3://bucket/runs/a/latest");
  EXPECT_EQ(s3.provider, "s3");
  EXPECT_EQ(s3.bucket, "bucket");
  EXPECT_EQ(s3.path, "runs/a/latest");
  const CloudUrl gs = *parse_cloud_url("gs://b/checkpoint_step_10/");
  EXPECT_EQ(gs.provider, "gcs");
  EXPECT_EQ(gs.path, "checkpoint_step_10");
  const CloudUrl az = *parse_cloud_url("az://account/container/p/latest");
  EXPECT_EQ(az.provider, "azure");
  EXPECT_EQ(az.account, "account");
  EXPECT_EQ(az.bucket, "container");
  EXPECT_EQ(az.path, "p/latest");
  EXPECT_FALSE(parse_cloud_url("out/checkpoint_step_10"));
  EXPECT_FALSE(parse_cloud_url("latest"));
  EXPECT_NE(error_of([] { parse_cloud_url("s3:///latest"); }).find("names no bucket"), std::string::npos);
  EXPECT_NE(error_of([] { parse_cloud_url("az://account"); }).find("az://ACCOUNT/CONTAINER/PREFIX/latest"),
            std::string::npos);
  EXPECT_EQ(normalize_cloud_prefix("/a/b/"), "a/b");
  EXPECT_EQ(normalize_cloud_prefix("//"), "");
}

void clear_cloud_environment() {
  for (const char* name : {"GOOGLE_ACCESS_KEY_ID", "GOOGLE_SECRET_ACCESS_KEY", "GOOGLE_OAUTH_ACCESS_TOKEN",
                           "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY",
                           "AZURE_STORAGE_CONNECTION_STRING"}) {
    ::unsetenv(name);
  }
}

TEST(CloudStore, NamesTheVariablesToSetWhenCredentialsAreMissingAndShowsNoValue) {
  clear_cloud_environment();
  EXPECT_NE(error_of([] { open_cloud_store({"gcs", "b", {}, {}, {}, {}}); })
                .find("set GOOGLE_ACCESS_KEY_ID and GOOGLE_SECRET_ACCESS_KEY (an HMAC key), or GOOGLE_OAUTH_ACCESS_TOKEN"),
            std::string::npos);
  EXPECT_NE(error_of([] { open_cloud_store({"azure", "c", {}, {}, {}, {}}); })
                .find("--azure-account-name NAME (or AZURE_STORAGE_ACCOUNT"),
            std::string::npos);
  ::setenv("AZURE_STORAGE_KEY", "not base64!", 1);
  const std::string bad_key = error_of([] { open_cloud_store({"azure", "c", {}, {}, std::string("acct"), {}}); });
  EXPECT_NE(bad_key.find("the Azure account key is not base64 text"), std::string::npos) << bad_key;
  EXPECT_EQ(bad_key.find("not base64!"), std::string::npos);
  clear_cloud_environment();
  // A connection string supplies account, key and endpoint.
  ::setenv("AZURE_STORAGE_CONNECTION_STRING",
           "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/dev;", 1);
  EXPECT_EQ(open_cloud_store({"azure", "c", {}, {}, {}, {}})->describe(), "az://dev/c");
  clear_cloud_environment();
  ::setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.secret-token", 1);
  EXPECT_EQ(open_cloud_store({"gcs", "b", {}, {}, {}, {}})->describe(), "gs://b");
  clear_cloud_environment();
}

// Shared Key's string to sign, as Microsoft's documentation lays it out: the standard headers in
// their order (Content-Length empty for an empty body), the x-ms- headers sorted, then the
// account, the path and the query parameters, lower-cased names, decoded values, sorted.
TEST(AzureSharedKey, StringToSignFollowsTheDocumentedLayout) {
  const std::string text = azure_shared_key_string_to_sign(
      "PUT", {"x-ms-version: 2021-12-02", "Content-MD5: abc==", "content-type: application/octet-stream",
              "x-ms-date: Thu, 03 Dec 2026 10:00:00 GMT", "x-ms-blob-type: BlockBlob"},
      11, "acct", "/acct/container/a%20b", "comp=block&blockid=dXR0LWJsb2Nr%3D");
  EXPECT_EQ(text,
            "PUT\n\n\n11\nabc==\napplication/octet-stream\n\n\n\n\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Thu, 03 Dec 2026 10:00:00 GMT\nx-ms-version:2021-12-02\n"
            "/acct/acct/container/a%20b\nblockid:dXR0LWJsb2Nr=\ncomp:block");
  EXPECT_EQ(azure_shared_key_string_to_sign("GET", {}, 0, "a", "/c", ""), "GET\n\n\n\n\n\n\n\n\n\n\n\n/a/c");
}

// Accepts one connection on 127.0.0.1, records the request's head and answers 200 with an empty
// list.
class RecordingServer {
 public:
  RecordingServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t size = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    ::listen(listener_, 1);
    thread_ = std::thread([this] {
      const int client = ::accept(listener_, nullptr, nullptr);
      char buffer[8192];
      while (request_.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        request_.append(buffer, static_cast<size_t>(n));
      }
      const std::string body = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body;
      ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(client);
    });
  }
  ~RecordingServer() {
    thread_.join();
    ::close(listener_);
  }
  int port() const { return port_; }
  const std::string& request() {
    thread_.join();
    thread_ = std::thread([] {});
    return request_;
  }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(GcsStore, AnOAuthTokenIsSentAsABearerTokenAndNothingIsSigned) {
  RecordingServer server;
  clear_cloud_environment();
  ::setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.test-token", 1);
  const auto store = open_cloud_store({"gcs", "bucket", {}, "http://127.0.0.1:" + std::to_string(server.port()), {}, {}});
  clear_cloud_environment();
  EXPECT_TRUE(store->list("runs/").empty());
  const std::string request = server.request();
  EXPECT_EQ(request.rfind("GET /bucket/?list-type=2&prefix=runs%2F HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nauthorization: Bearer ya29.test-token\r\n"), std::string::npos) << request;
  EXPECT_EQ(request.find("x-amz-"), std::string::npos) << request;
  EXPECT_EQ(request.find("AWS4-HMAC-SHA256"), std::string::npos) << request;
}

TEST(GcsStore, HmacKeysSignAsSigV4WithTheAutoRegion) {
  RecordingServer server;
  clear_cloud_environment();
  ::setenv("GOOGLE_ACCESS_KEY_ID", "GOOGKEY", 1);
  ::setenv("GOOGLE_SECRET_ACCESS_KEY", "hmac-secret", 1);
  const auto store = open_cloud_store({"gcs", "bucket", {}, "http://127.0.0.1:" + std::to_string(server.port()), {}, {}});
  clear_cloud_environment();
  store->list("");
  const std::string request = server.request();
  EXPECT_NE(request.find("authorization: AWS4-HMAC-SHA256 Credential=GOOGKEY/"), std::string::npos) << request;
  EXPECT_NE(request.find("/auto/s3/aws4_request"), std::string::npos) << request;
  EXPECT_EQ(request.find("hmac-secret"), std::string::npos) << request;
}

}  // namespace
}  // namespace utt
