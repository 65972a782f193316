#include "node/server/node_server.h"

#include <unistd.h>

#include <filesystem>

#include "node/hints/hint_wire.h"
#include "node/server/anti_entropy.h"
#include "node/server/listen_socket.h"
#include "node/server/node_info.h"
#include "node/server/node_metrics.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

NodeServer::NodeServer(const NodeConfig& config, const Clock& clock) : context_(config, clock) {}

NodeServer::~NodeServer() { Stop(); }

Status NodeServer::Start() {
  const int shards = static_cast<int>(context_.config.threads);
  const NodeConfig& config = context_.config;
  if (context_.members != nullptr && hints_ == nullptr) {
    hints::HintServiceConfig hc;
    hc.dir = (std::filesystem::path(config.data_dir) / "hints").string();
    hc.spool.max_bytes = config.hint_max_bytes;
    hc.spool.window_ms = config.hint_window_ms;
    hc.replay.rate_per_s = config.hint_replay_rate;
    hc.session.cluster = config.cluster;
    hc.session.self_id = config.id;
    hc.session.secret = config.cluster_secret;
    hc.session.flush_mark = [this] { return context_.flush_mark.Get(); };
    hc.ring = [members = context_.members] { return members->Current()->ring; };
    hint_ack_batches_.resize(shards);
    auto service = hints::HintService::Open(
        std::move(hc), context_.clock,
        [this](std::span<const hints::HintWriter::Result> results) { AnswerHints(results); });
    if (!service.ok()) return service.status();
    hints_ = std::move(*service);
    context_.hints = hints_.get();
  }
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
  // With members, the anti-entropy driver runs even with --anti-entropy-interval-ms 0: it then
  // runs on-demand rounds (Repair) only.
  if (context_.members != nullptr) {
    anti_entropy_ = std::make_unique<AntiEntropy>(context_);
    context_.anti_entropy_driver = anti_entropy_.get();
  }
  for (auto& w : workers_) AttachShardMetrics(context_, *w);
  AttachNodeMetrics(context_);
  for (auto& w : workers_) w->Launch();
  if (anti_entropy_ != nullptr) anti_entropy_->Start();
  if (hints_ != nullptr) hints_->Start();
  running_ = true;
  return Status::Ok();
}

void NodeServer::AnswerHints(std::span<const hints::HintWriter::Result> results) {
  for (const hints::HintWriter::Result& r : results) {
    const std::string reason =
        r.status.ok() ? std::string() : "hint not stored: " + r.status.ToString();
    std::span<const uint8_t> frame =
        hints::BuildHintAckFrame(hint_ack_builder_, r.ticket.request_id, r.status.ok(), reason);
    hint_ack_batches_[r.ticket.shard].Append(ShardMessageKind::kResponse, r.ticket.shard,
                                             r.ticket.conn_id, frame, r.ticket.request_bytes);
  }
  // The workers outlive the writer (Stop() stops it before freeing them); a closed mailbox (a
  // worker shutting down) drops the answers, as it drops any response to a closed connection.
  for (size_t shard = 0; shard < hint_ack_batches_.size(); ++shard) {
    if (!hint_ack_batches_[shard].empty()) {
      context_.workers[shard]->mailbox().Post(hint_ack_batches_[shard]);
      hint_ack_batches_[shard].Clear();
    }
  }
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
  // It talks to the workers (and answers Repairs through their mailboxes): stopped first. The
  // object outlives the workers: a Repair arriving meanwhile is refused by it (shutting down).
  if (anti_entropy_ != nullptr) anti_entropy_->Stop();
  for (auto& w : workers_) w->RequestStop();
  for (auto& w : workers_) w->Join();
  context_.anti_entropy_driver = nullptr;
  anti_entropy_.reset();
  // The hint writer writes what it was given (durable, though no longer answered) and stops
  // before the workers, whose mailboxes it posts to, are freed.
  if (hints_ != nullptr) hints_->Stop();
  final_max_hlc_ = NodeMaxHlc(context_);
  // Nothing reads the cells of the workers about to be freed (a scrape in progress ends first).
  DetachNodeMetrics(context_);
  for (auto& w : workers_) DetachShardMetrics(context_, *w);
  // Threads are gone: nothing reads the workers (or their stores) any more.
  context_.workers.clear();
  workers_.clear();
}

}  // namespace shoal::node
