#include "proxy/quorum/msetnx.h"

#include <algorithm>
#include <cassert>

#include "common/typed/typed_value.h"

namespace shoal::proxy {

void MSetNx::Start(std::span<const std::string_view> pairs) {
  assert(pairs.size() >= 2 && pairs.size() % 2 == 0);
  *this = MSetNx{};
  keys_.resize(pairs.size() / 2);
  for (size_t i = 0; i < keys_.size(); ++i) {
    keys_[i].key.assign(pairs[2 * i]);
    keys_[i].value.assign(pairs[2 * i + 1]);
    for (size_t j = i + 1; j < keys_.size() && !keys_[i].duplicate; ++j) {
      keys_[i].duplicate = pairs[2 * j] == pairs[2 * i];
    }
  }
  StartPhase(Phase::kRead);
}

uint32_t MSetNx::running() const {
  return static_cast<uint32_t>(
      std::count_if(keys_.begin(), keys_.end(), [](const Key& k) { return k.runs; }));
}

void MSetNx::StartPhase(Phase phase) {
  phase_ = phase;
  for (Key& k : keys_) {
    k.runs = !k.duplicate;
    if (phase == Phase::kUndo) {
      k.runs = k.runs && std::any_of(std::begin(k.applied), std::end(k.applied),
                                     [](const Version& v) { return !v.IsZero(); });
    }
  }
}

KeyPlan MSetNx::Plan(uint32_t i) const {
  const Key& k = keys_[i];
  KeyPlan plan;
  switch (phase_) {
    case Phase::kRead:
      plan.mode = KeyMode::kRead;
      plan.read_every_replica = true;
      break;
    case Phase::kWrite:
      plan.mode = KeyMode::kWrite;
      plan.value = k.value;
      plan.conditional = true;
      std::fill(std::begin(plan.if_version_at_most), std::end(plan.if_version_at_most), k.base);
      break;
    case Phase::kUndo:
      plan.mode = KeyMode::kWrite;
      plan.tombstone = true;
      plan.conditional = true;
      plan.retract = true;
      // Just above the own write (its last round), below any later write of anyone.
      plan.fixed_version = typed::DerivedVersion(k.sent, k.sent);
      for (int r = 0; r < Ring::kMaxReplicas; ++r) {
        if (k.applied[r].IsZero()) continue;
        plan.replica_mask |= 1u << r;
        plan.if_version_at_most[r] = k.applied[r];
      }
      break;
    case Phase::kDone:
      assert(false);
      break;
  }
  return plan;
}

void MSetNx::NoteFailure(const KeyAnswer& answer, std::string_view node_error) {
  failure_ = answer;
  failure_.value = failure_.typed_body = failure_.error = {};
  node_error_.assign(node_error);
  failure_noted_ = true;
}

void MSetNx::OnDecided(uint32_t i, const KeyAnswer& answer, std::string_view node_error) {
  Key& k = keys_[i];
  const bool failed = answer.failure != KeyAnswer::Failure::kNone;
  switch (phase_) {
    case Phase::kRead:
      if (failed) {
        if (!read_failed_) NoteFailure(answer, node_error);
        read_failed_ = true;
        return;
      }
      Judge(answer, k);
      return;
    case Phase::kWrite:
      std::copy(std::begin(answer.applied_version), std::end(answer.applied_version),
                std::begin(k.applied));
      k.sent = answer.write_version;
      k.performed = answer.performed && !failed;
      if (!k.performed && answer.write_failures > 0 &&
          std::all_of(std::begin(k.applied), std::end(k.applied),
                      [](const Version& v) { return v.IsZero(); })) {
        // Applied by no replica that answered: no undo tombstone will stand above a late apply.
        ++in_doubt_keys_;
        if (!failure_noted_) NoteFailure(answer, node_error);
      }
      if (answer.failure == KeyAnswer::Failure::kConflict) {
        conflict_ = true;
      } else if (failed) {
        if (!write_failed_) NoteFailure(answer, node_error);
        write_failed_ = true;
      }
      return;
    case Phase::kUndo:
      k.undone = answer.performed && !failed;
      if (!k.undone) {
        if (undo_failed_keys_ == 0) NoteFailure(answer, node_error);  // the reply names the undo
        ++undo_failed_keys_;
      }
      return;
    case Phase::kDone:
      return;
  }
}

MSetNx::Phase MSetNx::Finish(Outcome outcome) {
  outcome_ = outcome;
  phase_ = Phase::kDone;
  for (Key& k : keys_) k.runs = false;
  return phase_;
}

MSetNx::Phase MSetNx::Next() {
  switch (phase_) {
    case Phase::kRead:
      if (read_failed_) return Finish(Outcome::kReadFailed);
      if (std::any_of(keys_.begin(), keys_.end(), [](const Key& k) { return k.live; })) {
        return Finish(Outcome::kExists);
      }
      if (std::any_of(keys_.begin(), keys_.end(), [](const Key& k) { return k.ambiguous; })) {
        return Retry(Outcome::kConflict);
      }
      StartPhase(Phase::kWrite);
      return phase_;
    case Phase::kWrite:
      if (std::all_of(keys_.begin(), keys_.end(),
                      [](const Key& k) { return k.duplicate || k.performed; })) {
        return Finish(Outcome::kSet);
      }
      StartPhase(Phase::kUndo);
      if (running() > 0) return phase_;
      break;  // nothing was applied anywhere: nothing to undo
    case Phase::kUndo:
      if (undo_failed_keys_ > 0) return Finish(Outcome::kUndoFailed);
      break;
    case Phase::kDone:
      return phase_;
  }
  // Undone (or nothing to undo).
  if (in_doubt_keys_ > 0) return Finish(Outcome::kInDoubt);
  if (write_failed_) return Finish(Outcome::kWriteFailed);
  // Refused for a concurrent write: read again; the other writer's key answers 0, or its own
  // undo left none and this one writes again.
  return Retry(Outcome::kConflict);
}

MSetNx::Phase MSetNx::Retry(Outcome outcome) {
  if (attempt_ + 1 >= kMaxAttempts) return Finish(outcome);
  ++attempt_;
  conflict_ = false;
  for (Key& k : keys_) {
    k.live = k.ambiguous = k.performed = k.undone = false;
    // (in_doubt_keys_ is 0 here: a key in doubt ends the command.)
    k.base = k.sent = Version{};
    std::fill(std::begin(k.applied), std::end(k.applied), Version{});
  }
  StartPhase(Phase::kRead);
  return phase_;
}

// As a conditional read-modify-write builds only on a version `required` replicas hold (an
// acknowledged state: docs/replication.md), MSETNX judges a key on such a state. Live: the key
// exists. Not live (nothing, a tombstone, an expired value): the key exists all the same when a
// replica holds a newer live value (a write in flight, or one that missed its quorum but is
// stored there); otherwise the write may go, conditioned on that very version: it applies where
// that state (or an older one, a replica that missed it) is held, never over a newer state held
// by fewer replicas (another writer's refused write or its undo), which a later write of that
// writer could be built on. No state on `required` replicas (refused writes, an undo in flight):
// ambiguous, read again.
void MSetNx::Judge(const KeyAnswer& answer, Key& k) {
  const auto read = [&](int r) { return ((answer.replicas_read >> r) & 1) != 0; };
  const auto live = [&](int r) {
    // The resolved (newest) state's `live` also says whether an emptied hash or set is a key.
    const bool resolved = answer.replica_version[r] == answer.state.version;
    return ((answer.replicas_live >> r) & 1) != 0 && (!resolved || answer.live);
  };
  int chosen = -1;
  for (int r = 0; r < Ring::kMaxReplicas; ++r) {
    if (!read(r)) continue;
    int holders = 0;
    for (int q = 0; q < Ring::kMaxReplicas; ++q) {
      holders += read(q) && answer.replica_version[q] == answer.replica_version[r];
    }
    if (holders >= answer.required &&
        (chosen < 0 || answer.replica_version[r] > answer.replica_version[chosen])) {
      chosen = r;
    }
  }
  if (chosen < 0) {
    k.ambiguous = true;
    return;
  }
  const Version held = answer.replica_version[chosen];
  for (int r = 0; r < Ring::kMaxReplicas; ++r) {
    if (read(r) && live(r) && answer.replica_version[r] >= held) k.live = true;
  }
  k.base = held;
}

}  // namespace shoal::proxy
