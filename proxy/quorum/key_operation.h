#pragma once

// KeyOperation: one key command's whole journey through its replicas, as an I/O-free state
// machine (docs/replication.md is the contract it implements). The worker (or a simulation)
// feeds it replica replies and failures and carries out what it asks for:
//
//   Start(plan) ──► requests() ──send──► nodes
//        ▲                                 │ replies / NotReady / failures (each tag exactly once)
//        └──────── OnGet/OnPut/OnTouch/OnNotReady/OnFailure ◄┘
//   answered() turns true once (then answer() is final) ─► the client's reply
//   finished() once no request is outstanding and none will follow ─► repair_targets()
//
// Modes (KeyPlan::mode):
//   kRead          GET, MGET, EXISTS, TOUCH, TTL, PTTL. Get to all n replicas: one (rotating) asked
//                  for the value, the others for versions only. Decided on `required` counted
//                  replies; when the newest pair among them is a live value the machine has not
//                  seen, a Get with the value goes to a replica that reported that pair.
//   kWrite         SET, SETEX, PSETEX, MSET, DEL, UNLINK, EXPIRE in the past: one blind Put round,
//                  version = expiry_version = a new HLC.
//   kTouch         EXPIRE*, PERSIST, GETEX with an option: one Touch round with a new expiry
//                  version; the answer is the newest pre-touch pair among the counted replies.
//   kReadThenWrite SET NX/XX/GET/KEEPTTL, SETNX, GETDEL, EXPIRE NX/XX/GT/LT: a kRead at the
//                  write's consistency, the condition judged once on the resolved state, then
//                  the write (a Put or a Touch) only if it holds.
//
// Hinted handoff (KeyPlan::fallbacks > 0): a Put (kWrite, or kReadThenWrite's Put; never a read,
// a Touch or a repair) that fails at an owner is sent again as a kHintPut, naming that owner, to
// the next fallback not yet used in the round (replicas n .. n+fallbacks-1: the healthy members
// past the preference list). One hint holder per failed owner; a hint that fails or is refused
// moves on to the next unused fallback. Strict (default): only owners' acks count toward
// `required`, and a durable hint never does. Sloppy (KeyPlan::sloppy): a stored hint counts too.
// A write that fails its quorum is decided only once its hints have answered, so that the
// answer can say how many were stored (KeyAnswer::hints_stored).
//
// Every version in a reply is merged into the HLC (refusals counted). A write round in which every
// counted replica refused the write as stale is re-stamped above the newest pair held and sent
// once more. NotReady (a node restarted empty, warming up) never counts toward any quorum; such a
// replica is still a repair target.
//
// Not thread-safe: owned by one worker thread (or one simulation).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/hlc.h"
#include "common/ring/ring.h"
#include "common/typed/counter.h"
#include "common/typed/typed_value.h"
#include "proxy/quorum/element_mutation.h"

namespace shoal::proxy {

// A replica's state for one key: `found` an entry (value or tombstone) is held. Expired values are
// reported by nodes as tombstones of their pair.
struct EntryState {
  bool found = false;
  bool tombstone = false;
  Version version;
  Version expiry_version;  // zero: equal to `version` (nodes before expiry versions)
  int64_t expire_at_ms = 0;

  Version effective_expiry_version() const {
    return expiry_version.IsZero() ? version : expiry_version;
  }
  // Entries are ordered by (version, expiry_version); an absent entry is below every held one.
  bool NewerThan(const EntryState& other) const;
  bool SamePair(const EntryState& other) const {
    return found == other.found && version == other.version &&
           effective_expiry_version() == other.effective_expiry_version();
  }
  bool Live(int64_t now_ms) const {
    return found && !tombstone && (expire_at_ms == 0 || expire_at_ms > now_ms);
  }
};

// Decoded node answers. string_views need only live for the call.
struct GetReply {
  EntryState state;
  std::string_view value;  // read when the request asked for it, or when the value is typed
  typed::ValueType value_type = typed::ValueType::kString;
  uint64_t body_digest = 0;  // a typed value's typed::BodyDigest; 0 otherwise
};
struct PutReply {
  bool applied = false;
  bool condition_failed = false;
  Version current;  // the pair held after the put
  Version current_expiry_version;
  bool previous_found = false;  // a live value was held before
  Version previous_version;
  // Applied by a node still warming up or syncing on start: not counted toward W (its reads are
  // NotReady, so a quorum read could not find the write there), and no hint is sent for it.
  bool not_ready = false;
};
struct TouchReply {
  bool applied = false;
  EntryState previous;     // the state held before the touch (found && !tombstone: live)
  std::string_view value;  // read only when the request asked for the value (GETEX)
  typed::ValueType value_type = typed::ValueType::kString;
};

enum class KeyMode : unsigned char { kRead, kWrite, kTouch, kReadThenWrite };

// What must hold on the resolved state for a kReadThenWrite to write.
enum class KeyCondition : unsigned char {
  kNone,
  kIfAbsent,    // SET NX, SETNX
  kIfPresent,   // SET XX, GETDEL
  kExpireNx,    // EXPIRE NX: live and no expiry
  kExpireXx,    // EXPIRE XX: live with an expiry
  kExpireGt,    // EXPIRE GT / XX GT: live, with an expiry, below the new one
  kExpireLt,    // EXPIRE LT: live, no expiry or above the new one
  kExpireXxLt,  // EXPIRE XX LT: live, with an expiry above the new one
};

// kReadThenWrite whose Put value is computed from the resolved live value (none: empty) and the
// plan's value: APPEND (the old value followed by it) and SETRANGE (the old value, padded with
// zero bytes up to transform_offset, overwritten from there by it; an empty value writes
// nothing). answer().value is then the value written (or, when nothing is written, the old one).
// With KeyPlan::conditional (what the proxy plans for them) such a write is optimistic and
// versioned; without it, two of them racing on one key from different proxies can lose one.
//
// kIncrBy / kIncrByFloat (INCR DECR INCRBY DECRBY INCRBYFLOAT; docs/data-model.md): the key is a
// PN-counter. Every read reply carries a typed value's body and the bodies of the resolved
// version are merged (typed::Join). The write is a delta: the counter_writer's component, at the
// whole-key version it builds on (the live value's pair, or typed::DerivedVersion of the state
// it replaces), never a new version, so concurrent increments through other proxies merge. A
// replica holding a newer version refuses it as stale: the operation then reads again and
// rebuilds the delta (at most kMaxAttempts times in all). Redis's errors are answered without a
// write (KeyAnswer::counter_error).
//
// kElements (hash and set writes: HSET HDEL HINCRBY SADD SREM SPOP ...; element_mutation.h): the
// same, for a hash or set body: the delta holds the elements the command changes, each at a fresh
// element version (above every element version the read saw), at the whole-key version it builds
// on. A live key of another type answers wrong_type; a hash or set whose elements are all removed
// counts as absent (Redis holds no empty aggregate), for every command.
enum class ValueTransform : unsigned char {
  kNone,
  kAppend,
  kSetRange,
  kIncrBy,
  kIncrByFloat,
  kElements,
};

struct KeyPlan {
  KeyMode mode = KeyMode::kRead;
  int n = 0;                // replicas (<= Ring::kMaxReplicas)
  int required = 1;         // counted replies needed, for every phase
  bool want_value = false;  // kRead / kReadThenWrite: the answer needs the value
  int value_replica = 0;    // which replica is asked for the value first (rotate it)
  // The write (kWrite, kTouch, or kReadThenWrite's second step).
  bool write_is_touch = false;  // kReadThenWrite: a Touch, else a Put
  std::string_view value;       // copied by Start
  bool tombstone = false;
  int64_t expire_at_ms = 0;        // 0: none (Put) / persist (Touch)
  bool keep_expiry = false;        // SET KEEPTTL: the Put takes the resolved state's expiry
  bool touch_wants_value = false;  // GETEX
  KeyCondition condition = KeyCondition::kNone;
  int64_t condition_expire_at_ms = 0;  // EXPIRE NX/XX/GT/LT: the new expiry to compare with
  // Hinted handoff: how many fallbacks follow the n owners (replica indexes n .. n+fallbacks-1;
  // n + fallbacks <= Ring::kMaxReplicas). 0: no hints.
  int fallbacks = 0;
  bool sloppy = false;  // a stored hint counts toward `required` (sloppy quorum)
  ValueTransform transform = ValueTransform::kNone;  // kReadThenWrite (want_value must be set)
  int64_t transform_offset = 0;                      // kSetRange
  int64_t incr_by = 0;                               // kIncrBy
  long double incr_by_float = 0;                     // kIncrByFloat
  // kReadThenWrite Put (APPEND, SETRANGE, GETSET; docs/replication.md "Concurrent
  // read-modify-writes"): an optimistic versioned write. The read waits for a version held by
  // `required` replicas (an acknowledged write, never a refused one; every replica's answer when
  // none is), the value is computed on it and the Put carries if_version_at_most = that version
  // (to a replica seen holding one of this operation's own refused attempts: that attempt's
  // version), so a replica that took another write since refuses it. Only applied replies count,
  // and a round is decided once every replica has answered it (or failed): acknowledged when
  // `required` applied it and no refusal showed a newer version held; applied by `required` with
  // a newer version held elsewhere, it is re-stamped (the same value above that version,
  // if_version_at_most = its own version; at most kMaxRestamps rounds, then Failure::kConflict).
  // Short of `required` because of refusals (or with no version on `required` replicas), the
  // operation reads again, at most kMaxConflictAttempts reads in all, then Failure::kConflict;
  // so it does when an own refused attempt is held by `required` replicas, or (APPEND) the value
  // read starts with one. Never hinted (a replayed hint would bypass the condition).
  bool conditional = false;
  // kWrite: the value's type (not kString: `value` is a whole typed body, written at a new
  // version: RENAME and COPY of a counter, hash or set, the STORE commands).
  typed::ValueType value_type = typed::ValueType::kString;
  // kWrite: the write's version instead of a new one (nonzero; never re-stamped). RENAME deletes
  // its source at typed::DerivedVersion of the pair it read: above that state, below any later
  // write, so a write to the source after the read survives the delete on every path.
  Version fixed_version;
  // kIncrBy / kIncrByFloat: the counter component's owner. Its increments must be serialised
  // (one client connection: ClientConnection runs a read-modify-write after its earlier
  // commands), since each delta is the writer's running total.
  uint64_t counter_writer = 0;
  // kElements: the operation and its arguments (copied by Start; HINCRBY's increment is incr_by
  // or incr_by_float), SPOP's count and random seed, and the limits (0: none).
  ElementOp element_op = ElementOp::kNone;
  std::span<const std::string_view> element_args;
  int64_t element_count = 0;
  uint64_t element_seed = 0;
  uint64_t max_elements = 0;
  uint64_t max_bytes = 0;
  // A command on strings (GET, APPEND, GETSET, ...): a live hash or set answers wrong_type and
  // nothing is written.
  bool string_only = false;
  // kRead: decided once every replica has answered or failed (at least `required` answers), on
  // the newest state of them all; the answer also says what each replica held
  // (KeyAnswer::replica_version, live_elsewhere), so that a value a single replica holds is seen
  // (MSETNX's read; proxy/quorum/msetnx.h).
  bool read_every_replica = false;
  // kWrite with `conditional` (MSETNX's writes and undo, msetnx.h): no read; replica r's Put
  // carries if_version_at_most[r], and only the replicas in `replica_mask` are written (0: all).
  // Decided as the conditional read-modify-write's rounds (every replica's answer; applied by
  // `required` with a newer version shown, re-stamped), but never read again: refused short of
  // `required`, it fails with Failure::kConflict. KeyAnswer::applied_version says which replicas
  // applied which of its rounds.
  Version if_version_at_most[Ring::kMaxReplicas];
  uint32_t replica_mask = 0;
  // With the above: a retraction (MSETNX's undo: a tombstone at fixed_version, where the
  // command's own write is still held). `required` is ignored: decided once every replica written
  // has answered; a refusal counts as done (a newer write replaced the own one there), a failure
  // fails the operation (Failure::kWriteQuorum).
  bool retract = false;
};

// One request to send. `tag` identifies it in the reply (echo it back); `value` points into the
// machine and is valid until the next call that changes the machine.
struct NodeRequest {
  // kHintPut: the same Put, to a fallback (`replica` >= n), to be stored for owner `hint_for`.
  enum class Type : unsigned char { kGet, kPut, kTouch, kHintPut };
  uint8_t tag = 0;
  uint8_t replica = 0;
  uint8_t hint_for = 0;  // kHintPut: the owner (replica index < n) the hint is for
  Type type = Type::kGet;
  bool want_value = false;  // get, touch
  Version version;          // put, touch (the touch's expiry version)
  Version expiry_version;   // put, hint put: zero means `version` (typed puts carry the pair)
  typed::ValueType value_type = typed::ValueType::kString;  // put, hint put
  bool tombstone = false;                                   // put
  int64_t expire_at_ms = 0;                                 // put, touch
  std::string_view value;                                   // put, hint put
  // Put: Put.if_version_at_most (KeyPlan::conditional).
  bool conditional = false;
  Version if_version_at_most;
};

// The client's answer, final once answered().
struct KeyAnswer {
  // kConflict: a conditional write refused by concurrent writes on every attempt.
  enum class Failure : unsigned char {
    kNone,
    kReadQuorum,
    kWriteQuorum,
    kValueUnavailable,
    kConflict
  };
  Failure failure = Failure::kNone;
  int required = 0;  // on failure: what the failed phase needed and got
  int acks = 0;
  // kRead / kReadThenWrite: the resolved state (kTouch: the newest pre-touch state).
  EntryState state;
  bool live = false;
  std::string_view value;  // when the plan wanted it; points into the machine, valid until the
                           // next input. A counter is rendered as Redis prints it.
  typed::ValueType value_type = typed::ValueType::kString;  // of the resolved live value
  // kRead of a live typed value: its merged body (`value` is what Redis prints); same lifetime.
  std::string_view typed_body;
  // kIncrBy / kIncrByFloat: Redis's error (nothing written), or the new value: `integer`
  // (kIncrBy) or `value` (kIncrByFloat, as Redis prints it).
  typed::CounterError counter_error = typed::CounterError::kNone;
  bool wrong_type = false;  // the key holds a type the command does not apply to
  // kElements: Redis's error or a limit's (nothing written); valid like `value`.
  std::string_view error;
  int64_t integer = 0;  // kIncrBy's value; kElements: the command's integer reply
  // kReadThenWrite: the condition held (and the write reached its quorum).
  bool performed = false;
  // kWrite: a live value was held before (newest pre-write state among counted replies).
  bool previous_live = false;
  // KeyPlan::read_every_replica: bit r of `replicas_read`, replica r answered, holding
  // replica_version[r] (zero: nothing), a live value when bit r of `replicas_live` is set (an
  // emptied hash or set too: the resolved `live` tells). `required` is then the plan's.
  uint32_t replicas_read = 0;
  uint32_t replicas_live = 0;
  Version replica_version[Ring::kMaxReplicas];
  // Conditional kWrite (KeyPlan::if_version_at_most): per replica, the newest version of this
  // operation's rounds it applied (zero: none known), and the version of the last round sent.
  Version applied_version[Ring::kMaxReplicas];
  Version write_version;
  // The last write round's replicas that failed or timed out after their Put was sent (it may
  // still be applied there).
  int write_failures = 0;
  // Hinted handoff, for the write round decided: hints stored durably by fallbacks so far (on a
  // failure: all of them, they will replay to their owners), and how many of those were counted
  // toward `required` (sloppy quorum only; 0 when the owners alone made the quorum).
  int hints_stored = 0;
  int sloppy_acks = 0;
  bool sloppy = false;  // the plan's quorum mode
  // On a write failure: replicas warming up or syncing that applied the write but were not
  // counted (PutResponse.not_ready).
  int not_ready_applied = 0;
};

class KeyOperation {
 public:
  static constexpr int kMaxTags = 64;
  // The most requests queued between two ClearRequests() (one phase's are one per replica; the
  // margin covers a fetch queued by an immediate failure reported after a batch).
  static constexpr size_t kMaxBatch = 2 * Ring::kMaxReplicas;

  // Starts a plan; the first requests are in requests(). `hlc` stamps the versions and absorbs
  // those seen in replies (it must outlive the operation); `writer` is this process's id.
  void Start(const KeyPlan& plan, HybridLogicalClock& hlc, uint64_t writer, int64_t now_ms);

  // Each tag handed out in requests() must be reported exactly once, by one of these.
  void OnGet(uint8_t tag, const GetReply& reply, int64_t now_ms);
  void OnPut(uint8_t tag, const PutReply& reply, int64_t now_ms);
  void OnTouch(uint8_t tag, const TouchReply& reply, int64_t now_ms);
  void OnNotReady(uint8_t tag, int64_t now_ms);
  void OnFailure(uint8_t tag, int64_t now_ms);  // error, timeout, connection failure
  // A failure of a request that was never sent (its node known down, its link closed): certainly
  // not applied there (KeyAnswer::write_failures does not count it).
  void OnNotSent(uint8_t tag, int64_t now_ms);
  // A fallback's answer to a kHintPut: `stored` durably, or refused (spool full, hints off).
  void OnHintAck(uint8_t tag, bool stored, int64_t now_ms);

  // Requests to send now (each exactly once); the caller clears them after sending.
  std::span<const NodeRequest> requests() const { return {requests_, request_count_}; }
  void ClearRequests() { request_count_ = 0; }

  bool answered() const { return answered_; }
  const KeyAnswer& answer() const { return answer_; }
  // No request outstanding and none to come. Only then is repair_targets() final.
  bool finished() const { return answered_ && outstanding_ == 0 && request_count_ == 0; }
  int outstanding() const { return outstanding_; }
  // The replica a tag was sent to.
  int replica_of(uint8_t tag) const { return tag_replica_[tag]; }
  // The request tagged `tag` is a kHintPut (to a fallback, not an owner).
  bool is_hint(uint8_t tag) const { return tag_hint_for_[tag] >= 0; }

  // Replicas (bit i: replica i) to send repair_state() as a whole-state Put, once finished().
  // Only a state the machine holds whole (a value read with it, or a tombstone) is a repair
  // source; version-only replies never are.
  uint32_t repair_targets() const;
  const EntryState& repair_state() const { return newest_; }
  std::string_view repair_value() const { return newest_value_; }
  typed::ValueType repair_type() const { return newest_type_; }

  // The version of the latest write round started (zero: none). Once answer().performed, the
  // version the write was acknowledged at (a re-stamped write's second).
  const Version& write_version() const { return write_version_; }

  // Counters since Start.
  int hlc_refusals() const { return hlc_refusals_; }
  int stale_retries() const { return stale_retries_; }
  int hints_sent() const { return hints_sent_; }
  int hint_acks() const { return hint_acks_; }          // stored, any round
  int hint_refusals() const { return hint_refusals_; }  // answered stored = false
  int sloppy_acks() const { return answer_.sloppy_acks; }
  // Puts applied by a replica still warming up or syncing (PutResponse.not_ready), not counted,
  // in the current (or last) write round, as KeyAnswer::acks counts that round's acks.
  int not_ready_acks() const { return write_not_ready_; }

  // Bytes of node replies this operation holds (values gathered, the value answered): charged
  // to its client's output limit until it is decided (ClientConnection::ChargeGathered).
  size_t gathered_bytes() const { return newest_value_.size() + answer_value_.size(); }
  // A read only (KeyMode::kRead): once its client is gone, nothing depends on it.
  bool read_only() const { return plan_.mode == KeyMode::kRead; }

  // Frees buffers whose capacity exceeds `keep_bytes` (between uses).
  void ReleaseLargeBuffers(size_t keep_bytes);

 private:
  enum class Phase : unsigned char { kRead, kFetch, kWrite, kDone };
  enum class Seen : unsigned char { kNothing, kState, kNotReady, kFailed };

  struct ReplicaRead {
    Seen seen = Seen::kNothing;
    EntryState state;
    uint64_t body_digest = 0;
  };

 public:
  // Read-then-write attempts of a counter transform (the first included).
  static constexpr int kMaxAttempts = 3;
  // Attempts of a conditional write (the first included); each uses at most 3n tags.
  static constexpr int kMaxConflictAttempts = 6;
  // Re-stamps of a conditional write applied by a quorum while a replica held a newer version.
  static constexpr int kMaxRestamps = 2;

 private:
  uint8_t Queue(NodeRequest request);
  uint32_t WrittenReplicas() const;  // bit r: replica r gets the write rounds' Puts
  void Absorb(const Version& v);
  void AbsorbState(const EntryState& s);
  void NoteState(int replica, const EntryState& state, bool has_value, std::string_view value,
                 typed::ValueType type, uint64_t body_digest);
  void QueueReads();
  bool Stale(uint8_t tag) const { return tag_attempt_[tag] != attempt_; }
  void Restart(int64_t now_ms);
  // Forgets what the read phase learned (replies, resolution, the answer); Start and Restart
  // share it so that a retried attempt begins exactly as a first one.
  void ResetReadState();
  // The counter transform on the resolved state (`value`, `type`); false: nothing to write.
  bool CounterTransform(std::string_view value, typed::ValueType type, int64_t now_ms);
  // The element transform on the resolved state (`node_live`: a live entry, `empty`: a hash or
  // set without live elements); false: nothing to write.
  bool ElementTransform(std::string_view value, typed::ValueType type, bool node_live, bool empty,
                        int64_t now_ms);
  void ReadProgress(int64_t now_ms);
  // KeyPlan::conditional: decides the read on a version held by `required` replicas.
  void ConditionalReadProgress(int64_t now_ms);
  int OwnAttempt(const EntryState& s) const;  // index of the own refused attempt written at s
  // APPEND: the resolved value starts with the value of one of this operation's refused attempts.
  bool BuildsOnOwnAttempt() const;
  // Reads again if attempts remain (true); false: the caller answers.
  bool RetryConditional(int64_t now_ms);
  // KeyPlan::conditional: decides a write round once every replica has answered it.
  void ConditionalWriteProgress(int64_t now_ms);
  // Writes the value again above cs_->newer_held, applied where write_version_ (or older) is
  // held; false when no round is left.
  bool Restamp(int64_t now_ms);
  void SetConditions(const Version& base);  // cs_'s condition_version and replica_condition
  void StartFetch(int64_t now_ms);
  void NoteReplicaStates(int64_t now_ms);  // KeyPlan::read_every_replica's answer fields
  void Resolved(int64_t now_ms);
  bool ConditionHolds(int64_t now_ms) const;
  // Computes the plan's transformed value into write_value_; false when nothing is to be written.
  bool Transform();
  void StartWrite(int64_t now_ms, bool restamp);
  void WriteProgress(int64_t now_ms);
  void Answer();
  void Fail(KeyAnswer::Failure failure, int required, int acks);
  bool Current(uint8_t tag, Phase phase) const;
  bool Hintable() const;
  void SendHint(int owner, int64_t now_ms);
  void HintDone(uint8_t tag, bool stored, int64_t now_ms);

  KeyPlan plan_;
  HybridLogicalClock* hlc_ = nullptr;
  uint64_t writer_ = 0;
  std::string write_value_;                // the plan's value, owned (capacity reused)
  std::vector<std::string> element_args_;  // the plan's element_args, owned
  std::string element_error_;              // answer_.error when it is not a static text

  Phase phase_ = Phase::kRead;
  int round_ = 0;  // write rounds started
  uint8_t next_tag_ = 0;
  uint8_t tag_replica_[kMaxTags] = {};
  uint8_t tag_round_[kMaxTags] = {};    // read/fetch: 0; write: its round (1, 2)
  bool tag_value_[kMaxTags] = {};       // the request asked for the value
  int8_t tag_hint_for_[kMaxTags] = {};  // a kHintPut's owner; -1 for other requests
  uint8_t tag_attempt_[kMaxTags] = {};  // the attempt (Restart) that sent it
  Phase tag_phase_[kMaxTags] = {};
  int outstanding_ = 0;
  NodeRequest requests_[kMaxBatch];
  size_t request_count_ = 0;

  // Read phase.
  ReplicaRead reads_[Ring::kMaxReplicas];
  int read_counted_ = 0;
  int read_failed_ = 0;
  int read_pending_ = 0;
  EntryState resolved_;  // newest among the counted replies at the decision
  bool read_decided_ = false;
  // The newest state seen in any reply (repair source), and its value when held.
  EntryState newest_;
  bool newest_whole_ = false;  // value (or tombstone) known for newest_
  std::string newest_value_;
  typed::ValueType newest_type_ = typed::ValueType::kString;
  typed::ValueType fetched_type_ = typed::ValueType::kString;
  std::string rendered_;  // a counter's value as Redis prints it (answer_.value)
  uint8_t attempt_ = 0;
  // A typed write (counter delta): its fixed pair and type.
  bool typed_write_ = false;
  Version typed_version_;
  Version typed_expiry_;
  typed::ValueType write_type_ = typed::ValueType::kString;
  uint32_t fetch_tried_ = 0;  // replicas asked for the value in the fetch phase
  bool fetched_ = false;      // answer_value_ holds the resolved pair's value, fetched

  // Write phase.
  Version write_version_;
  int write_counted_ = 0;
  int write_failed_ = 0;
  int write_pending_ = 0;
  int write_applied_ = 0;
  int write_stale_ = 0;
  int write_not_ready_ = 0;  // PutResponse.not_ready, this round
  int write_unsent_ = 0;     // this round's failed Puts surely not applied (OnNotSent, NotReady)
  Version stale_floor_;      // newest version (or expiry version) that refused the write
  int next_fallback_ = 0;    // fallbacks used this round (each holds at most one hint per round)
  int hint_pending_ = 0;     // this round's hints in flight
  int hint_stored_ = 0;      // this round's hints stored
  bool previous_seen_ = false;
  bool previous_live_ = false;
  Version previous_version_;
  EntryState touch_previous_;  // newest pre-touch state (kTouch)
  bool touch_previous_seen_ = false;
  std::string answer_value_;  // the value answered: fetched, read-then-write's, or GETEX's

  bool answered_ = false;
  KeyAnswer answer_;
  int hlc_refusals_ = 0;
  int stale_retries_ = 0;
  int hints_sent_ = 0;
  int hint_acks_ = 0;
  int hint_refusals_ = 0;

  // Conditional writes (KeyPlan::conditional): allocated for the first conditional plan only, so
  // that the many other operations stay small.
  struct ConditionalState {
    Version condition_version;  // the version the write builds on (its if_version_at_most)
    // Per replica: condition_version, or the version of this operation's own refused attempt it
    // was seen holding (overwritten: it was never acknowledged, and nobody builds on it).
    Version replica_condition[Ring::kMaxReplicas];
    int write_conflicts = 0;  // replies that refused this round's write
    int attempts = 0;         // reads started again (after a refusal, an ambiguous read, ...)
    int own_count = 0;        // refused attempts so far
    Version own_version[kMaxConflictAttempts];
    std::string own_value[kMaxConflictAttempts];  // each one's value written
    // The newest version a refusal of this round showed held (zero: none).
    Version newer_held;
    int restamps = 0;       // rounds that wrote this operation's acknowledged value again, above it
    std::string arg_value;  // the plan's value (APPEND's suffix, GETSET's value), for retries
  };
  std::unique_ptr<ConditionalState> cs_;
};

}  // namespace shoal::proxy
