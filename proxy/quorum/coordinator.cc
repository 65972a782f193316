#include "proxy/quorum/coordinator.h"

namespace shoal::proxy {

void ReadCoordinator::Start(int n, int required) {
  tally_.Start(n, required);
  best_found_ = false;
  best_tombstone_ = false;
  best_value_.clear();
  best_version_ = Version{};
  best_expire_ = 0;
  for (auto& r : replicas_) r = ReplicaState{};
}

bool ReadCoordinator::OnReply(int replica, const ReadReply& reply) {
  ReplicaState& state = replicas_[replica];
  state.answered = true;
  state.found = reply.found;
  state.version = reply.version;
  if (reply.found && (!best_found_ || reply.version > best_version_)) {
    best_found_ = true;
    best_tombstone_ = reply.tombstone;
    best_version_ = reply.version;
    best_expire_ = reply.expire_at_ms;
    if (reply.tombstone) {
      best_value_.clear();
    } else {
      best_value_.assign(reply.value.data(), reply.value.size());
    }
  }
  return tally_.Ack();
}

bool ReadCoordinator::OnFailure(int replica) { return tally_.Fail(); }

bool ReadCoordinator::NeedsRepair(int replica) const {
  const ReplicaState& state = replicas_[replica];
  if (!state.answered || !best_found_) return false;
  return !state.found || state.version < best_version_;
}

void WriteCoordinator::Start(int n, int required, bool keep_previous_value) {
  tally_.Start(n, required);
  keep_previous_value_ = keep_previous_value;
  applied_ = condition_failed_ = 0;
  previous_found_ = previous_seen_ = false;
  previous_version_ = Version{};
  previous_value_.clear();
  previous_expire_ = 0;
}

bool WriteCoordinator::OnReply(int replica, const WriteReply& reply) {
  if (reply.applied) ++applied_;
  if (reply.condition_failed) ++condition_failed_;
  // The newest previous entry wins (replicas report the version of what they held, a tombstone
  // included; zero when they held nothing). At equal versions a live value outranks absence.
  const bool newer = !previous_seen_ || reply.previous_version > previous_version_ ||
                     (reply.previous_version == previous_version_ && reply.previous_found &&
                      !previous_found_);
  if (newer) {
    previous_seen_ = true;
    previous_found_ = reply.previous_found;
    previous_version_ = reply.previous_version;
    previous_expire_ = reply.previous_expire_at_ms;
    if (keep_previous_value_) {
      previous_value_.assign(reply.previous_value.data(), reply.previous_value.size());
    }
  }
  return tally_.Ack();
}

bool WriteCoordinator::OnFailure(int replica) { return tally_.Fail(); }

}  // namespace shoal::proxy
