// SigV4 against the worked example of AWS's S3 documentation ("Example: GET Object", the first
// 10 bytes of examplebucket/test.txt), and the credential sources in the AWS tools' order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "io/aws_credentials.h"
#include "io/aws_sigv4.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(AwsSigV4, SignsAwsDocumentedGetObjectExample) {
  SigV4Request request;
  request.method = "GET";
  request.canonical_uri = "/test.txt";
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                     {"range", "bytes=0-9"},
                     {"x-amz-content-sha256", kEmptySha256},
                     {"x-amz-date", "20130524T000000Z"}};
  request.payload_sha256_hex = sha256_hex("");
  EXPECT_EQ(request.payload_sha256_hex, kEmptySha256);
  // The documentation's string to sign ends with this hash of the canonical request.
  EXPECT_EQ(sha256_hex(sigv4_canonical_request(request)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  const AwsCredentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(sigv4_authorization(request, credentials, "us-east-1", "s3", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(AwsSigV4, UriEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(aws_uri_encode("run 1/step=5~a.b_c-d", true), "run%201/step%3D5~a.b_c-d");
  EXPECT_EQ(aws_uri_encode("a/b", false), "a%2Fb");
}

// Sets or clears environment variables for one test, restoring them after.
class Environment {
 public:
  void set(const char* name, const char* value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) ::setenv(name, value, 1); else ::unsetenv(name);
  }
  ~Environment() {
    for (const auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1); else ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(AwsCredentials, EnvironmentFirstThenTheProfileOfTheCredentialsFile) {
  Environment env;
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("utt_aws_credentials_" + std::to_string(::getpid()));
  std::ofstream(file) << "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = defaultsecret\n\n"
                         "# a comment\n[work]\naws_access_key_id=WORKKEY\naws_secret_access_key=worksecret\n"
                         "aws_session_token = worktoken\n";
  env.set("AWS_SHARED_CREDENTIALS_FILE", file.c_str());
  env.set("AWS_ACCESS_KEY_ID", "ENVKEY");
  env.set("AWS_SECRET_ACCESS_KEY", "envsecret");
  env.set("AWS_SESSION_TOKEN", nullptr);
  env.set("AWS_PROFILE", "work");
  EXPECT_EQ(find_aws_credentials().access_key_id, "ENVKEY");
  env.set("AWS_ACCESS_KEY_ID", nullptr);
  env.set("AWS_SECRET_ACCESS_KEY", nullptr);
  const AwsCredentials work = find_aws_credentials();
  EXPECT_EQ(work.access_key_id, "WORKKEY");
  EXPECT_EQ(work.secret_access_key, "worksecret");
  EXPECT_EQ(work.session_token, "worktoken");
  env.set("AWS_PROFILE", nullptr);
  EXPECT_EQ(find_aws_credentials().access_key_id, "DEFAULTKEY");
  env.set("AWS_PROFILE", "missing");
  try {
    find_aws_credentials();
    FAIL() << "no error for a missing profile";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("profile [missing] of " + file.string()), std::string::npos) << error.what();
  }
  env.set("AWS_ACCESS_KEY_ID", "ONLYKEY");
  EXPECT_THROW(find_aws_credentials(), UserError);  // half a pair
  std::filesystem::remove(file);
}

TEST(AwsCredentials, RegionAndEndpointFollowTheFlagThenTheEnvironment) {
  Environment env;
  env.set("AWS_REGION", nullptr);
  env.set("AWS_DEFAULT_REGION", nullptr);
  env.set("AWS_ENDPOINT_URL", nullptr);
  EXPECT_EQ(find_aws_region(std::nullopt), "us-east-1");
  env.set("AWS_DEFAULT_REGION", "eu-west-1");
  EXPECT_EQ(find_aws_region(std::nullopt), "eu-west-1");
  env.set("AWS_REGION", "eu-central-1");
  EXPECT_EQ(find_aws_region(std::nullopt), "eu-central-1");
  EXPECT_EQ(find_aws_region("ap-south-1"), "ap-south-1");
  EXPECT_EQ(find_aws_endpoint(std::nullopt), std::nullopt);
  env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
  EXPECT_EQ(find_aws_endpoint(std::nullopt), "http://127.0.0.1:9000");
  EXPECT_EQ(find_aws_endpoint("http://other:1"), "http://other:1");
}

}  // namespace
}  // namespace utt
