// bench/gradient_sum: the ranks' sum of the gradients on the CPU, run as ranks by mpirun:
//
//   mpirun -np 2 --bind-to none build/bench/gradient_sum [--preset nano] [--batch 8] [--seq 256]
//                [--vocab 4096] [--steps 10] [--threads 1]
//
// Prints, on rank 0: the all-reduce's time and bandwidth for buffers of 1 to 64 MiB (algorithm
// bandwidth = bytes / time; bus bandwidth = that x 2 (ranks - 1) / ranks, what each rank's link
// carries), then for a preset's training step: forward + backward alone, with the gradients
// summed after the backward pass, and with them summed in buckets during it (several bucket
// sizes); and the share of the sum hidden behind the backward pass,
// (after - overlapped) / (after - alone).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "config/presets.h"
#include "dist/communicator.h"
#include "dist/gradient_buckets.h"
#include "model/transformer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The slowest rank's time: what a step waits for.
double slowest(utt::Communicator& ranks, double seconds) {
  double all[1] = {seconds};
  std::vector<double> gathered(static_cast<size_t>(ranks.world_size()));
  MPI_Allgather(all, 1, MPI_DOUBLE, gathered.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD);
  return *std::max_element(gathered.begin(), gathered.end());
}

void all_reduce_bandwidth(utt::Communicator& ranks) {
  const int world = ranks.world_size();
  if (ranks.rank() == 0) {
    std::printf("all-reduce of float32, %d ranks\n%10s %12s %14s %14s\n", world, "MiB", "ms", "algbw GB/s",
                "busbw GB/s");
  }
  for (size_t mib : {1, 4, 16, 64}) {
    std::vector<float> buffer(mib * 262144, 1.0f);
    ranks.all_reduce_sum(buffer.data(), buffer.size());  // warm-up
    const int repeats = 5;
    ranks.barrier();
    const auto start = Clock::now();
    for (int i = 0; i < repeats; ++i) ranks.all_reduce_sum(buffer.data(), buffer.size());
    const double seconds = slowest(ranks, seconds_since(start)) / repeats;
    const double bytes = static_cast<double>(buffer.size() * sizeof(float));
    if (ranks.rank() == 0) {
      std::printf("%10zu %12.2f %14.2f %14.2f\n", mib, 1e3 * seconds, bytes / seconds / 1e9,
                  bytes / seconds / 1e9 * 2.0 * (world - 1) / world);
    }
  }
}

enum class Sum { kNone, kAfter, kOverlapped };

double step_seconds(utt::Communicator& ranks, utt::Transformer& model, const std::vector<int32_t>& tokens,
                    int64_t batch, int steps, Sum sum, size_t bucket_floats) {
  const auto count = static_cast<size_t>(model.trainable_count());
  double total = 0;
  for (int s = 0; s <= steps; ++s) {  // step 0 warms up
    model.zero_gradients();
    ranks.barrier();
    const auto start = Clock::now();
    model.forward(tokens.data(), batch, {.training = true, .step = s});
    if (sum == Sum::kOverlapped) {
      utt::GradientBuckets buckets(ranks, model.trainable_gradients(), count, bucket_floats);
      model.backward([&buckets](int64_t offset) { buckets.final_from(offset); });
      buckets.finish();
    } else {
      model.backward();
      if (sum == Sum::kAfter) ranks.all_reduce_sum(model.trainable_gradients(), count);
    }
    const double seconds = slowest(ranks, seconds_since(start));
    if (s > 0) total += seconds;
  }
  return total / steps;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "nano";
  int64_t batch = 8, seq = 256, vocab = 4096;
  int steps = 10, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--preset") preset = value;
    else if (flag == "--batch") batch = std::atoll(value);
    else if (flag == "--seq") seq = std::atoll(value);
    else if (flag == "--vocab") vocab = std::atoll(value);
    else if (flag == "--steps") steps = std::atoi(value);
    else if (flag == "--threads") threads = std::atoi(value);
    else {
      std::fprintf(stderr, "gradient_sum: unknown flag %s (use --preset, --batch, --seq, --vocab, --steps, --threads)\n",
                   flag.c_str());
      return 2;
    }
  }
  const std::unique_ptr<utt::Communicator> ranks = utt::make_mpi_communicator();
  const bool leader = ranks->rank() == 0;
  all_reduce_bandwidth(*ranks);

  utt::ModelConfig config;
  const utt::ModelPreset& p = utt::find_preset(preset);
  config.d_model = p.d_model;
  config.num_layers = p.num_layers;
  config.num_heads = p.num_heads;
  config.num_kv_heads = p.num_heads;
  config.d_ff = p.d_ff;
  config.vocab_size = vocab;
  config.seq_len = seq;
  config.dropout_rate = 0;
  auto backend = utt::make_cpu_backend({.reference_mode = false, .threads = threads});
  utt::Transformer model(config, *backend, batch);
  model.initialize(1);
  std::mt19937 rng(static_cast<uint32_t>(2 + ranks->rank()));
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(batch * (seq + 1)));
  for (int32_t& t : tokens) t = token(rng);

  const double gradient_mib = static_cast<double>(model.trainable_count()) * 4 / 1048576;
  const double alone = step_seconds(*ranks, model, tokens, batch, steps, Sum::kNone, 0);
  const double after = step_seconds(*ranks, model, tokens, batch, steps, Sum::kAfter, 0);
  if (leader) {
    std::printf("\npreset %s, vocab %lld, batch %lld x seq %lld per rank, %d thread(s) per rank, %.1f MiB of "
                "gradients, %d steps (slowest rank's time)\n",
                preset.c_str(), static_cast<long long>(vocab), static_cast<long long>(batch),
                static_cast<long long>(seq), threads, gradient_mib, steps);
    std::printf("%-36s %10.1f ms\n", "forward + backward alone", 1e3 * alone);
    std::printf("%-36s %10.1f ms  (sum %.1f ms)\n", "sum after the backward pass", 1e3 * after,
                1e3 * (after - alone));
  }
  for (size_t bucket_floats : {size_t{1} << 22, size_t{1} << 20, size_t{1} << 18}) {
    const double overlapped = step_seconds(*ranks, model, tokens, batch, steps, Sum::kOverlapped, bucket_floats);
    if (leader) {
      const std::string label = "buckets of " + std::to_string(bucket_floats * 4 / 1048576.0).substr(0, 4) +
                                " MiB during it";
      std::printf("%-36s %10.1f ms  (hidden: %.0f%%)\n", label.c_str(), 1e3 * overlapped,
                  100.0 * (after - overlapped) / (after - alone));
    }
  }
  return 0;
}
