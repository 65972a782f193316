#include "node/gossip/stream_pacer.h"

#include <algorithm>
#include <cmath>

namespace shoal::node {

int64_t StreamPacer::Spend(uint64_t bytes, int64_t now_ms) {
  if (rate_ == 0) return 0;
  const double now = static_cast<double>(now_ms);
  // Time not used is lost, but for a burst's worth.
  if (!started_ || next_ms_ < now - kBurstMs) next_ms_ = now - kBurstMs;
  started_ = true;
  next_ms_ += static_cast<double>(bytes) * 1000.0 / static_cast<double>(rate_);
  return std::max<int64_t>(0, static_cast<int64_t>(std::ceil(next_ms_ - now)));
}

bool StreamPacer::SetRate(uint64_t bytes_per_s) {
  if (bytes_per_s == rate_) return false;
  rate_ = bytes_per_s;
  started_ = false;
  return true;
}

}  // namespace shoal::node
