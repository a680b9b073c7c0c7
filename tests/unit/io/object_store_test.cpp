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
#include "test_paths.h"
#include "util/error.h"

extern char** environ;

namespace utt {
namespace {
namespace fs = std::filesystem;

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

// A port on 127.0.0.1 that nothing listens on now (the kernel's pick), for a server to take.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t size = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// npm's s3rver on a free port of 127.0.0.1, with the bucket utt-test; stopped at the end.
class S3Server {
 public:
  S3Server() : dir_(scratch("s3rver")) {
    port_ = free_port();
    const std::string script = test::source_dir() + "/tests/tools/node_modules/s3rver/bin/s3rver.js";
    if (!fs::exists(script)) throw std::runtime_error("missing " + script + ": run scripts/setup --tests");
    const std::string port = std::to_string(port_);
    const std::string data = (dir_ / "data").string();
    fs::create_directories(data);
    // s3rver's continuation tokens are DES-encrypted, which Node's OpenSSL 3 offers only from
    // its legacy provider.
    std::vector<std::string> args = {"node", "--openssl-legacy-provider", script, "-d", data, "-a", "127.0.0.1", "-p", port, "--silent",
                                     "--configure-bucket", "utt-test"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "node", nullptr, nullptr, argv.data(), environ) != 0) throw std::runtime_error("no node");
    // Ready when the bucket answers (node's start takes a second or two on a loaded machine).
    for (int i = 0; i < 300; ++i) {
      try {
        S3Store(location(), credentials()).list("");
        return;
      } catch (const UserError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    ::kill(pid_, SIGTERM);  // the destructor does not run after a throwing constructor
    ::waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
    throw std::runtime_error("s3rver did not start on port " + port);
  }
  ~S3Server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  S3Location location(const std::string& bucket = "utt-test") const {
    return {bucket, "us-east-1", "http://127.0.0.1:" + std::to_string(port_)};
  }
  static AwsCredentials credentials() { return {"S3RVER", "S3RVER", ""}; }  // s3rver's account
  // Where s3rver keeps an object's bytes.
  fs::path object_file(const std::string& key) const { return dir_ / "data/utt-test" / (key + "._S3rver_object"); }

 private:
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

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

// A TCP proxy on 127.0.0.1 to `target_port` that cuts the first `drops` connections after
// `after_bytes` bytes of the request: an upload whose connection drops mid-way.
class DroppingProxy {
 public:
  DroppingProxy(int target_port, int drops, size_t after_bytes)
      : target_port_(target_port), drops_left_(drops), after_bytes_(after_bytes) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t size = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    ::listen(listener_, 8);
    thread_ = std::thread([this] { serve(); });
  }
  ~DroppingProxy() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  int port() const { return port_; }
  int dropped() const { return dropped_; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    return address;
  }
  void serve() {
    while (!stop_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) continue;
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      if (drops_left_ > 0) {
        --drops_left_;
        size_t received = 0;
        char buffer[16384];
        while (received < after_bytes_) {
          const ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
          if (n <= 0) break;
          received += static_cast<size_t>(n);
        }
        ++dropped_;
        ::close(client);
        continue;
      }
      forward(client);
    }
  }
  // Copies bytes both ways until either side closes.
  void forward(int client) {
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(target_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(server);
      ::close(client);
      return;
    }
    pollfd ends[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buffer[16384];
    for (bool open = true; open && !stop_;) {
      if (::poll(ends, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(ends[i].revents & (POLLIN | POLLHUP))) continue;
        const ssize_t n = ::recv(ends[i].fd, buffer, sizeof(buffer), 0);
        open = n > 0 && ::send(ends[1 - i].fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) == n;
      }
    }
    ::close(server);
    ::close(client);
  }

  int target_port_;
  int drops_left_;
  size_t after_bytes_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> dropped_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

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

// Output of a command, "" when it fails.
std::string command_output(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  return ::pclose(pipe) == 0 ? out : "";
}

std::string from_base64(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const size_t value = kAlphabet.find(c);
    if (value == std::string::npos) continue;  // padding
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

// npm's azurite (Blob service only) on a free port of 127.0.0.1, with the container utt-test
// and a SAS token for it made by Microsoft's client; stopped at the end.
class AzureServer {
 public:
  AzureServer() : dir_(scratch("azurite")) {
    port_ = free_port();
    const std::string main = test::source_dir() + "/tests/tools/node_modules/azurite/dist/src/blob/main.js";
    if (!fs::exists(main)) throw std::runtime_error("missing " + main + ": run scripts/setup --tests");
    const std::string port = std::to_string(port_);
    const std::string data = dir_.string();
    // --disableTelemetry: otherwise azurite tries to reach a telemetry host. --skipApiVersionCheck:
    // Microsoft's client speaks a newer service version than this azurite knows.
    std::vector<std::string> args = {"node", main, "--blobHost", "127.0.0.1", "--blobPort", port, "--location", data,
                                     "--silent", "--disableTelemetry", "--skipApiVersionCheck"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "node", nullptr, nullptr, argv.data(), environ) != 0) throw std::runtime_error("no node");
    for (int i = 0; i < 30 && sas_.empty(); ++i) {
      sas_ = client("create utt-test");
      if (sas_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (sas_.empty()) {
      stop();  // the destructor does not run after a throwing constructor
      throw std::runtime_error("azurite did not start on port " + port + ", or azure_blob.mjs failed");
    }
  }
  ~AzureServer() { stop(); }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    fs::remove_all(dir_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/devstoreaccount1"; }
  AzureLocation location(const std::string& container = "utt-test") const {
    return {"devstoreaccount1", container, sas_, endpoint()};
  }
  // tests/tools/azure_blob.mjs COMMAND ENDPOINT ARGS...
  std::string client(const std::string& command_and_args) const {
    const std::string command = command_and_args.substr(0, command_and_args.find(' '));
    const std::string rest = command_and_args.substr(command.size());
    return command_output("node " + test::source_dir() + "/tests/tools/azure_blob.mjs " + command + " " + endpoint() +
                          rest + " 2>/dev/null");
  }
  std::string read_back(const std::string& blob) const { return from_base64(client("read utt-test '" + blob + "'")); }

 private:
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string sas_;
};

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
