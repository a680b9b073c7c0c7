// Checkpoints in the cloud, through build/utt, against real servers on 127.0.0.1 started here
// from tests/tools' npm packages: s3rver (S3, and GCS's XML API with HMAC keys: no GCS emulator
// is packaged, and HMAC keys sign as SigV4 does) and azurite (Azure Blob). What was uploaded is
// read back independently: s3rver's own files on disk, checked with coreutils' sha256sum, and
// Microsoft's client (tests/tools/azure_blob.mjs) for azurite.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"
#include "object_servers.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// s3rver's account as the AWS variables (and nothing else that could point elsewhere).
void use_s3rver_credentials(const std::string& key = "S3RVER", const std::string& secret = "S3RVER") {
  ::setenv("AWS_ACCESS_KEY_ID", key.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", secret.c_str(), 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  for (const char* name : {"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SHARED_CREDENTIALS_FILE"}) {
    ::unsetenv(name);
  }
}

int port_of(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::vector<std::string> to_s3(const std::string& endpoint, const std::string& prefix) {
  return {"--cloud-provider", "s3", "--cloud-bucket", "utt-test", "--cloud-prefix", prefix, "--cloud-endpoint", endpoint};
}

// The checkpoint folders under PREFIX in s3rver's own storage: name -> file names.
std::map<std::string, std::set<std::string>> stored_checkpoints(const S3Server& server, const std::string& prefix) {
  std::map<std::string, std::set<std::string>> found;
  const fs::path root = server.bucket_dir() / prefix;
  std::error_code error;
  for (const auto& folder : fs::directory_iterator(root, error)) {
    if (!folder.is_directory()) continue;
    auto& files = found[folder.path().filename().string()];
    for (const auto& file : fs::directory_iterator(folder.path())) {
      const std::string name = file.path().filename().string();
      const std::string suffix = "._S3rver_object";
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        files.insert(name.substr(0, name.size() - suffix.size()));
      }
    }
  }
  return found;
}

std::string sha256sum(const fs::path& path) {
  const std::string out = command_output("sha256sum '" + path.string() + "'");
  return out.substr(0, out.find(' '));
}

// Every checkpoint s3rver holds under PREFIX with a manifest is whole: each file it lists is
// there with its size and SHA-256. Returns the names of those checkpoints.
std::set<std::string> expect_complete_checkpoints(const S3Server& server, const std::string& prefix) {
  std::set<std::string> complete;
  for (const auto& [name, files] : stored_checkpoints(server, prefix)) {
    if (!files.count("utt_manifest.json")) continue;
    complete.insert(name);
    const nlohmann::json manifest = nlohmann::json::parse(read(server.object_file(prefix + "/" + name + "/utt_manifest.json")));
    EXPECT_EQ(manifest["checkpoint"], name);
    for (const nlohmann::json& file : manifest["files"]) {
      const fs::path stored = server.object_file(prefix + "/" + name + "/" + file["name"].get<std::string>());
      EXPECT_TRUE(fs::exists(stored)) << name << "/" << file["name"];
      if (!fs::exists(stored)) continue;
      EXPECT_EQ(fs::file_size(stored), file["size"].get<uint64_t>()) << name << "/" << file["name"];
      EXPECT_EQ(sha256sum(stored), file["sha256"].get<std::string>()) << name << "/" << file["name"];
    }
  }
  return complete;
}

void expect_same_final_weights(const fs::path& a, const fs::path& b) {
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    EXPECT_TRUE(read(a / "final_checkpoint" / file) == read(b / "final_checkpoint" / file))
        << file << " differs between " << a << " and " << b;
  }
}

TEST(Cloud, ARunUploadsEveryCheckpointKeepsTheLastThereAndAResumeFromTheBucketIsBitExact) {
  S3Server server;
  use_s3rver_credentials();
  const std::string endpoint = *server.location().endpoint;
  const std::string dir = scratch_dir("cloud-s3");
  const RunResult r = run_utt(with(tiny_run(dir + "/full", 20), with(to_s3(endpoint, "runs/a"),
                                                                     {"--save-every", "5", "--keep-last", "2"})),
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Cloud: checkpoints are uploaded to s3://utt-test/runs/a as they are saved (the newest 2 step "
                       "checkpoints kept there)"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cloud: uploaded "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("removed there by --keep-last: checkpoint_step_5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nCloud: s3://utt-test/runs/a/ (checkpoint_step_10/, "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("S3RVER"), std::string::npos) << "a credential in the output";
  EXPECT_EQ(r.err.find("S3RVER"), std::string::npos) << "a credential in the output";

  // What s3rver holds: the newest two step checkpoints, final and best, each whole and equal to
  // the local copy; the older step checkpoints are gone.
  EXPECT_EQ(expect_complete_checkpoints(server, "runs/a"),
            (std::set<std::string>{"best_checkpoint", "checkpoint_step_10", "checkpoint_step_15", "final_checkpoint"}));
  EXPECT_EQ(stored_checkpoints(server, "runs/a").count("checkpoint_step_5"), 0u);
  for (const char* file : {"model.safetensors", "optimizer.safetensors", "trainer_state.json", "tokenizer.json"}) {
    EXPECT_TRUE(read(server.object_file(std::string("runs/a/final_checkpoint/") + file)) ==
                read(fs::path(dir) / "full/final_checkpoint" / file))
        << file;
  }
  const nlohmann::json summary = nlohmann::json::parse(read(fs::path(dir) / "full/training_summary.json"));
  EXPECT_EQ(summary["cloud"]["location"], "s3://utt-test/runs/a");
  EXPECT_EQ(summary["cloud"]["failed"].size(), 0u);
  EXPECT_EQ(summary.dump().find("S3RVER"), std::string::npos);

  // A new machine: an empty output directory, the checkpoint from the bucket.
  const RunResult resumed = run_utt(
      with(tiny_run(dir + "/resumed", 20),
           {"--save-every", "5", "--resume-from", "s3://utt-test/runs/a/checkpoint_step_10", "--cloud-endpoint", endpoint}),
      dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_NE(resumed.out.find("Downloaded s3://utt-test/runs/a/checkpoint_step_10 ("), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("checksums verified"), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("Step      5 "), std::string::npos) << "the resumed run repeated steps";
  expect_same_final_weights(fs::path(dir) / "full", fs::path(dir) / "resumed");
  // The downloaded copy is gone.
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".cloud-resume-"), std::string::npos) << entry.path();
  }
}

TEST(Cloud, CtrlCWaitsForTheUploadsAndTheRunContinuesFromTheBucketsLatest) {
  S3Server server;
  use_s3rver_credentials();
  const std::string dir = scratch_dir("cloud-ctrl-c");
  const std::vector<std::string> run = tiny_run(dir + "/stopped", 100);
  // A slow network: each request waits 100 ms, so uploads are still running when Ctrl-C comes.
  DroppingProxy slow(port_of(*server.location().endpoint), 0, 0, 100ms);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(slow.port());
  BackgroundRun background(with(run, with(to_s3(endpoint, "runs/c"), {"--save-every", "10"})), dir);
  const fs::path out = fs::path(dir) / ".background-0.out";
  for (int i = 0; i < 600 && read(out).find("Step     20 ") == std::string::npos; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_NE(read(out).find("Step     20 "), std::string::npos) << read(out);
  const RunResult r = background.stop(SIGINT);
  ASSERT_EQ(r.exit_code, 130) << r.err << r.out;
  EXPECT_NE(r.out.find("Stopped by SIGINT after step "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cloud: waiting for the upload of "), std::string::npos) << r.out;
  const size_t stopped_at = r.out.find("Stopped by SIGINT after step ");
  const int64_t step = std::stoll(r.out.substr(stopped_at + 29));
  const std::string last = "checkpoint_step_" + std::to_string(step);
  EXPECT_NE(r.out.find("Cloud: uploaded "), std::string::npos) << r.out;
  EXPECT_TRUE(expect_complete_checkpoints(server, "runs/c").count(last)) << last << " was not uploaded";

  // Continued from s3://.../latest on another machine (uploading on to the same prefix), it ends
  // as the uninterrupted run does.
  const RunResult full = run_utt(tiny_run(dir + "/full", 100), dir);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const RunResult resumed = run_utt(
      with(tiny_run(dir + "/resumed", 100),
           with(to_s3(*server.location().endpoint, "runs/c"), {"--save-every", "10", "--resume-from", "s3://utt-test/runs/c/latest"})),
      dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_NE(resumed.out.find("Downloaded s3://utt-test/runs/c/" + last + " ("), std::string::npos) << resumed.out;
  expect_same_final_weights(fs::path(dir) / "full", fs::path(dir) / "resumed");
  EXPECT_TRUE(expect_complete_checkpoints(server, "runs/c").count("final_checkpoint"));
}

TEST(Cloud, ASecondCtrlCAbandonsTheUploadSaysSoAndLeavesNothingHalfVisible) {
  S3Server server;
  use_s3rver_credentials();
  const std::string dir = scratch_dir("cloud-abandon");
  // Very slow: 400 ms a request, the end of the run waits for the uploads.
  DroppingProxy slow(port_of(*server.location().endpoint), 0, 0, 400ms);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(slow.port());
  BackgroundRun background(with(tiny_run(dir + "/run", 20), with(to_s3(endpoint, "runs/d"), {"--save-every", "5"})), dir);
  const fs::path out = fs::path(dir) / ".background-0.out";
  for (int i = 0; i < 1200 && read(out).find("Cloud: waiting for the upload of ") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(read(out).find("Cloud: waiting for the upload of "), std::string::npos) << read(out);
  ::kill(background.pid(), SIGINT);  // the first: the run keeps waiting
  for (int i = 0; i < 200 && read(out).find("Ctrl-C again abandons it") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(read(out).find("Cloud: still uploading "), std::string::npos) << read(out);
  const RunResult r = background.stop(SIGINT);  // the second
  EXPECT_EQ(r.exit_code, 130) << r.err << r.out;
  EXPECT_NE(r.err.find("upload to s3://utt-test/runs/d abandoned (second Ctrl-C): checkpoints not uploaded completely "
                       "have no manifest there and are not visible; the local checkpoints are complete"),
            std::string::npos) << r.err;
  // Whatever has a manifest is whole; the local final checkpoint is complete.
  expect_complete_checkpoints(server, "runs/d");
  EXPECT_TRUE(fs::exists(fs::path(dir) / "run/final_checkpoint/model.safetensors"));
}

TEST(Cloud, WrongCredentialsOrAMissingBucketStopTheRunBeforeItWritesAnything) {
  S3Server server;
  const std::string endpoint = *server.location().endpoint;
  const std::string dir = scratch_dir("cloud-refused");
  use_s3rver_credentials("NOTAKEY", "TOPSECRETVALUE");
  RunResult r = run_utt(with(tiny_run(dir + "/out", 10), to_s3(endpoint, "runs/e")), dir);
  EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
  EXPECT_NE(r.err.find("utt: error: s3://utt-test refused the credentials (InvalidAccessKeyId, HTTP 403)"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ((r.out + r.err).find("TOPSECRETVALUE"), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "out"));

  // A run with local checkpoints resuming: refused alike, its checkpoint untouched.
  use_s3rver_credentials();
  ASSERT_EQ(run_utt(tiny_run(dir + "/local", 10), dir).exit_code, 0);
  const std::string before = read(fs::path(dir) / "local/final_checkpoint/model.safetensors");
  const std::string metrics_before = read(fs::path(dir) / "local/metrics.jsonl");
  use_s3rver_credentials("NOTAKEY", "TOPSECRETVALUE");
  r = run_utt(with(tiny_run(dir + "/local", 20), with(to_s3(endpoint, "runs/e"), {"--resume-from", "latest"})), dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(read(fs::path(dir) / "local/final_checkpoint/model.safetensors"), before);
  EXPECT_EQ(read(fs::path(dir) / "local/metrics.jsonl"), metrics_before);

  use_s3rver_credentials();
  r = run_utt(with(tiny_run(dir + "/out", 10),
                   {"--cloud-provider", "s3", "--cloud-bucket", "no-such-bucket", "--cloud-endpoint", endpoint}),
              dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("utt: error: the bucket 'no-such-bucket' does not exist at http://127.0.0.1:"), std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(dir) / "out"));

  // A resume from a checkpoint that is not there names what is.
  r = run_utt(with(tiny_run(dir + "/out", 10), {"--resume-from", "s3://utt-test/runs/none/latest", "--cloud-endpoint", endpoint}),
              dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no complete checkpoint to resume from in s3://utt-test/runs/none/"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(dir) / "out"));
}

TEST(Cloud, UploadsWhoseConnectionsDropAreRetried) {
  S3Server server;
  use_s3rver_credentials();
  const std::string dir = scratch_dir("cloud-drop");
  // The access check's first request and the two after it are cut after 100 bytes.
  DroppingProxy proxy(port_of(*server.location().endpoint), 3, 100);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
  const RunResult r = run_utt(with(tiny_run(dir + "/out", 10), to_s3(endpoint, "runs/f")), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(proxy.dropped(), 3);
  EXPECT_EQ(expect_complete_checkpoints(server, "runs/f"),
            (std::set<std::string>{"best_checkpoint", "final_checkpoint"}));
}

TEST(Cloud, GcsWithHmacKeysThroughTheS3Emulator) {
  S3Server server;
  const std::string dir = scratch_dir("cloud-gcs");
  ::setenv("GOOGLE_ACCESS_KEY_ID", "S3RVER", 1);
  ::setenv("GOOGLE_SECRET_ACCESS_KEY", "S3RVER", 1);
  ::unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
  const RunResult r = run_utt(with(tiny_run(dir + "/out", 10),
                                   {"--cloud-provider", "gcs", "--cloud-bucket", "utt-test", "--cloud-prefix", "gcs/run",
                                    "--cloud-endpoint", *server.location().endpoint}),
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Cloud: gs://utt-test/gcs/run/ ("), std::string::npos) << r.out;
  EXPECT_TRUE(expect_complete_checkpoints(server, "gcs/run").count("final_checkpoint"));
  ::setenv("GOOGLE_SECRET_ACCESS_KEY", "S3RVER", 1);
  ::setenv("GOOGLE_ACCESS_KEY_ID", "WRONG", 1);
  const RunResult refused = run_utt(with(tiny_run(dir + "/refused", 10),
                                         {"--cloud-provider", "gcs", "--cloud-bucket", "utt-test", "--cloud-endpoint",
                                          *server.location().endpoint}),
                                    dir);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("gs://utt-test refused the credentials"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("check GOOGLE_ACCESS_KEY_ID and GOOGLE_SECRET_ACCESS_KEY"), std::string::npos) << refused.err;
}

TEST(Cloud, AzureWithASasTokenThenAResumeWithAConnectionStringsAccountKey) {
  AzureServer server;
  const std::string dir = scratch_dir("cloud-azure");
  for (const char* name : {"AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY",
                           "AZURE_STORAGE_CONNECTION_STRING"}) {
    ::unsetenv(name);
  }
  const std::string sas = server.sas();
  const RunResult r = run_utt(with(tiny_run(dir + "/full", 20),
                                   {"--save-every", "5", "--keep-last", "1", "--cloud-provider", "azure", "--cloud-bucket",
                                    "utt-test", "--cloud-prefix", "az/run", "--azure-account-name", "devstoreaccount1",
                                    "--azure-sas-token", sas, "--cloud-endpoint", server.endpoint()}),
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string signature = sas.substr(sas.find("sig=") + 4);
  EXPECT_EQ((r.out + r.err).find(signature), std::string::npos) << "the SAS token in the output";
  EXPECT_EQ(read(fs::path(dir) / "full/training_summary.json").find(signature), std::string::npos);
  // Microsoft's client lists what is there: the newest step checkpoint, final and best.
  const std::string listed = server.client("list utt-test az/run/");
  for (const char* name : {"az/run/checkpoint_step_15/utt_manifest.json", "az/run/final_checkpoint/utt_manifest.json",
                           "az/run/best_checkpoint/utt_manifest.json", "az/run/final_checkpoint/model.safetensors"}) {
    EXPECT_NE(listed.find(std::string(name) + "\n"), std::string::npos) << name << " missing in\n" << listed;
  }
  EXPECT_EQ(listed.find("az/run/checkpoint_step_10/"), std::string::npos) << listed;
  EXPECT_EQ(server.read_back("az/run/final_checkpoint/model.safetensors"),
            read(fs::path(dir) / "full/final_checkpoint/model.safetensors"));

  // Resumed with the account key of a connection string (Shared Key signing) from step 15.
  ::setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string().c_str(), 1);
  const RunResult resumed = run_utt(with(tiny_run(dir + "/resumed", 20),
                                         {"--save-every", "5", "--resume-from",
                                          "az://devstoreaccount1/utt-test/az/run/checkpoint_step_15"}),
                                    dir);
  ::unsetenv("AZURE_STORAGE_CONNECTION_STRING");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_NE(resumed.out.find("Downloaded az://devstoreaccount1/utt-test/az/run/checkpoint_step_15 ("), std::string::npos)
      << resumed.out;
  expect_same_final_weights(fs::path(dir) / "full", fs::path(dir) / "resumed");

  // A wrong account key: one message, without the key.
  ::setenv("AZURE_STORAGE_KEY", "d3JvbmcgYWNjb3VudCBrZXk=", 1);
  const RunResult refused = run_utt(with(tiny_run(dir + "/refused", 10),
                                         {"--cloud-provider", "azure", "--cloud-bucket", "utt-test", "--azure-account-name",
                                          "devstoreaccount1", "--cloud-endpoint", server.endpoint()}),
                                    dir);
  ::unsetenv("AZURE_STORAGE_KEY");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("az://devstoreaccount1/utt-test refused the account key"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("d3JvbmcgYWNjb3VudCBrZXk="), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "refused"));
}

}  // namespace
}  // namespace utt::test
