#include "tools/sim/sim_world.h"

#include <utility>

namespace shoal::sim {

namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = SplitMix64(seed);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

void EventQueue::At(int64_t at_ms, std::function<void()> fn) {
  events_.push(Event{at_ms < now_ ? now_ : at_ms, seq_++, std::move(fn)});
}

bool EventQueue::RunNext() {
  if (events_.empty()) return false;
  // priority_queue::top is const: move the function out through a copy of the node.
  Event event = std::move(const_cast<Event&>(events_.top()));
  events_.pop();
  now_ = event.at;
  ++executed_;
  event.fn();
  return true;
}

}  // namespace shoal::sim
