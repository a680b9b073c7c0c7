// The places where ranks wait for each other outside the collectives' own timeouts, bounded
// so that a rank that hangs or is stopped ends the job with its name instead of keeping the
// others waiting for ever.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dist/communicator.h"

namespace utt {

// Waits until every rank has come to the same place (`tag`, the same on every rank), at most
// `timeout_seconds`; otherwise throws UserError naming the ranks that did not reach `what`.
void wait_for_ranks(Communicator& ranks, int64_t tag, double timeout_seconds, const std::string& what);

// Rank 0 runs `work` (on a thread of its own) while the others wait. Rank 0's main thread
// tells them every second that it is still at it: they wait as long as the work takes, but
// no longer than `timeout_seconds` without news (UserError naming rank 0 and `what`; the
// communicator's timeout must be the same seconds). An exception of `work` is rethrown on
// rank 0 alone, whose error then stops the job.
void leader_works(Communicator& ranks, double timeout_seconds, const std::string& what,
                  const std::function<void()>& work);

// Tags for wait_for_ranks during a run's set-up, apart from the steps' tags (step numbers,
// positive, and validations' negative ones): the n-th set-up meeting.
inline int64_t setup_tag(int64_t n) { return (int64_t{1} << 62) + n; }

}  // namespace utt
