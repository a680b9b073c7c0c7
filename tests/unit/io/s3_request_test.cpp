// The requests S3Store sends are signed as the AWS SDK signs them: tests/tools/sigv4_reference.mjs
// signs the same requests with @smithy/signature-v4, the SDK's own signer. Keys with spaces and
// reserved characters, list queries with continuation tokens, temporary credentials, AWS's
// virtual-hosted URLs and a custom endpoint with a port.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/aws_sigv4.h"
#include "io/s3_store.h"
#include "test_paths.h"

namespace utt {
namespace {

std::string run_node(const std::string& script, const std::string& input) {
  const std::string command = "node " + script + " " + input;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

TEST(S3Request, SignaturesEqualTheAwsSdkSigners) {
  const std::string amz_date = "20261203T101530Z";
  const S3Location aws{"utt-checkpoints", "eu-central-1", std::nullopt};
  const S3Location local{"utt-test", "us-east-1", "http://127.0.0.1:4568"};
  const std::string body_hash = sha256_hex("model bytes");
  struct Case {
    S3Location location;
    AwsCredentials credentials;
    std::string method;
    std::string key;
    std::map<std::string, std::string> query;
    std::string payload;
    std::map<std::string, std::string> extra;
  };
  const AwsCredentials keys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const AwsCredentials temporary{"ASIAEXAMPLE", "secret/with+signs", "token/with+signs=="};
  const std::vector<Case> cases = {
      {aws, keys, "PUT", "run 1/checkpoint_step_10/model.safetensors", {}, body_hash,
       {{"content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="}}},
      {aws, temporary, "GET", "", {{"list-type", "2"}, {"prefix", "run 1/ä&=+"}, {"continuation-token", "1/a+b=="}},
       sha256_hex(""), {}},
      {local, keys, "DELETE", "a+b&c~d.json", {}, sha256_hex(""), {}},
      {local, temporary, "GET", "run/trainer_state.json", {}, sha256_hex(""), {}},
  };
  nlohmann::json requests = nlohmann::json::array();
  std::vector<std::string> ours;
  for (const Case& c : cases) {
    const S3Request request =
        plan_s3_request(c.location, c.credentials, c.method, c.key, c.query, c.payload, amz_date, c.extra);
    ours.push_back(sigv4_authorization(request.signing, c.credentials, c.location.region, "s3", amz_date));
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : request.signing.headers) {
      if (name != "x-amz-date") headers[name] = value;
    }
    requests.push_back({{"method", c.method}, {"url", request.url}, {"headers", headers}});
  }
  // One reference run per credential set and region (the signer is made for one).
  std::vector<std::string> theirs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const nlohmann::json input = {
        {"region", cases[i].location.region},
        {"amz_date", amz_date},
        {"credentials", {{"accessKeyId", cases[i].credentials.access_key_id},
                         {"secretAccessKey", cases[i].credentials.secret_access_key},
                         {"sessionToken", cases[i].credentials.session_token}}},
        {"requests", nlohmann::json::array({requests[i]})}};
    const std::string path =
        (std::filesystem::temp_directory_path() / ("utt_sigv4_" + std::to_string(::getpid()) + ".json")).string();
    std::ofstream(path) << input.dump();
    const std::string out = run_node(test::source_dir() + "/tests/tools/sigv4_reference.mjs", path);
    std::filesystem::remove(path);
    ASSERT_FALSE(out.empty()) << "sigv4_reference.mjs printed nothing: run scripts/setup --tests";
    theirs.push_back(nlohmann::json::parse(out).at(0).get<std::string>());
  }
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(ours[i], theirs[i]) << cases[i].method << " " << cases[i].key;
}

TEST(S3Request, UrlsArePathStyleAtAnEndpointAndVirtualHostedOnAws) {
  const AwsCredentials keys{"a", "b", ""};
  EXPECT_EQ(plan_s3_request({"b1", "eu-west-1", std::nullopt}, keys, "GET", "x y/z", {}, "h", "d", {}).url,
            "https://b1.s3.eu-west-1.amazonaws.com/x%20y/z");
  EXPECT_EQ(plan_s3_request({"b1", "us-east-1", "http://127.0.0.1:9000/"}, keys, "GET", "", {{"prefix", "p/"}}, "h", "d",
                            {})
                .url,
            "http://127.0.0.1:9000/b1/?prefix=p%2F");
}

}  // namespace
}  // namespace utt
