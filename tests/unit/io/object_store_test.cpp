// Object stores: a local folder; S3 against npm's s3rver on 127.0.0.1 (started here; its own
// files on disk are the independent view of what was uploaded; s3rver checks the access key id
// but not SigV4 signatures themselves, which s3_request_test compares with the AWS SDK's); Azure
// Blob against npm's azurite, with Microsoft's client (tests/tools/azure_blob.mjs) making the
// container and its SAS token and reading back what was uploaded.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "io/azure_store.h"
#include "io/local_store.h"
#include "io/s3_store.h"
#include "object_servers.h"
#include "test_paths.h"
#include "util/error.h"

namespace utt {
namespace {
namespace fs = std::filesystem;
using test::AzureServer;
using test::DroppingProxy;
using test::S3Server;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("utt_store_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const UserError& error) {
    return error.what();
  }
  return "<no error>";
}

// The same behaviour from every store.
void expect_store_round_trip(ObjectStore& store) {
  std::string binary(70000, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 131 % 251);
  store.put("run/checkpoint_step_10/model.safetensors", binary);
  store.put("run/checkpoint_step_10/trainer_state.json", "{\"step\": 10}");
  store.put("run/checkpoint_step_20/trainer_state.json", "{\"step\": 20}");
  store.put("other run/a+b&c.txt", "odd characters");
  const fs::path file = fs::temp_directory_path() / ("utt_store_file_" + std::to_string(::getpid()));
  std::ofstream(file, std::ios::binary) << "a file's bytes";
  store.put_file("run/checkpoint_step_20/tokenizer.json", file);
  fs::remove(file);
  EXPECT_EQ(store.get("run/checkpoint_step_20/tokenizer.json"), "a file's bytes");
  EXPECT_EQ(store.get("run/checkpoint_step_10/model.safetensors"), binary);
  EXPECT_EQ(store.get("other run/a+b&c.txt"), "odd characters");
  EXPECT_EQ(store.list("run/"), (std::vector<std::string>{"run/checkpoint_step_10/model.safetensors",
                                                         "run/checkpoint_step_10/trainer_state.json",
                                                         "run/checkpoint_step_20/tokenizer.json",
                                                         "run/checkpoint_step_20/trainer_state.json"}));
  EXPECT_EQ(store.list("run/checkpoint_step_2").size(), 2u);
  EXPECT_TRUE(store.list("nothing/").empty());
  store.put("run/checkpoint_step_20/trainer_state.json", "{\"step\": 20, \"replaced\": true}");
  EXPECT_EQ(store.get("run/checkpoint_step_20/trainer_state.json"), "{\"step\": 20, \"replaced\": true}");
  store.remove("run/checkpoint_step_10/trainer_state.json");
  store.remove("run/checkpoint_step_10/trainer_state.json");  // gone already: not an error
  EXPECT_EQ(store.list("run/checkpoint_step_10/").size(), 1u);
  EXPECT_NE(error_of([&] { store.get("run/checkpoint_step_10/trainer_state.json"); })
                .find("no object run/checkpoint_step_10/trainer_state.json in " + store.describe()),
            std::string::npos);
}

TEST(LocalStore, StoresListsReplacesAndRemovesObjects) {
  const fs::path dir = scratch("local");
  LocalStore store(dir / "store");
  expect_store_round_trip(store);
  EXPECT_EQ(read_all(dir / "store/other run/a+b&c.txt"), "odd characters");
  EXPECT_THROW(store.put("../outside", "x"), UserError);
  EXPECT_FALSE(fs::exists(dir / "outside"));
  fs::remove_all(dir);
}

TEST(S3Store, StoresListsReplacesAndRemovesObjectsInAnS3Server) {
  S3Server server;
  S3Store store(server.location(), S3Server::credentials());
  EXPECT_EQ(store.describe(), "s3://utt-test");
  expect_store_round_trip(store);
  // The server's own copy holds the bytes uploaded.
  EXPECT_EQ(read_all(server.object_file("other run/a+b&c.txt")), "odd characters");
  EXPECT_EQ(read_all(server.object_file("run/checkpoint_step_10/model.safetensors")).size(), 70000u);
}

TEST(S3Store, ALargeFileGoesUpInPartsAndComesBackWhole) {
  S3Server server;
  S3Location location = server.location();
  location.part_bytes = 5 << 20;  // S3's smallest part
  const fs::path file = fs::temp_directory_path() / ("utt_store_large_" + std::to_string(::getpid()));
  std::string bytes((12 << 20) + 123, '\0');  // three parts, the last one short
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::ofstream(file, std::ios::binary) << bytes;
  S3Store store(location, S3Server::credentials());
  store.put_file("big/model.safetensors", file);
  fs::remove(file);
  EXPECT_EQ(read_all(server.object_file("big/model.safetensors")), bytes);
  EXPECT_EQ(store.get("big/model.safetensors"), bytes);
  EXPECT_EQ(store.list("big/"), (std::vector<std::string>{"big/model.safetensors"}));
}

TEST(S3Store, ListsPastOnePageOfAThousandKeys) {
  S3Server server;
  S3Store store(server.location(), S3Server::credentials());
  for (int i = 0; i < 1003; ++i) store.put("many/" + std::to_string(10000 + i), "x");
  const std::vector<std::string> keys = store.list("many/");
  ASSERT_EQ(keys.size(), 1003u);
  EXPECT_EQ(keys.front(), "many/10000");
  EXPECT_EQ(keys.back(), "many/11002");
}

TEST(S3Store, WrongCredentialsAndAMissingBucketAreOneClearMessageWithoutSecrets) {
  S3Server server;
  S3Store wrong(server.location(), {"NOTAKEY", "TOPSECRETVALUE", ""});
  const std::string refused = error_of([&] { wrong.put("a", "b"); });
  EXPECT_NE(refused.find("s3://utt-test refused the credentials (InvalidAccessKeyId, HTTP 403) while trying to upload a: "
                         "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            std::string::npos) << refused;
  EXPECT_EQ(refused.find("TOPSECRETVALUE"), std::string::npos);
  EXPECT_EQ(refused.find('\n'), std::string::npos);
  S3Store missing(server.location("no-such-bucket"), S3Server::credentials());
  const std::string no_bucket = error_of([&] { missing.list(""); });
  EXPECT_NE(no_bucket.find("the bucket 'no-such-bucket' does not exist at http://127.0.0.1:"), std::string::npos)
      << no_bucket;
  EXPECT_NE(error_of([&] { missing.put("a", "b"); }).find("does not exist"), std::string::npos);
}

TEST(S3Store, AnUploadWhoseConnectionDropsIsRetriedAndNeverHalfVisible) {
  S3Server server;
  const int s3_port = std::stoi(server.location().endpoint->substr(server.location().endpoint->rfind(':') + 1));
  std::string object(300000, '\0');
  for (size_t i = 0; i < object.size(); ++i) object[i] = static_cast<char>(i * 7 % 256);
  {
    DroppingProxy proxy(s3_port, 2, 100000);
    S3Location through = server.location();
    through.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
    S3Store(through, S3Server::credentials()).put("dropped/twice", object);
    EXPECT_EQ(proxy.dropped(), 2);
  }
  EXPECT_EQ(read_all(server.object_file("dropped/twice")), object);
  {
    DroppingProxy proxy(s3_port, 4, 100000);  // every try
    S3Location through = server.location();
    through.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
    const std::string message = error_of([&] { S3Store(through, S3Server::credentials()).put("dropped/always", object); });
    EXPECT_NE(message.find("failed: "), std::string::npos) << message;
    EXPECT_NE(message.find("(4 tries)"), std::string::npos) << message;
    EXPECT_EQ(proxy.dropped(), 4);
  }
  S3Store store(server.location(), S3Server::credentials());
  EXPECT_EQ(store.list("dropped/"), (std::vector<std::string>{"dropped/twice"}));
  EXPECT_FALSE(fs::exists(server.object_file("dropped/always")));
}

TEST(S3Store, AnUnreachableEndpointIsReportedAfterRetries) {
  S3Location nowhere{"utt-test", "us-east-1", "http://127.0.0.1:1"};
  const std::string message = error_of([&] { S3Store(nowhere, {"a", "b", ""}).get("x"); });
  EXPECT_NE(message.find("the connection to http://127.0.0.1:1 for s3://utt-test failed: "), std::string::npos) << message;
  EXPECT_NE(message.find("(4 tries)"), std::string::npos) << message;
}

// One azurite for both (it takes seconds to start): the store's behaviour, and a large file.
TEST(AzureStore, StoresListsReplacesAndRemovesBlobsAndSendsALargeFileInBlocks) {
  AzureServer server;
  AzureStore store(server.location());
  EXPECT_EQ(store.describe(), "az://devstoreaccount1/utt-test");
  expect_store_round_trip(store);
  EXPECT_EQ(server.read_back("other run/a+b&c.txt"), "odd characters");

  AzureLocation location = server.location();
  location.block_bytes = 1 << 20;
  const fs::path file = fs::temp_directory_path() / ("utt_store_blocks_" + std::to_string(::getpid()));
  std::string bytes((5 << 19) + 77, '\0');  // two whole blocks and a short one
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 11);
  std::ofstream(file, std::ios::binary) << bytes;
  AzureStore blocks(location);
  blocks.put_file("big/model.safetensors", file);
  fs::remove(file);
  EXPECT_EQ(server.read_back("big/model.safetensors"), bytes);  // Microsoft's client reads it back
  EXPECT_EQ(blocks.get("big/model.safetensors"), bytes);
}

TEST(AzureStore, AReadOnlyTokenAndAMissingContainerAreOneClearMessageWithoutTheToken) {
  AzureServer server;
  AzureLocation read_only = server.location();
  read_only.sas_token = server.client("sas utt-test r");
  ASSERT_FALSE(read_only.sas_token.empty());
  const std::string refused = error_of([&] { AzureStore(read_only).put("a", "b"); });
  EXPECT_NE(refused.find("az://devstoreaccount1/utt-test refused the SAS token ("), std::string::npos) << refused;
  EXPECT_NE(refused.find("while trying to upload a: check --azure-sas-token"), std::string::npos) << refused;
  const std::string signature = read_only.sas_token.substr(read_only.sas_token.find("sig=") + 4);
  EXPECT_EQ(refused.find(signature), std::string::npos) << "the message shows the token";
  AzureLocation missing = server.location("no-such-container");
  missing.sas_token = server.client("sas no-such-container rwdl");
  const std::string no_container = error_of([&] { AzureStore(missing).list(""); });
  EXPECT_NE(no_container.find("the container 'no-such-container' does not exist in the account devstoreaccount1"),
            std::string::npos) << no_container;
}

}  // namespace
}  // namespace utt
