#include "node/server/clock_ceiling.h"

#include <algorithm>

#include "common/clock/hlc.h"

namespace shoal::node {

void ClockCeiling::Want(uint64_t hlc) {
  uint64_t seen = wanted_.load(std::memory_order_relaxed);
  while (seen < hlc && !wanted_.compare_exchange_weak(seen, hlc, std::memory_order_acq_rel)) {
  }
  if (wake_ != nullptr) uv_async_send(wake_);
}

uint64_t ClockCeiling::Target(int64_t wall_ms, uint64_t max_hlc) const {
  const uint64_t wall = wall_ms > 0 ? static_cast<uint64_t>(wall_ms) : 0;
  const uint64_t need =
      std::max({HlcFromParts(wall, 0), max_hlc, wanted_.load(std::memory_order_acquire)});
  const uint64_t current = durable();
  if (current > need && current - need >= HlcFromParts(kRefreshMs, 0)) return 0;
  return need + HlcFromParts(kMarginMs, 0);
}

}  // namespace shoal::node
