#include "node/server/node_server.h"

#include <unistd.h>

#include "node/server/anti_entropy.h"
#include "node/server/listen_socket.h"
#include "node/server/node_info.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

NodeServer::NodeServer(const NodeConfig& config, const Clock& clock) : context_(config, clock) {}

NodeServer::~NodeServer() { Stop(); }

Status NodeServer::Start() {
  const int shards = static_cast<int>(context_.config.threads);
  auto fds = OpenReusePortListeners(context_.config.listen_address, shards, &port_);
  if (!fds.ok()) return fds.status();

  for (int i = 0; i < shards; ++i) {
    workers_.push_back(std::make_unique<ShardWorker>(context_, static_cast<uint32_t>(i)));
    context_.workers.push_back(workers_.back().get());
  }
  // Every mailbox must be open before any thread can post to it: prepare all, then launch.
  for (int i = 0; i < shards; ++i) {
    Status s = workers_[i]->Prepare((*fds)[i]);
    if (!s.ok()) {
      for (int j = i + 1; j < shards; ++j) close((*fds)[j]);
      context_.workers.clear();
      workers_.clear();
      return s;
    }
  }
  for (auto& w : workers_) w->Launch();
  if (context_.ring != nullptr && context_.config.anti_entropy_interval_ms > 0) {
    anti_entropy_ = std::make_unique<AntiEntropy>(context_);
    anti_entropy_->Start();
  }
  running_ = true;
  return Status::Ok();
}

void NodeServer::NotifyCeilingRaised() {
  if (!running_) return;
  for (auto& w : workers_) {
    MessageBatch batch;
    batch.Append(ShardMessageKind::kCeilingRaised, 0, 0, {});
    w->mailbox().Post(batch);
  }
}

void NodeServer::Stop() {
  if (!running_) return;
  running_ = false;
  if (anti_entropy_ != nullptr) anti_entropy_->Stop();  // it talks to the workers: first
  anti_entropy_.reset();
  for (auto& w : workers_) w->RequestStop();
  for (auto& w : workers_) w->Join();
  final_max_hlc_ = NodeMaxHlc(context_);
  // Threads are gone: nothing reads the workers (or their stores) any more.
  context_.workers.clear();
  workers_.clear();
}

}  // namespace shoal::node
