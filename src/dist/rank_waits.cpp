#include "dist/rank_waits.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <future>
#include <thread>

#include "util/error.h"

namespace utt {

void wait_for_ranks(Communicator& ranks, int64_t tag, double timeout_seconds, const std::string& what) {
  const std::vector<int> missing = ranks.meet(tag, timeout_seconds);
  if (missing.empty()) return;
  std::string names;
  for (size_t i = 0; i < missing.size(); ++i) names += (i ? ", " : "") + std::to_string(missing[i]);
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds);
  throw UserError(std::string(missing.size() == 1 ? "rank " : "ranks ") + names + " did not reach " + what +
                  " within " + seconds + " s (hung, stopped, or much slower than the others): stopping the job; "
                  "--rank-timeout sets how long ranks wait");
}

void leader_works(Communicator& ranks, double timeout_seconds, const std::string& what,
                  const std::function<void()>& work) {
  if (ranks.world_size() == 1) {
    work();
    return;
  }
  // News: 1 while the work goes on, 0 once it is done (either way: rank 0 stops the job on an error).
  int32_t news = 1;
  if (ranks.rank() != 0) {
    // Each broadcast is bounded by the communicator's timeout (set_timeout, the same seconds):
    // a longer silence is named here.
    while (news != 0) {
      try {
        ranks.broadcast(&news, sizeof news, 0);
      } catch (const UserError&) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds);
        throw UserError(std::string("rank 0 sent no news for ") + seconds + " s while " + what +
                        " (hung or stopped): stopping the job; --rank-timeout sets how long ranks wait");
      }
    }
    return;
  }
  std::packaged_task<void()> task(work);
  std::future<void> done = task.get_future();
  std::thread worker(std::move(task));
  const auto interval = std::chrono::duration<double>(std::min(1.0, timeout_seconds / 4));
  while (done.wait_for(interval) != std::future_status::ready) ranks.broadcast(&news, sizeof news, 0);
  worker.join();
  done.get();  // rethrows the work's exception: rank 0's error stops the job, the others wait for that
  news = 0;
  ranks.broadcast(&news, sizeof news, 0);
}

}  // namespace utt
