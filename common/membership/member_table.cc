#include "common/membership/member_table.h"

#include <algorithm>

namespace shoal {

MemberTable::MemberTable(MemberRecord self, const PhiOptions& phi, const Clock& clock)
    : self_id_(self.id), phi_options_(phi), clock_(clock) {
  entries_.emplace(self_id_, Entry{std::move(self), PhiAccrualDetector(phi)});
}

const MemberRecord& MemberTable::self() const { return entries_.find(self_id_)->second.record; }

void MemberTable::Beat() { ++entries_.find(self_id_)->second.record.heartbeat; }

Status MemberTable::SetSelfState(MemberState state) {
  MemberRecord& self = entries_.find(self_id_)->second.record;
  if (state == MemberState::kDown) {
    return Status::InvalidArgument("a node cannot declare itself DOWN");
  }
  if (state < self.state) {
    return Status::FailedPrecondition(std::string("cannot go from ") + MemberStateName(self.state) +
                                      " back to " + MemberStateName(state));
  }
  if (state == self.state) return Status::Ok();
  const bool was_in_ring = InRing(self);
  self.state = state;
  if (InRing(self) != was_in_ring) ++ring_generation_;
  return Status::Ok();
}

MergeOutcome MemberTable::Merge(const MemberRecord& record) {
  if (!InvalidRecordReason(record).empty()) return MergeOutcome::kInvalid;
  const int64_t now = clock_.MonotonicMs();
  auto it = entries_.find(record.id);
  if (it == entries_.end()) {
    Entry entry{record, PhiAccrualDetector(phi_options_)};
    entry.detector.Heartbeat(now);
    entries_.emplace(record.id, std::move(entry));
    if (InRing(record)) ++ring_generation_;
    return MergeOutcome::kAdded;
  }
  MemberRecord& held = it->second.record;
  if (!Supersedes(record, held)) return MergeOutcome::kUnchanged;
  if (record.id == self_id_) {
    // A newer record of this node than its own: a rumour (Removed) or its previous life. Raise
    // the incarnation above it; the node's own state, heartbeat and address stand.
    held.incarnation = std::max(held.incarnation, record.incarnation) + 1;
    return MergeOutcome::kRefuted;
  }
  const bool was_in_ring = InRing(held);
  const bool moved = held.address != record.address || held.zone != record.zone;
  if (record.incarnation > held.incarnation) {
    // The member restarted: its past intervals say nothing of its new life.
    it->second.detector.Reset();
    it->second.detector.Heartbeat(now);
  } else if (record.heartbeat > held.heartbeat) {
    it->second.detector.Heartbeat(now);
  }
  held = record;
  if (InRing(held) != was_in_ring || (moved && InRing(held))) ++ring_generation_;
  return MergeOutcome::kUpdated;
}

Status MemberTable::MarkRemoved(std::string_view id) {
  if (id == self_id_) return Status::InvalidArgument("a node cannot remove itself this way");
  auto it = entries_.find(id);
  if (it == entries_.end()) return Status::NotFound("no member '" + std::string(id) + "'");
  MemberRecord& held = it->second.record;
  if (held.state == MemberState::kRemoved) return Status::Ok();
  const bool was_in_ring = InRing(held);
  held.state = MemberState::kRemoved;
  if (was_in_ring) ++ring_generation_;
  return Status::Ok();
}

const MemberRecord* MemberTable::Find(std::string_view id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second.record;
}

std::vector<GossipDigest> MemberTable::Digests() const {
  std::vector<GossipDigest> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back({id, e.record.version()});
  return out;
}

std::vector<MemberRecord> MemberTable::Records() const {
  std::vector<MemberRecord> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e.record);
  return out;
}

std::vector<const MemberRecord*> MemberTable::RecordPointers() const {
  std::vector<const MemberRecord*> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(&e.record);
  return out;
}

MemberState MemberTable::StateOf(std::string_view id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return MemberState::kRemoved;
  const MemberRecord& r = it->second.record;
  if (r.state == MemberState::kRemoved || id == self_id_) return r.state;
  return it->second.detector.Suspected(clock_.MonotonicMs()) ? MemberState::kDown : r.state;
}

double MemberTable::PhiOf(std::string_view id) const {
  auto it = entries_.find(id);
  if (it == entries_.end() || id == self_id_) return 0;
  return it->second.detector.Phi(clock_.MonotonicMs());
}

std::vector<MemberView> MemberTable::Views() const {
  std::vector<MemberView> out;
  out.reserve(entries_.size());
  const int64_t now = clock_.MonotonicMs();
  for (const auto& [id, e] : entries_) {
    MemberView v;
    v.record = e.record;
    v.state = StateOf(id);
    if (id != self_id_) {
      v.phi = e.detector.Phi(now);
      v.last_heard_ms = std::max<int64_t>(0, now - e.detector.last_heartbeat_ms());
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::pair<const MemberRecord*, MemberState>> MemberTable::SeenStates() const {
  std::vector<std::pair<const MemberRecord*, MemberState>> out;
  out.reserve(entries_.size());
  const int64_t now = clock_.MonotonicMs();
  for (const auto& [id, e] : entries_) {
    MemberState seen = e.record.state;
    if (id != self_id_ && seen != MemberState::kRemoved && e.detector.Suspected(now)) {
      seen = MemberState::kDown;
    }
    out.emplace_back(&e.record, seen);
  }
  return out;
}

std::vector<RingMember> MemberTable::RingMembers() const {
  std::vector<RingMember> out;
  for (const auto& [id, e] : entries_) {
    if (InRing(e.record)) out.push_back({id, e.record.address, e.record.zone});
  }
  return out;
}

}  // namespace shoal
