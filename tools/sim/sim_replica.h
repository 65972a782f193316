#pragma once

// One simulated storage node: a real ShardStore behind the node's real request path
// (ValidateKeyedRequest + RequestExecutor), fed whole wire frames and answering wire frames.
// Its clock is a FakeClock that the simulation sets (simulated time plus this node's offset).
//
// What the simulation models itself (the node's event loop does it in production):
//  - a node restarted empty answers Get, Touch and conditional Puts (if_version_at_most) with
//    Error{NotReady} until its warm-up ends (node/server's --warmup-ms, NotReadyRefuses), other
//    Puts are applied at once and answered with not_ready set;
//  - a node that is down receives nothing (the network drops what is sent to it).

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/clock/clock.h"
#include "common/wire/frame.h"
#include "node/server/request_executor.h"
#include "node/store/shard_store.h"

namespace shoal::sim {

// A replica's state for one key, as a Get with want_value shows it.
struct ReplicaEntry {
  bool found = false;
  bool tombstone = false;
  std::string value;
  Version version;
  Version expiry_version;  // zero when the node does not report one (== version)
  int64_t expire_at_ms = 0;

  Version EffectiveExpiryVersion() const {
    return expiry_version.IsZero() ? version : expiry_version;
  }
  bool operator==(const ReplicaEntry&) const = default;
};

class SimReplica {
 public:
  static constexpr uint64_t kMemoryLimit = 1ull << 20;  // a few keys; a small evicted-version floor
  static constexpr int64_t kTombstoneGraceMs = 3'600'000;

  SimReplica(int index, int64_t clock_offset_ms, int64_t sim_now_ms);

  int index() const { return index_; }
  // Sets this node's wall clock from simulated time.
  void SetTime(int64_t sim_now_ms) { clock_.Set(sim_now_ms + clock_offset_ms_); }
  int64_t NowMs() const { return clock_.NowMs(); }

  // Executes one request frame and returns the response frame (Error frames included).
  std::vector<uint8_t> Handle(std::span<const uint8_t> request, int64_t sim_now_ms);

  // Loses everything; Get and Touch answer NotReady until `warm_until_sim_ms`.
  void RestartEmpty(int64_t warm_until_sim_ms);
  void EndWarmup() { warm_until_ = 0; }

  // The key's state, read through the request path (the oracle's view; refreshes LRU only).
  ReplicaEntry Inspect(std::string_view key, int64_t sim_now_ms);
  // Writes a whole state (both versions) through the request path, as a repair would.
  void WriteWhole(std::string_view key, const ReplicaEntry& entry, int64_t sim_now_ms);

  bool up = true;

 private:
  const int index_;
  const int64_t clock_offset_ms_;
  FakeClock clock_;
  std::unique_ptr<node::ShardStore> store_;
  std::unique_ptr<node::RequestExecutor> executor_;
  FrameBuilder out_;
  FrameBuilder scratch_;
  int64_t warm_until_ = 0;
  uint64_t next_id_ = 1;
};

}  // namespace shoal::sim
