// Object-store servers for the tests, on 127.0.0.1, started from tests/tools' npm packages:
// s3rver (S3), azurite (Azure Blob, with Microsoft's client in tests/tools/azure_blob.mjs), and
// a TCP proxy that cuts connections (a network that drops an upload).
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "io/azure_store.h"
#include "io/s3_store.h"
#include "test_paths.h"
#include "util/error.h"

extern char** environ;

namespace utt::test {

// A fresh folder for a server's data.
inline std::filesystem::path server_scratch(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("utt_server_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A port on 127.0.0.1 that nothing listens on now (the kernel's pick), for a server to take.
inline int free_port() {
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
  S3Server() : dir_(server_scratch("s3rver")) {
    port_ = free_port();
    const std::string script = test::source_dir() + "/tests/tools/node_modules/s3rver/bin/s3rver.js";
    if (!std::filesystem::exists(script)) throw std::runtime_error("missing " + script + ": run scripts/setup --tests");
    const std::string port = std::to_string(port_);
    const std::string data = (dir_ / "data").string();
    std::filesystem::create_directories(data);
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
    std::filesystem::remove_all(dir_);
    throw std::runtime_error("s3rver did not start on port " + port);
  }
  ~S3Server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  S3Location location(const std::string& bucket = "utt-test") const {
    return {bucket, "us-east-1", "http://127.0.0.1:" + std::to_string(port_)};
  }
  static AwsCredentials credentials() { return {"S3RVER", "S3RVER", ""}; }  // s3rver's account
  // Where s3rver keeps an object's bytes.
  std::filesystem::path object_file(const std::string& key) const { return bucket_dir() / (key + "._S3rver_object"); }
  // The folder of the bucket utt-test in s3rver's storage: a key's '/' are folders there.
  std::filesystem::path bucket_dir() const { return dir_ / "data/utt-test"; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A TCP proxy on 127.0.0.1 to `target_port` that cuts the first `drops` connections after
// `after_bytes` bytes of the request: an upload whose connection drops mid-way. Connections are
// served one at a time.
class DroppingProxy {
 public:
  // `delay`: every connection passed on waits this long first (a slow network).
  DroppingProxy(int target_port, int drops, size_t after_bytes,
                std::chrono::milliseconds delay = std::chrono::milliseconds(0))
      : target_port_(target_port), drops_left_(drops), after_bytes_(after_bytes), delay_(delay) {
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
      std::this_thread::sleep_for(delay_);
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
  std::chrono::milliseconds delay_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> dropped_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Output of a command, "" when it fails.
inline std::string command_output(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  return ::pclose(pipe) == 0 ? out : "";
}

inline std::string from_base64(const std::string& text) {
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
  AzureServer() : dir_(server_scratch("azurite")) {
    port_ = free_port();
    const std::string main = test::source_dir() + "/tests/tools/node_modules/azurite/dist/src/blob/main.js";
    if (!std::filesystem::exists(main)) throw std::runtime_error("missing " + main + ": run scripts/setup --tests");
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
    std::filesystem::remove_all(dir_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/devstoreaccount1"; }
  // azurite's documented development account key (Shared Key).
  static std::string account_key() {
    return "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
  }
  std::string connection_string() const {
    return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + account_key() +
           ";BlobEndpoint=" + endpoint() + ";";
  }
  const std::string& sas() const { return sas_; }
  AzureLocation location(const std::string& container = "utt-test") const {
    return {"devstoreaccount1", container, sas_, "", endpoint()};
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
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string sas_;
};

}  // namespace utt::test
