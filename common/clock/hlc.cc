#include "common/clock/hlc.h"

#include <random>
#include <string>

namespace shoal {

uint64_t NewWriterId() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) ^ rd();
  return id;
}

uint64_t HybridLogicalClock::NowAt(int64_t wall_ms) {
  const uint64_t wall = HlcFromParts(static_cast<uint64_t>(wall_ms), 0);
  uint64_t last = last_.load(std::memory_order_acquire);
  while (true) {
    // Either the wall clock moved past everything seen (logical restarts at 0), or we tick the
    // logical counter. A full logical counter carries into the physical part, which stays
    // monotonic and only runs ahead of wall time by a millisecond per 65536 events.
    const uint64_t next = wall > last ? wall : last + 1;
    if (last_.compare_exchange_weak(last, next, std::memory_order_acq_rel)) return next;
  }
}

Status HybridLogicalClock::Update(uint64_t remote_hlc) {
  const int64_t now_ms = clock_.NowMs();
  const int64_t remote_ms = static_cast<int64_t>(HlcWallMs(remote_hlc));
  if (remote_ms - now_ms > max_offset_ms_) {
    return Status::InvalidArgument("timestamp " + std::to_string(remote_ms - now_ms) +
                                   "ms ahead of the local clock (max_clock_offset " +
                                   std::to_string(max_offset_ms_) + "ms)");
  }
  Observe(remote_hlc);
  return Status::Ok();
}

void HybridLogicalClock::Observe(uint64_t hlc) {
  uint64_t last = last_.load(std::memory_order_acquire);
  while (hlc > last &&
         !last_.compare_exchange_weak(last, hlc, std::memory_order_acq_rel)) {
  }
}

}  // namespace shoal
