#pragma once

// MSetNx: MSETNX over replicas (docs/replication.md, "MSETNX"), as an I/O-free coordinator of
// one KeyOperation per key and phase. The caller (ClientConnection, or a unit test's simulation)
// runs, in each phase, a KeyOperation with Plan(i) for every key i that Runs(i), reports each
// answer with OnDecided, and once all are decided calls Next():
//
//   kRead   every key read at every replica that answers (KeyPlan::read_every_replica, at least
//           `required` answers) and judged on the state `required` replicas hold (Judge): live,
//           or not live with a newer live value on some replica: 0, nothing written (one key
//           unreadable: the error). No state on `required` replicas: read again.
//   kWrite  every key written with Put.if_version_at_most = the version of that state, so a
//           replica that took any write of the key since it refuses it. A key written twice in the
//           command is written once, with its last value (as Redis). Each key's round is decided
//           once every replica has answered, re-stamped above a newer refused write (as APPEND's).
//           All acknowledged: 1.
//   kUndo   otherwise every replica that applied a write of this command gets a tombstone at
//           DerivedVersion(the key's last version sent), applied only where that replica still
//           holds the write it applied (if_version_at_most = it): just above the own write, below
//           anyone else's later one. Then, when a key was refused for a concurrent write (not a
//           missing quorum), the command starts again from kRead (kMaxAttempts in all): the
//           re-read sees the other writer's key and answers 0, or finds none and writes again.
//
// What that guarantees and what it cannot is in docs/replication.md. Not thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ring/ring.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {

class MSetNx {
 public:
  static constexpr int kMaxAttempts = 4;

  enum class Phase : unsigned char { kRead, kWrite, kUndo, kDone };
  enum class Outcome : unsigned char {
    kNone,         // not done
    kSet,          // every key acknowledged: reply 1
    kExists,       // a key is live somewhere: reply 0, nothing written
    kReadFailed,   // a key could not be read at the consistency: nothing written
    kWriteFailed,  // a key's write missed its quorum (failures, not conflicts); undone
    kConflict,     // refused by concurrent writes on every attempt; undone
    kUndoFailed,   // a write failed and its undo did not reach every replica that applied it
    kInDoubt,      // a key's write failed, applied by no replica that answered, and a replica
                   // did not answer: its Put may still be applied there, and nothing undoes it
  };

  // `pairs`: key, value, key, value ... (an even count, at least 2; copied). Phase kRead.
  void Start(std::span<const std::string_view> pairs);

  Phase phase() const { return phase_; }
  uint32_t keys() const { return static_cast<uint32_t>(keys_.size()); }
  std::string_view key(uint32_t i) const { return keys_[i].key; }
  // Key i runs an operation in this phase.
  bool Runs(uint32_t i) const { return keys_[i].runs; }
  uint32_t running() const;
  // Key i's plan for this phase (without n, required and value_replica, which the runner sets);
  // its value points into this object.
  KeyPlan Plan(uint32_t i) const;
  // Key i's operation has answered (`answer` and `node_error` are read during the call only).
  void OnDecided(uint32_t i, const KeyAnswer& answer, std::string_view node_error);
  // Once every key that runs has been decided: moves on and returns the new phase (kDone: the
  // outcome is final).
  Phase Next();

  Outcome outcome() const { return outcome_; }
  // kReadFailed, kWriteFailed, kUndoFailed: the first failed key's answer (its views cleared) and
  // the node's error message with it.
  const KeyAnswer& failure() const { return failure_; }
  std::string_view node_error() const { return node_error_; }
  int attempts() const { return attempt_ + 1; }
  // After kUndoFailed: keys whose undo did not answer from every replica that applied the write.
  int undo_failed_keys() const { return undo_failed_keys_; }
  // After kInDoubt: keys whose write may still be applied by a replica that did not answer.
  int in_doubt_keys() const { return in_doubt_keys_; }

 private:
  struct Key {
    std::string key;
    std::string value;
    bool duplicate = false;  // a later pair names the same key (only the last one is written)
    bool runs = false;
    bool live = false;       // kRead: live (see Judge)
    bool ambiguous = false;  // kRead: no state is held by `required` replicas
    Version base;            // kRead: the write's if_version_at_most
    bool performed = false;
    Version sent;                              // kWrite: the last round's version
    Version applied[Ring::kMaxReplicas] = {};  // kWrite: per replica, the own version applied
    bool undone = false;
  };

  void StartPhase(Phase phase);
  // kRead: what key `k`'s replicas hold (KeyPlan::read_every_replica's answer).
  static void Judge(const KeyAnswer& answer, Key& k);
  // Reads again when attempts remain; else ends with `outcome`.
  Phase Retry(Outcome outcome);
  void NoteFailure(const KeyAnswer& answer, std::string_view node_error);
  Phase Finish(Outcome outcome);

  std::vector<Key> keys_;
  Phase phase_ = Phase::kRead;
  Outcome outcome_ = Outcome::kNone;
  int attempt_ = 0;
  bool read_failed_ = false;
  bool write_failed_ = false;  // a missed quorum (not a conflict)
  bool conflict_ = false;
  int undo_failed_keys_ = 0;
  int in_doubt_keys_ = 0;
  bool failure_noted_ = false;
  KeyAnswer failure_;
  std::string node_error_;
};

}  // namespace shoal::proxy
