#pragma once

// LEGACY: the proxy no longer uses these (its key commands run proxy/quorum/key_operation.h).
// Kept only because tools/sim still drives them; to be removed once the simulation drives
// KeyOperation, which implements docs/replication.md whole (value fetch, NotReady, stale
// re-stamping, read-then-write).

// The quorum logic of one key's fan-out, free of I/O so that it can be driven by fake nodes in
// tests. The proxy's per-key operation feeds it each replica's outcome (a reply, a failure or a
// timeout) and asks it what to answer and whom to repair.
//
// Lifecycle of a coordinator over n replicas needing `required` of them:
//   Start(n, required) → OnReply/OnFailure per replica (each replica exactly once) →
//   decision() turns from kPending to kReached (required replies) or kFailed (too many failures:
//   more than n - required) at the moment it is decided, and never changes after →
//   finished() once every replica has answered or failed; only then are repair targets final
//   (late replies are compared too).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock/hlc.h"
#include "common/ring/ring.h"

namespace shoal::proxy {

enum class QuorumDecision : unsigned char { kPending, kReached, kFailed };

// Counts replies and failures against the required number.
class QuorumTally {
 public:
  void Start(int n, int required) {
    n_ = n;
    required_ = required;
    acks_ = fails_ = 0;
    decision_ = n < required ? QuorumDecision::kFailed : QuorumDecision::kPending;
  }
  // Each returns true when this call decided the outcome (kPending → kReached/kFailed).
  bool Ack() {
    ++acks_;
    if (decision_ == QuorumDecision::kPending && acks_ >= required_) {
      decision_ = QuorumDecision::kReached;
      return true;
    }
    return false;
  }
  bool Fail() {
    ++fails_;
    if (decision_ == QuorumDecision::kPending && fails_ > n_ - required_) {
      decision_ = QuorumDecision::kFailed;
      return true;
    }
    return false;
  }
  QuorumDecision decision() const { return decision_; }
  bool finished() const { return acks_ + fails_ >= n_; }
  int acks() const { return acks_; }
  int fails() const { return fails_; }
  int required() const { return required_; }
  int n() const { return n_; }

 private:
  int n_ = 0;
  int required_ = 0;
  int acks_ = 0;
  int fails_ = 0;
  QuorumDecision decision_ = QuorumDecision::kPending;
};

// One replica's answer to a read.
struct ReadReply {
  bool found = false;  // an entry (value or tombstone) is held
  bool tombstone = false;
  std::string_view value;  // copied by the coordinator if it is the newest so far
  Version version;
  int64_t expire_at_ms = 0;
};

// Read: answers with the newest version among the replies (last writer wins); a tombstone or an
// expired newest version answers "absent". Replicas that answered an older version or nothing are
// repair targets once every replica has answered.
class ReadCoordinator {
 public:
  void Start(int n, int required);
  // Each replica index in [0, n) must be reported exactly once, by one of these.
  // Return true when the call decided the outcome.
  bool OnReply(int replica, const ReadReply& reply);
  bool OnFailure(int replica);

  QuorumDecision decision() const { return tally_.decision(); }
  bool finished() const { return tally_.finished(); }
  const QuorumTally& tally() const { return tally_; }

  // The newest entry seen so far.
  bool best_found() const { return best_found_; }
  bool best_tombstone() const { return best_tombstone_; }
  const std::string& best_value() const { return best_value_; }
  Version best_version() const { return best_version_; }
  int64_t best_expire_at_ms() const { return best_expire_; }
  // A live value (not a tombstone, not expired at `now_ms`).
  bool BestIsLive(int64_t now_ms) const {
    return best_found_ && !best_tombstone_ && (best_expire_ == 0 || best_expire_ > now_ms);
  }

  // Frees the value buffer if its capacity exceeds `keep_bytes` (between uses).
  void ReleaseLargeBuffers(size_t keep_bytes) {
    if (best_value_.capacity() > keep_bytes) std::string().swap(best_value_);
  }

  // Whether replica i should be sent the newest entry: it answered, a newest entry exists, and
  // the replica's version is older (or it had nothing). Meaningful once finished().
  bool NeedsRepair(int replica) const;

 private:
  QuorumTally tally_;
  bool best_found_ = false;
  bool best_tombstone_ = false;
  std::string best_value_;  // capacity reused across Start()s
  Version best_version_;
  int64_t best_expire_ = 0;
  struct ReplicaState {
    bool answered = false;
    bool found = false;
    Version version;
  };
  ReplicaState replicas_[Ring::kMaxReplicas];
};

// One replica's answer to a write (put or touch).
struct WriteReply {
  bool applied = false;
  bool condition_failed = false;
  bool previous_found = false;  // a live value was held before the write
  std::string_view previous_value;
  Version previous_version;
  int64_t previous_expire_at_ms = 0;
};

// Write: acknowledged after `required` replies. Tracks the newest "previous" entry among the
// replies (for SET GET, GETDEL, DEL counts, PERSIST) and whether any replica applied the write.
class WriteCoordinator {
 public:
  void Start(int n, int required, bool keep_previous_value);
  bool OnReply(int replica, const WriteReply& reply);
  bool OnFailure(int replica);

  QuorumDecision decision() const { return tally_.decision(); }
  bool finished() const { return tally_.finished(); }
  const QuorumTally& tally() const { return tally_; }

  // Frees the previous-value buffer if its capacity exceeds `keep_bytes` (between uses).
  void ReleaseLargeBuffers(size_t keep_bytes) {
    if (previous_value_.capacity() > keep_bytes) std::string().swap(previous_value_);
  }

  int applied() const { return applied_; }
  int condition_failed() const { return condition_failed_; }
  bool previous_found() const { return previous_found_; }
  const std::string& previous_value() const { return previous_value_; }
  int64_t previous_expire_at_ms() const { return previous_expire_; }

 private:
  QuorumTally tally_;
  bool keep_previous_value_ = false;
  int applied_ = 0;
  int condition_failed_ = 0;
  bool previous_found_ = false;
  bool previous_seen_ = false;
  Version previous_version_;
  std::string previous_value_;
  int64_t previous_expire_ = 0;
};

}  // namespace shoal::proxy
