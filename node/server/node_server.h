#pragma once

// NodeServer: the network side of shoal-node. Owns one ShardWorker (thread + libuv loop +
// ShardStore) per configured shard and the listening sockets they share via SO_REUSEPORT.
//
//   NodeServer server(config, SystemClock::Get());
//   Status s = server.Start();   // listening when it returns; serving from the worker threads
//   ...
//   server.Stop();               // stop accepting, close connections, join the threads
//
// Start() and Stop() are called from one controlling thread (main), never from a worker.
// With members (--nodes), the server also runs the node's hinted handoff (node/hints/): the
// spool under <data-dir>/hints is opened by Start() (a failure to open it fails the start).

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/clock/clock.h"
#include "common/status/status.h"
#include "common/wire/frame.h"
#include "node/hints/hint_service.h"
#include "node/server/node_config.h"
#include "node/server/node_context.h"
#include "node/server/shard_mailbox.h"

namespace shoal::node {

class ShardWorker;
class AntiEntropy;

class NodeServer {
 public:
  // `config` must have passed ValidateNodeConfig and outlive the server.
  NodeServer(const NodeConfig& config, const Clock& clock);
  ~NodeServer();  // stops if still running
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  Status Start();
  // Idempotent.
  void Stop();

  // The port actually listened on (the configured one, or the kernel's pick for port 0).
  uint16_t port() const { return port_; }
  const NodeContext& context() const { return context_; }
  NodeContext& mutable_context() { return context_; }
  // Before Start(): the version bound persisted by the previous run (0 for a new data directory)
  // and the warm-up to keep (0: none; see NodeConfig::warmup_ms).
  void Restore(uint64_t persisted_hlc, int64_t warmup_ms) {
    context_.restored_max_hlc = persisted_hlc;
    context_.warmup_until_monotonic_ms =
        warmup_ms > 0 ? context_.clock.MonotonicMs() + warmup_ms : 0;
  }
  ClockCeiling& ceiling() { return context_.ceiling; }
  // After Stop(): the node's max HLC when its threads ended (what a clean stop persists).
  uint64_t final_max_hlc() const { return final_max_hlc_; }
  // Main thread, after a new ceiling is durable: every shard runs the writes it parked for it.
  void NotifyCeilingRaised();

 private:
  // Writer thread (the hint writer's sink): answers every hint of a group with a HintAck, posted
  // to the shard that received it (node/server/shard_worker.h, "Hints").
  void AnswerHints(std::span<const hints::HintWriter::Result> results);

  NodeContext context_;
  std::vector<std::unique_ptr<ShardWorker>> workers_;
  std::unique_ptr<AntiEntropy> anti_entropy_;  // with --nodes (any interval, even 0)
  std::unique_ptr<hints::HintService> hints_;   // with members (ring) only
  FrameBuilder hint_ack_builder_;               // writer thread only
  std::vector<MessageBatch> hint_ack_batches_;  // writer thread only; index = shard
  uint16_t port_ = 0;
  bool running_ = false;
  uint64_t final_max_hlc_ = 0;
};

}  // namespace shoal::node
