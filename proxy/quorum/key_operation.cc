#include "proxy/quorum/key_operation.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace shoal::proxy {

bool EntryState::NewerThan(const EntryState& other) const {
  if (!found) return false;
  if (!other.found) return true;
  if (version != other.version) return version > other.version;
  return effective_expiry_version() > other.effective_expiry_version();
}

void KeyOperation::Start(const KeyPlan& plan, HybridLogicalClock& hlc, uint64_t writer,
                         int64_t now_ms) {
  assert(plan.n >= 0 && plan.fallbacks >= 0 && plan.n + plan.fallbacks <= Ring::kMaxReplicas);
  plan_ = plan;
  write_value_.assign(plan.value.data(), plan.value.size());
  plan_.value = write_value_;
  element_args_.resize(plan.element_args.size());
  for (size_t i = 0; i < plan.element_args.size(); ++i) {
    element_args_[i].assign(plan.element_args[i].data(), plan.element_args[i].size());
  }
  plan_.element_args = {};
  element_error_.clear();
  hlc_ = &hlc;
  writer_ = writer;
  phase_ = Phase::kRead;
  round_ = 0;
  next_tag_ = 0;
  outstanding_ = 0;
  request_count_ = 0;
  ResetReadState();
  read_pending_ = 0;
  attempt_ = 0;
  write_type_ = typed::ValueType::kString;
  write_version_ = Version{};
  stale_floor_ = Version{};
  answered_ = false;
  hlc_refusals_ = stale_retries_ = 0;
  hints_sent_ = hint_acks_ = hint_refusals_ = write_not_ready_ = 0;
  next_fallback_ = hint_pending_ = hint_stored_ = 0;
  if (plan_.conditional) {
    if (cs_ == nullptr) cs_ = std::make_unique<ConditionalState>();
    *cs_ = ConditionalState{};
    cs_->arg_value = write_value_;
    if (plan_.mode == KeyMode::kWrite) {
      for (int r = 0; r < plan_.n; ++r) cs_->replica_condition[r] = plan_.if_version_at_most[r];
      if (plan_.retract) plan_.required = std::popcount(WrittenReplicas());
    }
  }
  if (plan_.retract && plan_.required == 0) {
    answer_.performed = true;  // nothing of this command's is held anywhere: nothing to undo
    Answer();
    return;
  }

  if (plan_.n < plan_.required || plan_.n == 0) {
    Fail(plan_.mode == KeyMode::kRead || plan_.mode == KeyMode::kReadThenWrite
             ? KeyAnswer::Failure::kReadQuorum
             : KeyAnswer::Failure::kWriteQuorum,
         plan_.required, 0);
    return;
  }
  if (plan_.mode == KeyMode::kWrite || plan_.mode == KeyMode::kTouch) {
    StartWrite(now_ms, false);
    return;
  }
  QueueReads();
}

uint32_t KeyOperation::WrittenReplicas() const {
  const uint32_t all = (1u << plan_.n) - 1;
  return plan_.replica_mask == 0 ? all : plan_.replica_mask & all;
}

void KeyOperation::QueueReads() {
  read_pending_ = plan_.n;
  const int value_replica = plan_.value_replica % plan_.n;
  for (int r = 0; r < plan_.n; ++r) {
    NodeRequest req;
    req.replica = static_cast<uint8_t>(r);
    req.type = NodeRequest::Type::kGet;
    req.want_value = plan_.want_value && r == value_replica;
    tag_phase_[Queue(req)] = Phase::kRead;
  }
}

// A counter delta refused as stale (a replica holds a newer whole-key version: a SET, DEL or
// expiry the read did not see): read again and rebuild the delta on what is there now. Requests
// of the earlier attempt still outstanding are ignored when they answer (Stale).
void KeyOperation::Restart(int64_t now_ms) {
  ++attempt_;
  ++stale_retries_;
  phase_ = Phase::kRead;
  ResetReadState();
  write_value_.clear();
  if (plan_.conditional) write_value_ = cs_->arg_value;  // APPEND's suffix, GETSET's value
  plan_.value = write_value_;
  (void)now_ms;
  QueueReads();
}

void KeyOperation::ResetReadState() {
  for (auto& r : reads_) r = ReplicaRead{};
  read_counted_ = read_failed_ = 0;
  resolved_ = EntryState{};
  read_decided_ = false;
  newest_ = EntryState{};
  newest_whole_ = false;
  newest_value_.clear();
  newest_type_ = fetched_type_ = typed::ValueType::kString;
  fetch_tried_ = 0;
  fetched_ = false;
  typed_write_ = false;
  answer_value_.clear();
  answer_ = KeyAnswer{};
  answer_.sloppy = plan_.sloppy;
}

uint8_t KeyOperation::Queue(NodeRequest request) {
  assert(next_tag_ < kMaxTags);
  assert(request_count_ < std::size(requests_));
  request.tag = next_tag_++;
  tag_replica_[request.tag] = request.replica;
  tag_round_[request.tag] = static_cast<uint8_t>(round_);
  tag_value_[request.tag] = request.want_value;
  tag_hint_for_[request.tag] =
      request.type == NodeRequest::Type::kHintPut ? static_cast<int8_t>(request.hint_for) : -1;
  tag_attempt_[request.tag] = attempt_;
  requests_[request_count_++] = request;
  ++outstanding_;
  return request.tag;
}

void KeyOperation::Absorb(const Version& v) {
  if (v.hlc == 0) return;
  if (!hlc_->Update(v.hlc).ok()) ++hlc_refusals_;
}

void KeyOperation::AbsorbState(const EntryState& s) {
  if (!s.found) return;
  Absorb(s.version);
  if (s.expiry_version != s.version) Absorb(s.expiry_version);
}

// Keeps the newest state seen and, when the reply carried it whole, its value. Typed values of one
// version merge (typed::Join): every reply carries a typed body, so the bodies of all the replies
// counted are merged, and every element acknowledged by W replicas is in the answer.
void KeyOperation::NoteState(int replica, const EntryState& state, bool has_value,
                             std::string_view value, typed::ValueType type, uint64_t body_digest) {
  reads_[replica].seen = Seen::kState;
  reads_[replica].state = state;
  reads_[replica].body_digest = body_digest;
  if (!state.found) return;
  const bool typed_body = !state.tombstone && has_value && type != typed::ValueType::kString;
  if (newest_.found && state.version == newest_.version && !state.tombstone && !newest_.tombstone &&
      (typed_body || (newest_whole_ && newest_type_ != typed::ValueType::kString))) {
    // The same whole-key version, live, and a typed body on one side: merge.
    const bool newer_expiry = state.effective_expiry_version() > newest_.effective_expiry_version();
    if (typed_body && newest_whole_) {
      typed::ValueType merged_type;
      std::string merged;
      if (typed::MergeValues(newest_type_, newest_value_, type, value, &merged_type, &merged)) {
        newest_type_ = merged_type;
        newest_value_.swap(merged);
      }
    } else if (typed_body) {
      newest_type_ = type;
      newest_value_.assign(value.data(), value.size());
    }
    if (newer_expiry) newest_ = state;
    newest_whole_ = true;
    return;
  }
  const bool whole = state.tombstone || has_value;
  if (state.NewerThan(newest_)) {
    newest_ = state;
    newest_whole_ = false;
    newest_value_.clear();
    newest_type_ = typed::ValueType::kString;
  } else if (!state.SamePair(newest_)) {
    return;
  } else if (state.tombstone && !newest_.tombstone) {
    // The pair has expired on that node (an expired value is a tombstone of its pair wherever it
    // is seen): it is held whole as the tombstone, never as a value with an empty body.
    newest_ = state;
  } else if (newest_whole_) {
    return;
  }
  if (whole) {
    newest_whole_ = true;
    if (state.tombstone) {
      newest_value_.clear();
      newest_type_ = typed::ValueType::kString;
    } else {
      newest_value_.assign(value.data(), value.size());
      newest_type_ = type;
    }
  }
}

bool KeyOperation::Current(uint8_t tag, Phase phase) const {
  if (tag_phase_[tag] != phase) return false;
  return phase != Phase::kWrite || tag_round_[tag] == round_;
}

void KeyOperation::OnGet(uint8_t tag, const GetReply& reply, int64_t now_ms) {
  --outstanding_;
  AbsorbState(reply.state);
  if (Stale(tag)) return;
  const int r = tag_replica_[tag];
  const bool typed = reply.value_type != typed::ValueType::kString;
  NoteState(r, reply.state, tag_value_[tag] || typed, reply.value, reply.value_type,
            reply.body_digest);
  if (tag_phase_[tag] == Phase::kRead) {
    ++read_counted_;
    --read_pending_;
  }
  if (phase_ == Phase::kRead) {
    ReadProgress(now_ms);
  } else if (phase_ == Phase::kFetch) {
    // The value of the resolved pair has arrived, from the fetch or late.
    if (Current(tag, Phase::kFetch) && reply.state.SamePair(resolved_) && reply.state.tombstone) {
      // The holder asked for the value has seen the resolved pair expire: it answers as that
      // tombstone (simulation seed 37117: a newer pair seen meanwhile, version only, left no
      // other source, and the read failed as value-unavailable).
      resolved_ = reply.state;
      Resolved(now_ms);
    } else if (Current(tag, Phase::kFetch) && reply.state.SamePair(resolved_) && tag_value_[tag]) {
      answer_value_.assign(reply.value.data(), reply.value.size());
      fetched_type_ = reply.value_type;
      fetched_ = true;
      Resolved(now_ms);
    } else if (newest_whole_ && newest_.SamePair(resolved_)) {
      Resolved(now_ms);
    } else if (Current(tag, Phase::kFetch)) {
      StartFetch(now_ms);  // that replica no longer holds it: try another holder
    }
  }
}

void KeyOperation::OnNotReady(uint8_t tag, int64_t now_ms) {
  if (Stale(tag)) {
    --outstanding_;
    return;
  }
  const int r = tag_replica_[tag];
  if (tag_phase_[tag] != Phase::kWrite) reads_[r].seen = Seen::kNotReady;
  // A conditional Put answered NotReady was not applied (the node cannot judge the condition).
  if (plan_.conditional && tag_hint_for_[tag] < 0 && Current(tag, Phase::kWrite)) ++write_unsent_;
  OnFailure(tag, now_ms);
}

void KeyOperation::OnNotSent(uint8_t tag, int64_t now_ms) {
  if (!Stale(tag) && tag_hint_for_[tag] < 0 && Current(tag, Phase::kWrite)) ++write_unsent_;
  OnFailure(tag, now_ms);
}

void KeyOperation::OnFailure(uint8_t tag, int64_t now_ms) {
  --outstanding_;
  if (Stale(tag)) return;
  const int r = tag_replica_[tag];
  switch (tag_phase_[tag]) {
    case Phase::kRead:
      if (reads_[r].seen == Seen::kNothing) reads_[r].seen = Seen::kFailed;
      ++read_failed_;
      --read_pending_;
      if (phase_ == Phase::kRead) ReadProgress(now_ms);
      return;
    case Phase::kFetch:
      if (phase_ == Phase::kFetch) StartFetch(now_ms);
      return;
    case Phase::kWrite:
      if (tag_hint_for_[tag] >= 0) return HintDone(tag, false, now_ms);
      if (!Current(tag, Phase::kWrite)) return;
      ++write_failed_;
      --write_pending_;
      // Hinted before progress is judged, so that a failed quorum waits for the hint's answer.
      if (Hintable()) SendHint(r, now_ms);
      WriteProgress(now_ms);
      return;
    case Phase::kDone:
      return;
  }
}

bool KeyOperation::Hintable() const {
  // Touches are not hinted (docs/replication.md: a hint is a Put, and a Touch's whole state is
  // not known to the machine); anti-entropy and read-repair heal a missed touch. A Put that fails
  // after the client has its answer is still hinted: the owner catches up sooner.
  // Nor are conditional writes: a replayed hint would be applied without its condition.
  return plan_.fallbacks > 0 && plan_.mode != KeyMode::kTouch && !plan_.write_is_touch &&
         !plan_.conditional;
}

void KeyOperation::SendHint(int owner, int64_t now_ms) {
  if (next_fallback_ >= plan_.fallbacks) return;  // no holder left this round
  NodeRequest req;
  req.replica = static_cast<uint8_t>(plan_.n + next_fallback_++);
  req.hint_for = static_cast<uint8_t>(owner);
  req.type = NodeRequest::Type::kHintPut;
  req.version = write_version_;
  if (typed_write_) {
    req.expiry_version = typed_expiry_;
    req.value_type = write_type_;
  } else if (!plan_.tombstone) {
    req.value_type = plan_.value_type;
  }
  req.tombstone = plan_.tombstone;
  req.value = plan_.tombstone ? std::string_view() : std::string_view(plan_.value);
  req.expire_at_ms = plan_.expire_at_ms;
  if (plan_.keep_expiry) req.expire_at_ms = answer_.live ? resolved_.expire_at_ms : 0;
  tag_phase_[Queue(req)] = Phase::kWrite;
  ++hint_pending_;
  ++hints_sent_;
}

void KeyOperation::OnHintAck(uint8_t tag, bool stored, int64_t now_ms) {
  if (tag_hint_for_[tag] < 0) return OnFailure(tag, now_ms);  // a HintAck to another request
  --outstanding_;
  if (Stale(tag)) {
    if (stored) ++hint_acks_;
    return;
  }
  if (!stored) ++hint_refusals_;
  HintDone(tag, stored, now_ms);
}

// A hint answered (`stored`), refused or failed; `outstanding_` is already counted down.
void KeyOperation::HintDone(uint8_t tag, bool stored, int64_t now_ms) {
  assert(tag_hint_for_[tag] >= 0);
  if (stored) ++hint_acks_;
  if (!Current(tag, Phase::kWrite)) return;  // an earlier round's, or the op is done
  --hint_pending_;
  if (stored) {
    ++hint_stored_;
  } else {
    SendHint(tag_hint_for_[tag], now_ms);  // the next unused fallback, if any
  }
  WriteProgress(now_ms);
}

void KeyOperation::ReadProgress(int64_t now_ms) {
  if (read_decided_) return;
  if (plan_.read_every_replica && read_pending_ > 0) return;
  if (plan_.conditional) return ConditionalReadProgress(now_ms);
  if (read_counted_ >= plan_.required) {
    // The replica asked for the value is waited for (as Cassandra waits for its data response):
    // fetching from another one would cost a round trip, and could see a later write of this
    // client's pipeline.
    const int vr = plan_.value_replica % plan_.n;
    if (plan_.want_value && !newest_whole_ && newest_.Live(now_ms) &&
        reads_[vr].seen == Seen::kNothing) {
      return;
    }
    read_decided_ = true;
    // Every state reply so far is counted, so the newest seen is the resolved one.
    resolved_ = newest_;
    if (plan_.read_every_replica) NoteReplicaStates(now_ms);
    if (plan_.want_value && resolved_.Live(now_ms) && !newest_whole_) {
      StartFetch(now_ms);
    } else {
      Resolved(now_ms);
    }
    return;
  }
  if (read_failed_ > plan_.n - plan_.required && read_pending_ == 0) {
    read_decided_ = true;
    Fail(KeyAnswer::Failure::kReadQuorum, plan_.required, read_counted_);
  }
}

namespace {

// Two replicas hold the same write: both nothing, or the same version (a value and its expired
// tombstone are one write; a touch may have changed the expiry on one of them).
bool SameWrite(const EntryState& a, const EntryState& b) {
  if (!a.found || !b.found) return a.found == b.found;
  return a.version == b.version;
}

}  // namespace

int KeyOperation::OwnAttempt(const EntryState& s) const {
  if (!s.found || s.tombstone) return -1;
  for (int i = 0; i < cs_->own_count; ++i) {
    if (cs_->own_version[i] == s.version) return i;
  }
  return -1;
}

// KeyPlan::conditional. A version held by `required` replicas is an acknowledged write (with
// required > n / 2 at most one version can be; with ONE, the first reply decides): the value is
// computed on it. A retry waits for every replica (a replica that refused may hold what the
// others purged). Without such a version once all have answered, it reads again (never builds on
// a state fewer than `required` replicas hold); one of its own refused attempts found on
// `required` replicas ends it (TRYAGAIN).
void KeyOperation::ConditionalReadProgress(int64_t now_ms) {
  int chosen = -1;
  if (cs_->own_count == 0 || read_pending_ == 0) {
    for (int r = 0; r < plan_.n && chosen < 0; ++r) {
      if (reads_[r].seen != Seen::kState) continue;
      int holders = 0;
      for (int q = 0; q < plan_.n; ++q) {
        if (reads_[q].seen == Seen::kState && SameWrite(reads_[q].state, reads_[r].state)) {
          ++holders;
        }
      }
      if (holders >= plan_.required) chosen = r;
    }
  }
  if (chosen < 0 && read_pending_ > 0) return;  // wait for every replica
  if (chosen < 0 && read_counted_ < plan_.required) {
    read_decided_ = true;
    Fail(KeyAnswer::Failure::kReadQuorum, plan_.required, read_counted_);
    return;
  }
  read_decided_ = true;
  EntryState base;
  for (int r = 0; r < plan_.n; ++r) {
    const ReplicaRead& rr = reads_[r];
    if (rr.seen != Seen::kState || !rr.state.found) continue;
    if (chosen >= 0 && SameWrite(rr.state, reads_[chosen].state) &&
        (rr.state.NewerThan(base) || (rr.state.SamePair(base) && rr.state.tombstone))) {
      base = rr.state;
    }
  }
  if (chosen < 0) {
    // Nothing on `required` replicas: the writes seen may all be refused ones (or in flight), or
    // an acknowledged one may be held by a single replica that answered (its other holder
    // restarted empty). Never build on any of them, nor write a refused attempt again: written
    // at a new version, it would outrank an acknowledged write that anti-entropy then replaces
    // with it. Read again; anti-entropy or a read-repair settles it.
    if (!RetryConditional(now_ms)) {
      Fail(KeyAnswer::Failure::kConflict, plan_.required, read_counted_);
    }
    return;
  }
  if (OwnAttempt(base) >= 0) {
    // This operation's own refused attempt is held by `required` replicas: applied late, or
    // spread there by anti-entropy or a read-repair (whole-state paths that take the newest
    // version, not the condition). It may have replaced an acknowledged write, or have been
    // built on: neither acknowledged nor written again (its change could be applied twice).
    return Fail(KeyAnswer::Failure::kConflict, plan_.required, read_counted_);
  }
  // Not live either: the write is conditioned on the state `required` replicas hold, never on a
  // newer tombstone only fewer hold (a DEL that missed its quorum, an MSETNX's undo). Built on
  // that one, it could be applied, after another write built on the quorum's state was decided
  // (refused there by that tombstone, older than it: no re-stamp), at a version above that
  // write, which anti-entropy would then spread over it (ConditionalWrite.
  // ANewerTombstoneOnOneReplicaIsNotBuiltOn). Such a replica refuses until it is repaired.
  resolved_ = base;
  SetConditions(base.found ? base.version : Version{});
  if (plan_.want_value && resolved_.Live(now_ms) &&
      !(newest_whole_ && newest_.SamePair(resolved_))) {
    StartFetch(now_ms);
  } else {
    Resolved(now_ms);
  }
}

void KeyOperation::SetConditions(const Version& base) {
  cs_->condition_version = base;
  for (int r = 0; r < plan_.n; ++r) {
    const ReplicaRead& rr = reads_[r];
    cs_->replica_condition[r] = rr.seen == Seen::kState && OwnAttempt(rr.state) >= 0
                                    ? std::max(base, rr.state.version)
                                    : base;
  }
}

bool KeyOperation::BuildsOnOwnAttempt() const {
  const std::string_view read = answer_.live ? std::string_view(answer_value_) : std::string_view();
  for (int i = 0; i < cs_->own_count; ++i) {
    if (read.starts_with(cs_->own_value[i])) return true;
  }
  return false;
}

bool KeyOperation::RetryConditional(int64_t now_ms) {
  if (plan_.mode != KeyMode::kReadThenWrite) return false;  // a conditional kWrite never reads
  if (cs_->attempts + 1 >= kMaxConflictAttempts || next_tag_ + 3 * plan_.n > kMaxTags) {
    return false;
  }
  ++cs_->attempts;
  Restart(now_ms);
  return true;
}

void KeyOperation::NoteReplicaStates(int64_t now_ms) {
  for (int r = 0; r < plan_.n; ++r) {
    const ReplicaRead& rr = reads_[r];
    if (rr.seen != Seen::kState) continue;
    answer_.replicas_read |= 1u << r;
    answer_.replica_version[r] = rr.state.found ? rr.state.version : Version{};
    if (rr.state.Live(now_ms)) answer_.replicas_live |= 1u << r;
  }
  answer_.required = plan_.required;
}

void KeyOperation::StartFetch(int64_t now_ms) {
  phase_ = Phase::kFetch;
  for (int r = 0; r < plan_.n; ++r) {
    if ((fetch_tried_ >> r) & 1) continue;
    const ReplicaRead& rr = reads_[r];
    if (rr.seen != Seen::kState || !rr.state.SamePair(resolved_)) continue;
    fetch_tried_ |= 1u << r;
    NodeRequest req;
    req.replica = static_cast<uint8_t>(r);
    req.type = NodeRequest::Type::kGet;
    req.want_value = true;
    tag_phase_[Queue(req)] = Phase::kFetch;
    return;
  }
  if (plan_.conditional) {
    // The holders of the version to build on have moved on: read again.
    if (!RetryConditional(now_ms)) {
      Fail(KeyAnswer::Failure::kConflict, plan_.required, read_counted_);
    }
    return;
  }
  // No replica holds the resolved pair any more: a newer whole state seen meanwhile answers.
  if (newest_whole_ && newest_.NewerThan(resolved_)) {
    resolved_ = newest_;
    fetched_ = false;
    Resolved(now_ms);
    return;
  }
  Fail(KeyAnswer::Failure::kValueUnavailable, plan_.required, read_counted_);
}

void KeyOperation::Resolved(int64_t now_ms) {
  // The resolved pair held whole is taken as held (seen expired somewhere, it is a tombstone).
  if (!fetched_ && !resolved_.tombstone && newest_whole_ && newest_.SamePair(resolved_)) {
    resolved_ = newest_;
  }
  // The resolved pair's value: fetched, or the newest seen (which it then is).
  std::string_view value = fetched_ ? std::string_view(answer_value_) : newest_value_;
  const typed::ValueType type = fetched_ ? fetched_type_ : newest_type_;
  const bool node_live = resolved_.Live(now_ms);
  // A hash or set whose elements are all removed is no key to Redis: absent for every command.
  const bool empty = node_live && typed::EmptyTyped(type, value);
  const bool live = node_live && !empty;
  if (plan_.transform == ValueTransform::kIncrBy ||
      plan_.transform == ValueTransform::kIncrByFloat ||
      plan_.transform == ValueTransform::kElements) {
    answer_.state = resolved_;
    answer_.live = live;
    const bool write = plan_.transform == ValueTransform::kElements
                           ? ElementTransform(node_live ? value : std::string_view(), type,
                                              node_live, empty, now_ms)
                           : CounterTransform(live ? value : std::string_view(), type, now_ms);
    if (write) {
      StartWrite(now_ms, false);
    } else {
      Answer();
    }
    return;
  }
  if (live && plan_.string_only &&
      (type == typed::ValueType::kHash || type == typed::ValueType::kSet)) {
    answer_.state = resolved_;
    answer_.live = live;
    answer_.value_type = type;
    answer_.wrong_type = true;
    Answer();
    return;
  }
  answer_.value_type = live ? type : typed::ValueType::kString;
  if (live && type == typed::ValueType::kCounter) {
    if (plan_.mode == KeyMode::kRead) answer_.typed_body = value;
    // A counter reads as the string Redis would hold.
    typed::Counter c;
    rendered_ = typed::Counter::Decode(value, &c) ? c.Render() : std::string();
    value = rendered_;
  }
  if (plan_.mode == KeyMode::kRead) {
    answer_.state = resolved_;
    answer_.live = live;
    if (answer_.live && plan_.want_value) answer_.value = value;
    Answer();
    return;
  }
  // kReadThenWrite: keep the resolved value (late replies may replace newest_value_).
  if (plan_.want_value && live && (!fetched_ || value.data() != answer_value_.data())) {
    answer_value_.assign(value.data(), value.size());
  }
  answer_.state = resolved_;
  answer_.live = live;
  if (answer_.live && plan_.want_value) answer_.value = answer_value_;
  if (!ConditionHolds(now_ms)) {
    Answer();
    return;
  }
  if (plan_.conditional && plan_.transform == ValueTransform::kAppend && BuildsOnOwnAttempt()) {
    // The value read starts with one of this APPEND's refused attempts: that attempt was
    // spread (anti-entropy, read-repair) and built on. Appending again would apply it twice.
    Fail(KeyAnswer::Failure::kConflict, plan_.required, read_counted_);
    return;
  }
  if (plan_.transform != ValueTransform::kNone && !Transform()) {
    Answer();  // nothing to write (SETRANGE of an empty value)
    return;
  }
  StartWrite(now_ms, false);
}

bool KeyOperation::Transform() {
  const std::string_view old = answer_.live ? std::string_view(answer_value_) : std::string_view();
  if (plan_.transform == ValueTransform::kSetRange && plan_.value.empty()) {
    answer_.value = old;
    return false;
  }
  std::string next(old);
  if (plan_.transform == ValueTransform::kAppend) {
    next.append(plan_.value);
  } else {
    const size_t offset = static_cast<size_t>(plan_.transform_offset);
    if (next.size() < offset + plan_.value.size()) next.resize(offset + plan_.value.size(), '\0');
    next.replace(offset, plan_.value.size(), plan_.value);
  }
  write_value_.swap(next);
  plan_.value = write_value_;
  answer_.value = write_value_;
  return true;
}

bool KeyOperation::CounterTransform(std::string_view value, typed::ValueType type, int64_t now_ms) {
  typed::Counter counter;
  Version version;
  Version expiry;
  int64_t expire_at_ms = 0;
  if (answer_.live) {
    if (type == typed::ValueType::kCounter) {
      if (!typed::Counter::Decode(value, &counter)) counter = typed::Counter{};
    } else if (type == typed::ValueType::kString) {
      // The string the counter builds on; Redis's checks first (an empty string is no number).
      int64_t i;
      long double d;
      if (plan_.transform == ValueTransform::kIncrBy && !typed::ParseRedisInteger(value, &i)) {
        answer_.counter_error = typed::CounterError::kNotInteger;
        return false;
      }
      if (plan_.transform == ValueTransform::kIncrByFloat &&
          !typed::ParseRedisLongDouble(value, &d)) {
        answer_.counter_error = typed::CounterError::kNotFloat;
        return false;
      }
      counter.base.assign(value.data(), value.size());
    } else {
      answer_.wrong_type = true;
      return false;
    }
    version = resolved_.version;
    expiry = resolved_.effective_expiry_version();
    expire_at_ms = resolved_.expire_at_ms;  // INCR keeps the TTL, as in Redis
  } else {
    // Nothing live: a new counter whose version derives from what it replaces, the same for
    // every writer that read the same state (typed::DerivedVersion).
    version = resolved_.found
                  ? typed::DerivedVersion(resolved_.version, resolved_.effective_expiry_version())
                  : typed::DerivedVersion({}, {});
    expiry = version;
  }
  const Version element{hlc_->NowAt(now_ms), writer_};
  typed::CounterError err;
  std::string text;
  if (plan_.transform == ValueTransform::kIncrBy) {
    err =
        typed::IncrementBy(counter, plan_.counter_writer, element, plan_.incr_by, &answer_.integer);
  } else {
    err =
        typed::IncrementByFloat(counter, plan_.counter_writer, element, plan_.incr_by_float, &text);
  }
  if (err != typed::CounterError::kNone) {
    answer_.counter_error = err;
    return false;
  }
  // The delta: this writer's component, with the base every component of this version shares.
  typed::Counter delta;
  delta.base = counter.base;
  delta.components.push_back(counter.ComponentOf(plan_.counter_writer));
  write_value_ = delta.Encode();
  plan_.value = write_value_;
  plan_.tombstone = false;
  plan_.keep_expiry = false;
  plan_.expire_at_ms = expire_at_ms;
  typed_write_ = true;
  typed_version_ = version;
  typed_expiry_ = expiry;
  write_type_ = typed::ValueType::kCounter;
  answer_.value_type = typed::ValueType::kCounter;
  answer_value_ = std::move(text);
  answer_.value = answer_value_;
  return true;
}

bool KeyOperation::ElementTransform(std::string_view value, typed::ValueType type, bool node_live,
                                    bool empty, int64_t now_ms) {
  const typed::ValueType want = ElementOpType(plan_.element_op);
  Version version;
  Version expiry;
  int64_t expire_at_ms = 0;
  typed::ElementsView held;
  // An empty hash or set of another type is replaced (a derived version), as an absent key is.
  const bool build_on_held = node_live && !(empty && type != want);
  if (build_on_held) {
    if (type != want) {
      answer_.wrong_type = true;
      return false;
    }
    if (!typed::DecodeElements(value, &held)) held = typed::ElementsView{};
    version = resolved_.version;
    expiry = resolved_.effective_expiry_version();
    expire_at_ms = resolved_.expire_at_ms;  // HSET, SADD... keep the TTL, as in Redis
  } else {
    version = resolved_.found
                  ? typed::DerivedVersion(resolved_.version, resolved_.effective_expiry_version())
                  : typed::DerivedVersion({}, {});
    expiry = version;
  }
  // Element versions above every one read, so that a lagging clock cannot lose to them.
  Version newest = held.floor;  // above the floor too (elements.h: purged tombstones)
  for (const typed::ElementView& e : held.elements) newest = std::max(newest, e.version);
  Absorb(newest);
  const Version element{hlc_->NowAt(now_ms), writer_};
  if (build_on_held && empty && expire_at_ms != 0 && element > expiry) {
    // Redis deleted the emptied key and its TTL with it: this write persists the key (a newer
    // expiry version with no expiry: every replica keeps the greater one's).
    expiry = element;
    expire_at_ms = 0;
  }
  ElementInput in;
  in.op = plan_.element_op;
  in.args = element_args_;
  in.by = plan_.incr_by;
  in.by_float = plan_.incr_by_float;
  in.count = plan_.element_count;
  in.counter_writer = plan_.counter_writer;
  in.seed = plan_.element_seed + attempt_;
  in.max_elements = plan_.max_elements;
  in.max_bytes = plan_.max_bytes;
  ElementOutcome out;
  MutateElements(in, build_on_held ? &held : nullptr, build_on_held ? value.size() : 0, element,
                 &out);
  answer_.integer = out.integer;
  answer_.value_type = want;
  if (!out.error.empty()) {
    answer_.error = out.error;
    return false;
  }
  if (!out.limit_error.empty()) {
    element_error_ = std::move(out.limit_error);
    answer_.error = element_error_;
    return false;
  }
  answer_value_ = std::move(out.text);
  answer_.value = answer_value_;
  if (!out.write) return false;
  write_value_ = std::move(out.delta);
  plan_.value = write_value_;
  plan_.tombstone = false;
  plan_.keep_expiry = false;
  plan_.expire_at_ms = expire_at_ms;
  typed_write_ = true;
  typed_version_ = version;
  typed_expiry_ = expiry;
  write_type_ = want;
  return true;
}

bool KeyOperation::ConditionHolds(int64_t now_ms) const {
  (void)now_ms;
  const bool live = answer_.live;  // an emptied hash or set counts as absent
  const int64_t held = resolved_.expire_at_ms;
  const int64_t wanted = plan_.condition_expire_at_ms;
  switch (plan_.condition) {
    case KeyCondition::kNone:
      return true;
    case KeyCondition::kIfAbsent:
      return !live;
    case KeyCondition::kIfPresent:
      return live;
    case KeyCondition::kExpireNx:
      return live && held == 0;
    case KeyCondition::kExpireXx:
      return live && held != 0;
    case KeyCondition::kExpireGt:
      return live && held != 0 && wanted > held;
    case KeyCondition::kExpireLt:
      return live && (held == 0 || wanted < held);
    case KeyCondition::kExpireXxLt:
      return live && held != 0 && wanted < held;
  }
  return false;
}

void KeyOperation::StartWrite(int64_t now_ms, bool restamp) {
  phase_ = Phase::kWrite;
  ++round_;
  write_counted_ = write_failed_ = write_applied_ = write_stale_ = write_not_ready_ = 0;
  write_unsent_ = 0;
  if (plan_.conditional) {
    cs_->write_conflicts = 0;
    cs_->newer_held = Version{};
  }
  next_fallback_ = hint_pending_ = hint_stored_ = 0;
  const uint32_t written = WrittenReplicas();
  write_pending_ = std::popcount(written);
  previous_seen_ = previous_live_ = false;
  previous_version_ = Version{};
  touch_previous_ = EntryState{};
  touch_previous_seen_ = false;
  if (plan_.mode == KeyMode::kTouch) answer_value_.clear();
  Version v{hlc_->NowAt(now_ms), writer_};
  if (restamp && v <= stale_floor_) v = Version{stale_floor_.hlc + 1, writer_};
  if (typed_write_) v = typed_version_;  // a delta keeps the whole-key version it builds on
  if (!plan_.fixed_version.IsZero()) v = plan_.fixed_version;
  write_version_ = v;
  const bool touch = plan_.mode == KeyMode::kTouch || plan_.write_is_touch;
  for (int r = 0; r < plan_.n; ++r) {
    if (((written >> r) & 1) == 0) continue;
    NodeRequest req;
    req.replica = static_cast<uint8_t>(r);
    req.version = v;
    if (touch) {
      req.type = NodeRequest::Type::kTouch;
      req.want_value = plan_.touch_wants_value;
      req.expire_at_ms = plan_.expire_at_ms;
    } else {
      req.type = NodeRequest::Type::kPut;
      if (typed_write_) {
        req.expiry_version = typed_expiry_;
        req.value_type = write_type_;
      } else if (!plan_.tombstone) {
        req.value_type = plan_.value_type;  // a typed body written whole (RENAME of a hash)
      }
      req.tombstone = plan_.tombstone;
      req.value = plan_.tombstone ? std::string_view() : plan_.value;
      req.expire_at_ms = plan_.expire_at_ms;
      if (plan_.keep_expiry) req.expire_at_ms = answer_.live ? resolved_.expire_at_ms : 0;
      req.conditional = plan_.conditional;
      if (plan_.conditional) req.if_version_at_most = cs_->replica_condition[r];
    }
    tag_phase_[Queue(req)] = Phase::kWrite;
  }
}

void KeyOperation::OnPut(uint8_t tag, const PutReply& reply, int64_t now_ms) {
  --outstanding_;
  if (Stale(tag)) {
    Absorb(reply.current);
    Absorb(reply.current_expiry_version);
    return;
  }
  // A PutResponse to a HintPut (a peer that applied it as a write): the fallback is no owner and
  // never counts as one; the hint is treated as failed.
  if (tag_hint_for_[tag] >= 0) return HintDone(tag, false, now_ms);
  Absorb(reply.current);
  Absorb(reply.current_expiry_version);
  Absorb(reply.previous_version);
  if (!Current(tag, Phase::kWrite)) return;
  --write_pending_;
  if (plan_.conditional && reply.applied) {
    Version& applied = answer_.applied_version[tag_replica_[tag]];
    applied = std::max(applied, write_version_);
  }
  if (plan_.conditional && !reply.applied) {
    // What a refusal shows held (a replica warming up or syncing holds it all the same).
    cs_->newer_held = std::max(cs_->newer_held, reply.current);
  }
  if (reply.not_ready) {
    // The replica holds the write but answers reads NotReady until it has warmed up or synced: W
    // acknowledgements that include it could leave the write on fewer than W of the replicas a
    // later quorum read hears from (simulation seeds 20743, 699 and 11388). Not counted, not
    // hinted (the owner has it), and its previous state is that of an empty store: ignored.
    ++write_failed_;
    ++write_not_ready_;
    WriteProgress(now_ms);
    return;
  }
  if (plan_.conditional) {
    // Only an applied reply counts: a refusal (condition failed, or stale: a newer write held)
    // means another write came first there.
    if (reply.applied) {
      ++write_counted_;
      ++write_applied_;
    } else {
      ++cs_->write_conflicts;
    }
    WriteProgress(now_ms);
    return;
  }
  ++write_counted_;
  if (reply.applied) {
    ++write_applied_;
  } else if (!reply.condition_failed) {
    // Refused as stale: the held pair is at least as new as (V, V).
    const Version held_expiry =
        reply.current_expiry_version.IsZero() ? reply.current : reply.current_expiry_version;
    if (reply.current > write_version_ ||
        (reply.current == write_version_ && held_expiry > write_version_)) {
      ++write_stale_;
      stale_floor_ = std::max(stale_floor_, reply.current);
    }
  }
  // The newest pre-write state among the replies (a live value outranks absence at a tie).
  if (!previous_seen_ || reply.previous_version > previous_version_ ||
      (reply.previous_version == previous_version_ && reply.previous_found && !previous_live_)) {
    previous_seen_ = true;
    previous_live_ = reply.previous_found;
    previous_version_ = reply.previous_version;
  }
  WriteProgress(now_ms);
}

void KeyOperation::OnTouch(uint8_t tag, const TouchReply& reply, int64_t now_ms) {
  --outstanding_;
  AbsorbState(reply.previous);
  if (Stale(tag)) return;
  if (!Current(tag, Phase::kWrite)) return;
  --write_pending_;
  ++write_counted_;
  const EntryState& prev = reply.previous;
  const bool live = prev.found && !prev.tombstone;
  if (reply.applied) {
    ++write_applied_;
  } else if (live && prev.effective_expiry_version() >= write_version_) {
    ++write_stale_;
    stale_floor_ = std::max(stale_floor_, prev.effective_expiry_version());
  }
  if (!touch_previous_seen_ || prev.NewerThan(touch_previous_)) {
    touch_previous_seen_ = true;
    touch_previous_ = prev;
    if (plan_.mode == KeyMode::kTouch) {
      typed::Counter c;
      answer_.value_type = live ? reply.value_type : typed::ValueType::kString;
      if (!live || !tag_value_[tag]) {
        answer_value_.clear();
      } else if (reply.value_type == typed::ValueType::kCounter &&
                 typed::Counter::Decode(reply.value, &c)) {
        answer_value_ = c.Render();  // GETEX of a counter: one replica's view of it
      } else {
        answer_value_.assign(reply.value.data(), reply.value.size());
      }
    }
  }
  WriteProgress(now_ms);
}

void KeyOperation::ConditionalWriteProgress(int64_t now_ms) {
  // Every replica's answer is waited for: one that refused may hold a newer write.
  if (write_pending_ > 0) return;
  if (plan_.retract) {
    // A refusal: something newer replaced the own write there. Only a failure leaves it unknown.
    if (write_failed_ == 0) {
      answer_.performed = true;
      Answer();
    } else {
      Fail(KeyAnswer::Failure::kWriteQuorum, plan_.required, plan_.required - write_failed_);
    }
    return;
  }
  if (write_counted_ >= plan_.required) {
    if (cs_->newer_held <= write_version_) {
      answer_.performed = true;
      Answer();
      return;
    }
    // Applied by a quorum, but a replica holds a newer write: another writer's refused attempt
    // (built on an older state) that anti-entropy would spread over this one, or a write built
    // on this one. Written again, the same value and expiry at a version above it, applied only
    // where this write (or an older state) is still held: of it and any write built on this one,
    // each replica takes the first, so at most one reaches a quorum.
    if (Restamp(now_ms)) return;
    Fail(KeyAnswer::Failure::kConflict, plan_.required, write_counted_);
    return;
  }
  const KeyAnswer::Failure failure =
      cs_->write_conflicts == 0 ? KeyAnswer::Failure::kWriteQuorum : KeyAnswer::Failure::kConflict;
  if (cs_->restamps > 0 || cs_->write_conflicts == 0) {
    // Short of its quorum by failures alone (NOQUORUM), or a re-stamp short of it: the write
    // before it was applied by a quorum and may have been built on, so it is never computed
    // again (its change could be applied twice).
    Fail(failure, plan_.required, write_counted_);
    return;
  }
  // Refused by concurrent writes: remember this attempt (it may be held somewhere), read again
  // and recompute.
  cs_->own_version[cs_->own_count] = write_version_;
  cs_->own_value[cs_->own_count] = write_value_;
  const int acks = write_counted_;
  ++cs_->own_count;
  if (!RetryConditional(now_ms)) Fail(failure, plan_.required, acks);
}

bool KeyOperation::Restamp(int64_t now_ms) {
  if (cs_->restamps >= kMaxRestamps || next_tag_ + plan_.n > kMaxTags) return false;
  ++cs_->restamps;
  ++stale_retries_;
  for (int r = 0; r < plan_.n; ++r) cs_->replica_condition[r] = write_version_;
  stale_floor_ = cs_->newer_held;
  StartWrite(now_ms, true);
  return true;
}

void KeyOperation::WriteProgress(int64_t now_ms) {
  if (answered_) return;
  if (plan_.conditional) return ConditionalWriteProgress(now_ms);
  const int counted = write_counted_ + (plan_.sloppy ? hint_stored_ : 0);
  if (counted >= plan_.required) {
    if (typed_write_ && write_stale_ > 0 && attempt_ + 1 < kMaxAttempts) {
      Restart(now_ms);
      return;
    }
    if (!typed_write_ && plan_.fixed_version.IsZero() && write_stale_ > 0 && round_ == 1) {
      // A counted replica held a newer pair: this proxy's clock is behind another writer's. Left
      // as is, the write would be acknowledged yet lose to that newer state on the first repair
      // (an acknowledged write lost: the replication simulation's seed 16, where a replica that
      // missed another proxy's DEL applied the SET and one that had it refused). Re-stamp above
      // what they hold and send once more (docs/replication.md).
      ++stale_retries_;
      StartWrite(now_ms, true);
      return;
    }
    switch (plan_.mode) {
      case KeyMode::kWrite:
        answer_.previous_live = previous_live_;
        break;
      case KeyMode::kTouch: {
        const EntryState& prev = touch_previous_;
        answer_.state = prev;
        answer_.live = prev.found && !prev.tombstone;
        answer_.value = answer_value_;
        break;
      }
      default:
        break;
    }
    answer_.performed = true;
    answer_.hints_stored = hint_stored_;
    answer_.sloppy_acks = std::max(0, plan_.required - write_counted_);
    Answer();
    return;
  }
  if (write_pending_ == 0 && hint_pending_ == 0) {
    Fail(KeyAnswer::Failure::kWriteQuorum, plan_.required, counted);
    answer_.hints_stored = hint_stored_;
  }
}

void KeyOperation::Answer() {
  answer_.write_version = write_version_;
  answer_.write_failures = write_failed_ - write_unsent_;
  answered_ = true;
  phase_ = Phase::kDone;
}

void KeyOperation::Fail(KeyAnswer::Failure failure, int required, int acks) {
  answer_.failure = failure;
  answer_.required = required;
  answer_.acks = acks;
  answer_.not_ready_applied = write_not_ready_;
  answer_.performed = false;
  Answer();
}

uint32_t KeyOperation::repair_targets() const {
  if (!newest_whole_ || !newest_.found) return 0;
  const bool typed = !newest_.tombstone && newest_type_ != typed::ValueType::kString;
  // A write that happened covers every replica with a newer pair; a typed delta does not carry
  // the other writers' elements, so a typed read state still repairs (it is a join: harmless).
  if (!typed && (answer_.performed || round_ > 0)) return 0;
  const uint64_t digest = typed ? typed::BodyDigest(newest_type_, newest_value_) : 0;
  uint32_t targets = 0;
  for (int r = 0; r < plan_.n; ++r) {
    const ReplicaRead& rr = reads_[r];
    const bool body_differs = typed && rr.seen == Seen::kState && rr.state.found &&
                              !rr.state.tombstone && rr.state.version == newest_.version &&
                              rr.body_digest != digest;
    const bool stale = (rr.seen == Seen::kState && newest_.NewerThan(rr.state)) ||
                       rr.seen == Seen::kNotReady || body_differs;
    if (stale) targets |= 1u << r;
  }
  return targets;
}

void KeyOperation::ReleaseLargeBuffers(size_t keep_bytes) {
  for (std::string* s : {&write_value_, &newest_value_, &answer_value_, &element_error_}) {
    if (s->capacity() > keep_bytes) std::string().swap(*s);
  }
}

}  // namespace shoal::proxy
