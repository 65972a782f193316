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

#include <cstdint>
#include <memory>
#include <vector>

#include "common/clock/clock.h"
#include "common/status/status.h"
#include "node/server/node_config.h"
#include "node/server/node_context.h"

namespace shoal::node {

class ShardWorker;

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
  // Raises the node's clock to at least `hlc` (the persisted high-water mark, at start-up).
  void RaiseClock(uint64_t hlc) { context_.hlc.Observe(hlc); }

 private:
  NodeContext context_;
  std::vector<std::unique_ptr<ShardWorker>> workers_;
  uint16_t port_ = 0;
  bool running_ = false;
};

}  // namespace shoal::node
