#include "train/trainer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "dist/gradient_buckets.h"
#include "dist/local_launch.h"
#include "dist/rank_waits.h"
#include "obs/console_log.h"
#include "train/checkpoint_dirs.h"
#include "train/lr_schedule.h"
#include "train/stop_signal.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void to_model_tokens(std::span<const uint32_t> raw, std::vector<int32_t>& out) {
  out.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) out[i] = static_cast<int32_t>(raw[i]);
}

// Progress on a terminal: one line redrawn in place on stderr, at most a few times a second.
class ProgressLine {
 public:
  explicit ProgressLine(bool wanted) : enabled_(wanted && ::isatty(STDERR_FILENO) == 1) {}
  void draw(int64_t step, int64_t total, double loss, double eta_seconds) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(200) && step != total) return;
    last_ = now;
    std::fprintf(stderr, "\r\033[K%s", format_progress_bar(step, total, loss, eta_seconds, 24).c_str());
    std::fflush(stderr);
    visible_ = true;
  }
  void clear() {
    if (!visible_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    visible_ = false;
  }

 private:
  bool enabled_;
  bool visible_ = false;
  Clock::time_point last_{};
};

}  // namespace

double evaluate(Transformer& model, const std::vector<std::vector<int32_t>>& batches,
                int64_t batch_size, const std::vector<std::vector<int32_t>>* doc_pos) {
  if (batches.empty()) return std::nan("");
  UTT_CHECK(doc_pos == nullptr || doc_pos->size() == batches.size(), "one doc_pos per validation batch");
  double total = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    ForwardOptions options;
    options.training = false;
    if (doc_pos != nullptr) options.doc_pos = (*doc_pos)[i].data();
    total += model.forward(batches[i].data(), batch_size, options);
  }
  return total / static_cast<double>(batches.size());
}

Trainer::Trainer(Transformer& model, AdamW& optimizer, BatchLoader& train,
                 const ValidationBatches* validation_batches, MetricsLog* metrics,
                 TensorBoardLog* tensorboard, Communicator& ranks, TrainerOptions options)
    : model_(model),
      optimizer_(optimizer),
      train_(train),
      validation_(validation_batches && !validation_batches->tokens.empty() ? validation_batches : nullptr),
      metrics_(metrics),
      tensorboard_(tensorboard),
      ranks_(ranks),
      options_(std::move(options)) {
  UTT_CHECK(leader() == (metrics_ != nullptr), "rank 0, and only rank 0, writes metrics.jsonl");
  UTT_CHECK(leader() || tensorboard_ == nullptr, "rank 0, and only rank 0, writes event files");
}

double Trainer::train_step(TrainerState& state) {
  const int64_t B = options_.batch_size;
  const int64_t T = model_.config().seq_len;
  const int64_t world = ranks_.world_size();
  const int64_t rank = ranks_.rank();
  const double targets_in_step = static_cast<double>(options_.accumulation * world * B * T);
  const auto rank_rows = static_cast<size_t>(B * (T + 1));
  model_.zero_gradients();
  double loss = 0;
  for (int64_t micro = 0; micro < options_.accumulation; ++micro) {
    // Every rank's loader yields the same batches, so all of them run out together.
    const bool more = options_.document_masking ? train_.next_batch(raw_batch_, raw_doc_pos_)
                                                : train_.next_batch(raw_batch_);
    if (!more) {
      data_exhausted_ = true;
      return std::nan("");
    }
    UTT_CHECK(raw_batch_.size() == static_cast<size_t>(world) * rank_rows, "the loader's batch is ranks x B rows");
    to_model_tokens(rank_share(raw_batch_, rank, world), batch_);
    ForwardOptions forward;
    forward.training = true;
    forward.loss_normalizer = targets_in_step;  // the step's loss is the mean over all its targets
    forward.dropout_seed = options_.seed;
    forward.step = state.step;
    // Each rank's rows get masks of their own (rank 0's are one process's).
    forward.micro_batch = micro + options_.accumulation * rank;
    if (options_.document_masking) forward.doc_pos = raw_doc_pos_.data() + rank * B * T;
    loss += model_.forward(batch_.data(), B, forward);
    if (world > 1 && micro + 1 == options_.accumulation) {
      loss = backward_and_sum(state, loss);
    } else {
      model_.backward();
    }
  }
  // Clipping is applied by AdamW as it reads the gradients (norm.scale), not by a pass of its own.
  const GradientNorm norm =
      measure_grad_norm(model_.backend(), model_.trainable_gradients(), model_.trainable_count(), options_.grad_clip);
  last_grad_norm_ = norm.norm;
  if (!std::isfinite(loss) || !std::isfinite(norm.norm)) {
    const std::string what = !std::isfinite(loss) ? fmt::format("the loss became {}", loss)
                                                  : fmt::format("the gradient norm became {}", norm.norm);
    const std::string where = last_good_checkpoint_.empty()
                                  ? std::string("no checkpoint was saved yet")
                                  : "the last good checkpoint is " + last_good_checkpoint_.string();
    throw UserError(fmt::format("{} at step {} ({}); lower --learning-rate or raise --warmup-steps, "
                                "and resume with --resume-from",
                                what, state.step + 1, where));
  }
  optimizer_.step(model_.trainable_parameters(), model_.trainable_gradients(), learning_rate_at(schedule(state), state.step),
                  norm.scale);
  state.step += 1;
  state.tokens_seen += static_cast<int64_t>(targets_in_step);
  state.last_loss = loss;
  return loss;
}

double Trainer::backward_and_sum(const TrainerState& state, double loss) {
  // Before the first bucket leaves: a rank that hangs or was stopped is named here.
  wait_for_ranks(state.step + 1, state.step + 1, "gradient sum");
  GradientBuckets buckets(ranks_, model_.trainable_gradients(), static_cast<size_t>(model_.trainable_count()),
                          options_.gradient_bucket_floats);
  model_.backward([&buckets](int64_t offset) { buckets.final_from(offset); });
  // The rest of the gradients, then the losses with the stop requests: every rank sees the
  // same loss, norm and stop decision, and so takes the same branch after the sums.
  const auto reduce_start = Clock::now();
  buckets.finish();
  double step_values[4] = {loss, stop_requested() ? 1.0 : 0.0, leader() ? seconds_since(session_start_) : 0.0,
                           leader() ? seconds_to_deadline() : 0.0};
  ranks_.all_reduce_sum(step_values, 4);
  stop_agreed_ = step_values[1] > 0;
  agreed_session_seconds_ = step_values[2];
  agreed_seconds_left_ = step_values[3];
  all_reduce_seconds_ += seconds_since(reduce_start);
  return step_values[0];
}

LrSchedule Trainer::schedule(const TrainerState& state) const {
  return LrSchedule{options_.learning_rate, options_.warmup_steps, state.total_steps, 0.1,
                    state.lr_restart_step, state.lr_restart_value};
}

void Trainer::record_position(TrainerState& state) const {
  // Serialized only when logged or saved, not every step.
  const LoaderState position = train_.state();
  state.epoch = position.epoch;
  state.loader_state = position.to_json();
}

std::filesystem::path Trainer::save(const std::string& name, TrainerState& state) {
  record_position(state);
  const std::filesystem::path dir = options_.output_dir / name;
  // Every rank holds the same weights, optimizer state and loader position: rank 0 writes them.
  if (!leader()) return dir;
  try {
    save_checkpoint(dir, model_, optimizer_, state, options_.tokenizer_json);
  } catch (const UserError& error) {
    throw UserError(std::string(error.what()) + " — checkpoint " + dir.string() +
                    " was not saved; the previous checkpoints are intact" +
                    (last_good_checkpoint_.empty() ? std::string()
                                                   : " (latest: " + last_good_checkpoint_.string() + ")"));
  }
  last_good_checkpoint_ = dir;
  if (options_.on_checkpoint_saved) options_.on_checkpoint_saved(dir, name);
  return dir;
}

// The mean loss over the validation batches; each rank evaluates its rows of every batch and
// the sums are added up, so the result is the one process's over the whole batches.
double Trainer::validation_loss(int64_t step) {
  const int64_t B = options_.batch_size;
  const int64_t T = model_.config().seq_len;
  const int64_t world = ranks_.world_size();
  const auto rank_rows = static_cast<size_t>(B * (T + 1));
  const bool masked = !validation_->doc_pos.empty();
  if (world == 1) return evaluate(model_, validation_->tokens, B, masked ? &validation_->doc_pos : nullptr);
  double total = 0;
  for (size_t i = 0; i < validation_->tokens.size(); ++i) {
    const std::vector<int32_t>& batch = validation_->tokens[i];
    UTT_CHECK(batch.size() == static_cast<size_t>(world) * rank_rows, "a validation batch is ranks x B rows");
    ForwardOptions options;
    options.training = false;
    options.loss_normalizer = static_cast<double>(world * B * T);
    if (masked) options.doc_pos = validation_->doc_pos[i].data() + ranks_.rank() * B * T;
    total += model_.forward(batch.data() + static_cast<size_t>(ranks_.rank()) * rank_rows, B, options);
  }
  wait_for_ranks(-step - 1, step, "validation loss sum");  // a tag of its own: negative
  ranks_.all_reduce_sum(&total, 1);
  return total / static_cast<double>(validation_->tokens.size());
}

// Before a collective: every rank must come within --rank-timeout, or the job stops naming
// the ones that did not (a hung or stopped rank would keep the others waiting in the
// collective forever). Every rank meets with the same `tag` at the same place.
void Trainer::wait_for_ranks(int64_t tag, int64_t step, const char* where) {
  utt::wait_for_ranks(ranks_, tag, options_.rank_timeout_seconds, fmt::format("the {} of step {}", where, step));
}

void Trainer::validate(TrainerState& state, TrainingResult& result) {
  const double loss = validation_loss(state.step);
  result.final_val_loss = loss;
  const bool best = std::isfinite(loss) && (!state.best_val_loss || loss < *state.best_val_loss);
  std::string best_dir;
  if (best) {
    state.best_val_loss = loss;
    best_dir = (options_.output_dir / "best_checkpoint").string();
  }
  if (!leader()) return;
  fmt::print("\n{}\n", format_validation_block(loss, static_cast<int64_t>(validation_->tokens.size()), best_dir));
  std::fflush(stdout);
  const double perplexity = std::exp(std::min(loss, 700.0));
  metrics_->write({{"step", state.step}, {"val_loss", loss}, {"val_perplexity", perplexity},
                   {"val_batches", validation_->tokens.size()}});
  if (tensorboard_) {
    tensorboard_->write_scalars(state.step, {{"val/loss", static_cast<float>(loss)},
                                             {"val/perplexity", static_cast<float>(perplexity)}});
  }
  if (best) save("best_checkpoint", state);
}

// True when one more step (at `step_seconds`) and the end of the run would pass the deadline.
double Trainer::seconds_to_deadline() const {
  return options_.deadline ? std::chrono::duration<double>(*options_.deadline - Clock::now()).count() : 0.0;
}

bool Trainer::out_of_time_after(const TrainerState& state, double step_seconds, double seconds_left) const {
  if (!options_.deadline || state.step >= state.total_steps) return false;
  return step_seconds + options_.end_reserve_seconds > seconds_left;
}

// --time-budget: the probe measured the steps once, on a machine that may be busy. Every 10
// steps of this session the plan is checked against the mean step time so far (validation and
// checkpoints included): when fewer steps than planned fit before the deadline (by more than 3%),
// or more (by more than 10%: overrunning is the worse mistake), the plan shrinks or grows (up to
// budget_step_limit) to them and the decay is
// re-planned to end with them, as a resume with another --max-steps would. So the run ends its
// schedule at the budget, not merely stops there.
std::string Trainer::fit_plan_to_deadline(TrainerState& state, double step_seconds, int64_t session_steps,
                                          double seconds_left) {
  if (!options_.deadline || session_steps < 10 || session_steps % 10 != 0 || state.step >= state.total_steps) {
    return "";
  }
  const double left = seconds_left - options_.end_reserve_seconds;
  const auto fit = static_cast<int64_t>(std::max(0.0, left / step_seconds));
  int64_t new_total = state.step + std::max<int64_t>(fit, 1);
  const auto planned = static_cast<double>(state.total_steps);
  if (static_cast<double>(new_total) > 1.1 * planned && options_.budget_step_limit > state.total_steps) {
    new_total = std::min(new_total, options_.budget_step_limit);
  } else if (static_cast<double>(new_total) >= 0.97 * planned) {
    return "";
  }
  if (new_total == state.total_steps) return "";
  const LrSchedule next = replan_schedule(schedule(state), state.step, new_total);
  const std::string note = fmt::format(
      "Time budget: steps take {:.3f}s here, {} than planned: the plan {} from {} to {} steps, the "
      "learning-rate decay re-planned to end with them",
      step_seconds, new_total < state.total_steps ? "slower" : "faster",
      new_total < state.total_steps ? "shrinks" : "grows", with_thousands(state.total_steps),
      with_thousands(new_total));
  state.total_steps = new_total;
  state.lr_restart_step = next.restart_step;
  state.lr_restart_value = next.restart_lr;
  return note;
}

TrainingResult Trainer::run(TrainerState state) {
  install_stop_handlers();
  TrainingResult result;
  ProgressLine progress(leader());
  session_start_ = Clock::now();
  const double elapsed_before = state.elapsed_seconds;
  auto interval_start = Clock::now();
  // The log interval in progress lives in the state, so a checkpoint carries it and a resumed
  // run logs the averages the uninterrupted one logs.
  double& interval_loss = state.log_interval_loss;
  int64_t& interval_steps = state.log_interval_steps;
  const int64_t tokens_per_step =
      options_.accumulation * ranks_.world_size() * options_.batch_size * model_.config().seq_len;

  while (state.step < state.total_steps) {
    const double loss = train_step(state);
    if (data_exhausted_) {
      result.outcome = TrainingOutcome::kDataExhausted;
      break;
    }
    result.session_tokens += tokens_per_step;
    interval_loss += loss;
    ++interval_steps;
    state.elapsed_seconds = elapsed_before + seconds_since(session_start_);
    // The step time and the time left: this process's, or with several ranks rank 0's as of
    // the step's sum, so that every rank re-plans and stops at the same step.
    const bool agreed = ranks_.world_size() > 1;
    const int64_t session_steps = result.session_tokens / tokens_per_step;
    const double per_step =
        (agreed ? agreed_session_seconds_ : seconds_since(session_start_)) / static_cast<double>(session_steps);
    const double seconds_left = agreed ? agreed_seconds_left_ : seconds_to_deadline();
    if (const std::string note = fit_plan_to_deadline(state, per_step, session_steps, seconds_left);
        !note.empty() && leader()) {
      progress.clear();
      fmt::print("{}\n", note);
      std::fflush(stdout);
    }
    const bool out_of_time = out_of_time_after(state, per_step, seconds_left);
    const bool last = state.step == state.total_steps || out_of_time;

    progress.draw(state.step, state.total_steps, loss, per_step * static_cast<double>(state.total_steps - state.step));

    if (state.step % options_.log_every == 0 || last) {
      // A device backend may still be running the step: time it done, not merely queued.
      model_.backend().synchronize();
      const double interval_seconds = seconds_since(interval_start);
      // Steps of this interval run by this process (a resumed run did the others before).
      const int64_t timed_steps = std::min<int64_t>(interval_steps, result.session_tokens / tokens_per_step);
      StepLogLine line;
      line.step = state.step;
      line.loss = interval_loss / static_cast<double>(interval_steps);
      line.tokens_per_second = static_cast<double>(timed_steps * tokens_per_step) / interval_seconds;
      line.elapsed_seconds = state.elapsed_seconds;
      line.learning_rate = learning_rate_at(schedule(state), state.step - 1);
      line.grad_norm = last_grad_norm_;
      line.flops_per_second = line.tokens_per_second * options_.flops_per_token;
      if (options_.peak_flops_per_second > 0) line.mfu = line.flops_per_second / options_.peak_flops_per_second;
      line.peak_memory_bytes = model_.backend().peak_allocated_bytes();
      progress.clear();
      record_position(state);
      if (leader()) {
        fmt::print("{}\n", format_step_line(line));
        std::fflush(stdout);
        metrics_->write({{"step", line.step}, {"loss", line.loss}, {"lr", line.learning_rate},
                      {"grad_norm", line.grad_norm}, {"tokens_per_sec", line.tokens_per_second},
                      {"tokens", state.tokens_seen}, {"epoch", state.epoch},
                        {"elapsed_seconds", line.elapsed_seconds}, {"flops_per_sec", line.flops_per_second},
                        {"mfu", line.mfu}, {"peak_memory_bytes", line.peak_memory_bytes}});
        if (tensorboard_) {
          const double step_seconds = interval_seconds / static_cast<double>(std::max<int64_t>(timed_steps, 1));
          tensorboard_->write_scalars(line.step, {{"train/loss", static_cast<float>(line.loss)},
                                                  {"train/learning_rate", static_cast<float>(line.learning_rate)},
                                                  {"train/grad_norm", static_cast<float>(line.grad_norm)},
                                                  {"train/tokens_per_second", static_cast<float>(line.tokens_per_second)},
                                                  {"train/step_seconds", static_cast<float>(step_seconds)},
                                                  {"train/flops_per_second", static_cast<float>(line.flops_per_second)},
                                                  {"train/mfu", static_cast<float>(line.mfu)},
                                                  {"train/peak_memory_bytes", static_cast<float>(line.peak_memory_bytes)}});
        }
      }
      interval_start = Clock::now();
      interval_loss = 0;
      interval_steps = 0;
    }
    if (validation_ && (state.step % options_.eval_every == 0 || last)) {
      progress.clear();
      validate(state, result);
    }
    if (state.step % options_.save_every == 0 && !last) {
      result.last_checkpoint = save(step_checkpoint_name(state.step), state);
      if (leader()) prune_step_checkpoints(options_.output_dir, options_.keep_last);
    }
    // One process stops as soon as it sees the signal; ranks stop together after the step in
    // which any of them saw it.
    const bool stop = ranks_.world_size() == 1 ? stop_requested() : stop_agreed_;
    if (stop && !last) {
      progress.clear();
      if (result.last_checkpoint != options_.output_dir / step_checkpoint_name(state.step)) {
        result.last_checkpoint = save(step_checkpoint_name(state.step), state);
      }
      if (leader()) {
        // The signal may have reached another rank only.
        const std::string signal = *stop_signal_name() ? stop_signal_name() : "a signal to another rank";
        fmt::print("\nStopped by {} after step {}; saved {}\nResume with:\n  {} --resume-from {}\n", signal,
                   state.step, result.last_checkpoint.string(), options_.resume_command,
                   result.last_checkpoint.string());
        std::fflush(stdout);
        // For the launcher, which sees the job's stderr only (dist/local_launch.h).
        if (ranks_.world_size() > 1) {
          fmt::print(stderr, "{}{} by {}; saved {}\n", kStopLinePrefix, state.step, signal,
                     result.last_checkpoint.string());
          std::fflush(stderr);
        }
      }
      result.outcome = TrainingOutcome::kInterrupted;
      break;
    }
    if (out_of_time) {
      result.deadline_reached = true;
      if (leader()) {
        fmt::print("\nTime budget: stopping after step {} of {}: the next step would end past the budget\n",
                   state.step, state.total_steps);
      }
      break;
    }
  }
  progress.clear();
  record_position(state);
  if (result.outcome != TrainingOutcome::kInterrupted) {
    result.last_checkpoint = save("final_checkpoint", state);
  }
  result.session_seconds = seconds_since(session_start_);
  result.session_steps = result.session_tokens / tokens_per_step;
  result.ranks = ranks_.world_size();
  result.all_reduce_seconds = all_reduce_seconds_;
  result.peak_memory_bytes = model_.backend().peak_allocated_bytes();
  result.state = state;
  return result;
}

}  // namespace utt
