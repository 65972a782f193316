#pragma once

// Helpers shared by the ShardStore tests: a store on a FakeClock and short ways to write and read.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "node/store/shard_store.h"

namespace shoal::node {

inline constexpr uint64_t kBigLimit = 1ull << 30;
inline constexpr int64_t kGraceMs = 60'000;

inline Version V(uint64_t hlc, uint64_t writer = 1) { return Version{hlc, writer}; }

// What the store charges for an entry.
inline uint64_t Charge(std::string_view key, std::string_view value) {
  return key.size() + value.size() + ShardStore::kEntryOverhead;
}

// The seed of a randomized test: SHOAL_TEST_SEED from the environment, else `fixed` (so that a
// run is deterministic and a failure, which prints its seed, can be replayed).
inline uint64_t TestSeed(uint64_t fixed) {
  const char* env = std::getenv("SHOAL_TEST_SEED");
  return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : fixed;
}

inline uint64_t Load(const std::atomic<uint64_t>& value) {
  return value.load(std::memory_order_relaxed);
}
inline uint64_t Load(const metrics::Counter& counter) { return counter.Value(); }
inline uint64_t Load(const metrics::Gauge& gauge) { return static_cast<uint64_t>(gauge.Value()); }

class ShardStoreTest : public ::testing::Test {
 protected:
  explicit ShardStoreTest(uint64_t limit = kBigLimit) : store_(clock_, limit, kGraceMs) {}

  PutResult Set(std::string_view key, std::string_view value, Version version,
                int64_t expire_at_ms = 0) {
    PutRequest request;
    request.key = key;
    request.value = value;
    request.version = version;
    request.expire_at_ms = expire_at_ms;
    return store_.Put(request);
  }
  PutResult Del(std::string_view key, Version version) {
    PutRequest request;
    request.key = key;
    request.version = version;
    request.tombstone = true;
    return store_.Put(request);
  }
  // The live value of `key`, or "<absent>" / "<tombstone>".
  std::string Read(std::string_view key) {
    GetResult got = store_.Get(key);
    if (!got.found) return "<absent>";
    if (got.tombstone) return "<tombstone>";
    return std::string(got.value);
  }
  int64_t Now() const { return clock_.NowMs(); }

  FakeClock clock_;
  ShardStore store_;
};

}  // namespace shoal::node
