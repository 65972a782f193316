#include "node/server/member_ring.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace shoal::node {

MemberRing::MemberRing(std::string self_id, int tokens_per_node, RingPtr initial)
    : self_id_(std::move(self_id)), tokens_per_node_(tokens_per_node) {
  auto snapshot = std::make_shared<RingSnapshot>();
  snapshot->self = initial->IndexOf(self_id_);
  snapshot->ring = std::move(initial);
  current_ = std::move(snapshot);
}

RingSnapshotPtr MemberRing::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

bool MemberRing::Update(const std::vector<RingMember>& members) {
  const RingSnapshotPtr now = Current();
  const auto& held = now->ring->members();
  const bool same = std::equal(held.begin(), held.end(), members.begin(), members.end(),
                               [](const RingMember& a, const RingMember& b) {
                                 return a.id == b.id && a.address == b.address && a.zone == b.zone;
                               });
  if (same) return false;
  auto ring = Ring::Build(members, tokens_per_node_);
  if (!ring.ok()) {
    spdlog::warn("members: cannot build a ring from the member table: {}", ring.status().message());
    return false;
  }
  const int self = (*ring)->IndexOf(self_id_);
  if (self < 0) return false;
  auto next = std::make_shared<RingSnapshot>();
  next->ring = std::move(*ring);
  next->self = self;
  std::string ids;
  for (const auto& m : next->ring->members()) ids += (ids.empty() ? "" : ",") + m.id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next->generation = current_->generation + 1;
    current_ = next;
    generation_.store(next->generation, std::memory_order_release);
  }
  spdlog::info("members: this node now repairs with {} (generation {})", ids, next->generation);
  return true;
}

}  // namespace shoal::node
