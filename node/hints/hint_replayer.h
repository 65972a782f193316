#pragma once

// HintReplayer: delivers spooled hints to their targets (hinted handoff, docs/architecture.md).
// One thread, never a shard loop. Each pass, for every target with hints held and not backing
// off, it opens (or reuses) a session to the target and sends the target's next hints as Puts,
// in record order (version order), pipelined, within a global rate (--hint-replay-rate keys/s,
// a token bucket); the hints the target answers with a PutResponse (applied or not: not applied
// means it already holds a newer state) are removed from the spool. A target that cannot be
// reached, or that answers an Error that may pass (NotReady, ClockSkew, Unauthenticated, ...),
// is retried after an exponential backoff; a hint the target refuses for good (BadRequest,
// TooLarge) is dropped and counted (rejected) rather than retried forever. Expired hints are
// dropped by the spool as they are met and by a periodic Sweep().
//
//   HintReplayer replayer(spool, MakeSession, clock, ReplayOptions{});
//   replayer.Start();      // the replay thread
//   replayer.Wake();       // any thread: new hints arrived
//   replayer.Stop();
//
// Tests drive RunOnce() with a FakeClock and a fake SessionFactory, without the thread.
// Thread rules: Start, Stop from one controlling thread; Wake and the counters from any thread;
// RunOnce on the replay thread only (or the test's, when not started), which alone writes the
// counters' cells.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock/clock.h"
#include "common/metrics/cells.h"
#include "common/status/status.h"
#include "node/hints/hint_record.h"
#include "node/hints/hint_spool.h"

namespace shoal::node::hints {

enum class DeliveryOutcome : uint8_t {
  kDelivered,  // the target answered PutResponse: remove the hint
  kRejected,   // the target refuses it for good: drop it
  kRetry,      // try again later
};

// One connection to a target. Owned and used by the replay thread only.
class HintSession {
 public:
  virtual ~HintSession() = default;
  // Sends `hints` as Puts and waits for every answer: `outcomes` gets one per hint, in order.
  // An error means the connection is unusable (no hint counts as delivered).
  virtual Status Deliver(std::span<const Hint> hints, std::vector<DeliveryOutcome>* outcomes) = 0;
};

// Opens a session to `target` (a node id), or fails (unknown id, unreachable, refused Hello).
using SessionFactory =
    std::function<StatusOr<std::unique_ptr<HintSession>>(const std::string& target)>;

// The replayer's metrics (docs/operations.md, "Watch"): X(type, field, name, help).
#define SHOAL_HINT_REPLAY_METRICS(X)                                                      \
  X(Counter, sessions_opened, "shoal_node_hint_replay_sessions_total",                    \
    "Connections the hint replayer opened to hint targets.")                              \
  X(Counter, failures, "shoal_node_hint_replay_failures_total",                           \
    "Hint deliveries that stopped (target unreachable, or asking to retry) and were put " \
    "off by a backoff.")

struct HintReplayStats {
  SHOAL_HINT_REPLAY_METRICS(SHOAL_METRIC_FIELD)
};

struct ReplayOptions {
  int64_t rate_per_s = 5000;     // hints sent per second, all targets together
  size_t max_batch = 256;        // hints in flight on one session at a time
  int64_t backoff_min_ms = 250;  // first retry delay after a failure
  int64_t backoff_max_ms = 5'000;
  int64_t sweep_interval_ms = 10'000;  // how often Sweep() looks for expired hints
  int64_t idle_wait_ms = 1'000;        // longest sleep between passes when nothing is due
};

class HintReplayer {
 public:
  HintReplayer(HintSpool& spool, SessionFactory factory, const Clock& clock, ReplayOptions options);
  ~HintReplayer();  // stops if running
  HintReplayer(const HintReplayer&) = delete;
  HintReplayer& operator=(const HintReplayer&) = delete;

  void Start();
  void Stop();
  void Wake();
  // Any thread (a configuration reload): hints sent per second from the next pass on (the bucket
  // is resized to it; tokens already held above the new size are dropped). `rate_per_s` >= 1.
  void SetRate(int64_t rate_per_s);

  // One pass. Returns how long to wait (ms, monotonic) before the next pass is useful: 0 when
  // more can be sent at once.
  int64_t RunOnce();

  const HintReplayStats& stats() const { return stats_; }
  // The hints it delivered, dropped as rejected and found expired.
  const SpoolCounters& spool_counters() const { return spool_counters_; }

 private:
  struct TargetState {
    std::unique_ptr<HintSession> session;
    std::string cursor;           // record key of the last hint handled this round
    int64_t next_attempt_ms = 0;  // monotonic; 0: now
    int64_t backoff_ms = 0;
  };
  void Fail(TargetState& state, int64_t now_ms, const std::string& target, const Status& why);
  void Refill(int64_t now_ms);
  void Run();
  static double BurstFor(int64_t rate_per_s, size_t max_batch);

  HintSpool& spool_;
  SessionFactory factory_;
  const Clock& clock_;
  const ReplayOptions options_;  // rate_per_s: the starting rate (rate_ holds the current one)
  std::atomic<int64_t> rate_;    // hints per second; written by SetRate, read by the pass

  // Replay thread only.
  int64_t applied_rate_;  // the rate burst_ was sized for
  double burst_;          // token bucket capacity
  std::map<std::string, TargetState> targets_;
  double tokens_;
  int64_t last_refill_ms_;
  int64_t next_sweep_ms_ = 0;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  bool woken_ = false;     // guarded by mu_

  // Replay thread only (read by any).
  HintReplayStats stats_;
  SpoolCounters spool_counters_;
};

}  // namespace shoal::node::hints
