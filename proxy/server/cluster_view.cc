#include "proxy/server/cluster_view.h"

namespace shoal::proxy {

ClusterDirectory::ClusterDirectory()
    : slots_(new MemberSlot[kMaxMemberSlots]), health_(new NodeHealth[kMaxMemberSlots]) {}

Status ClusterDirectory::Publish(RingPtr ring, RingPtr pending_ring) {
  std::lock_guard<std::mutex> lock(mu_);
  auto view = std::make_shared<ClusterView>();
  view->ring = ring;
  view->pending_ring = pending_ring;
  int count = slot_count_.load(std::memory_order_relaxed);
  int added = 0;
  auto slots_of = [&](const Ring& r, std::vector<int>* out) -> Status {
    for (const RingMember& m : r.members()) {
      int found = -1;
      for (int s = 0; s < count + added; ++s) {
        if (slots_[s].id == m.id && slots_[s].address == m.address) {
          found = s;
          break;
        }
      }
      if (found < 0) {
        if (count + added >= kMaxMemberSlots) {
          return Status::ResourceExhausted("more than " + std::to_string(kMaxMemberSlots) +
                                           " distinct nodes seen: restart the proxy");
        }
        found = count + added++;
        slots_[found] = MemberSlot{m.id, m.address};
      }
      out->push_back(found);
    }
    return Status::Ok();
  };
  if (Status s = slots_of(*ring, &view->slot_of); !s.ok()) return s;
  if (pending_ring != nullptr) {
    if (Status s = slots_of(*pending_ring, &view->pending_slot_of); !s.ok()) return s;
  }
  view->generation = generation_.load(std::memory_order_relaxed) + 1;
  slot_count_.store(count + added, std::memory_order_release);
  view_ = std::move(view);
  generation_.store(view_->generation, std::memory_order_release);
  return Status::Ok();
}

ClusterViewPtr ClusterDirectory::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

}  // namespace shoal::proxy
