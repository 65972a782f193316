// Keyspace commands fanned out over every node (fanout.h): FLUSHALL / FLUSHDB. Replies and error
// wording follow Redis 7.
//
// FLUSHALL (docs/replication.md, "Flush"): the proxy stamps a flush marker M with its HLC and sends
// FlushRequest{M} to every ring member. A node persists M, removes every state older than (M, M)
// and from then on refuses older writes and reads every key it does not hold as a tombstone of
// (M, M). If a node reports (FlushResponse.max_hlc) a version at or above M, an acknowledged write
// could be newer than the flush: M is re-stamped above it and sent again, once. The command
// answers OK when at most N - W nodes missed the marker (N replicas, W the connection's write
// consistency), so that every key still has W replicas that hold it; otherwise NOQUORUM, saying
// how many applied it. Nodes that missed it learn it from their peers (anti-entropy, sync on
// start, hint replay) and from every proxy that knows it (its Hello, or a FlushRequest its link
// sends when it learns a newer marker: proxy/upstream/flush_mark.h), and until then lose every
// read resolution to the marker's tombstone.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/wire/version_wire.h"
#include "proxy/command/args.h"
#include "proxy/command/command_table.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {

constexpr uint64_t kPlaceholderRequestId = 1;  // patched per link (NodeLink::Send)

class FlushHandler final : public FanoutHandler {
 public:
  FlushHandler(ClientConnection& client, ReplySlot& slot, int required)
      : client_(client), slot_(slot), required_(required) {}

  // Stamps a marker above everything this proxy has seen and sends it to every member.
  void Start(Worker& worker, std::unique_ptr<FanoutHandler> self) {
    SharedState& shared = worker.shared();
    marker_ = Version{shared.hlc.Now(), shared.config.writer_id};
    const size_t members = worker.ring().members().size();
    applied_.assign(members, false);
    max_hlc_ = 0;
    error_.clear();
    FrameBuilder builder(256);
    auto& b = builder.Start();
    const wire::Version v = wire::ToWire(marker_);
    auto req = wire::CreateFlushRequest(b, &v);
    const std::span<const uint8_t> frame =
        builder.Finish(kPlaceholderRequestId, wire::Message::FlushRequest, req.Union());
    std::vector<FanoutRequest> requests;
    for (size_t m = 0; m < members; ++m) requests.push_back({static_cast<int>(m), frame});
    hlc_ = &shared.hlc;
    known_ = &shared.known_flush;
    worker.Fanout(std::move(self), requests);
  }

  void OnReply(size_t index, const wire::Envelope* envelope) override {
    if (envelope == nullptr) return;
    if (const auto* r = envelope->message_as_FlushResponse()) {
      const Version held = wire::FromWire(r->flush_version());
      applied_[index] = held >= marker_;
      max_hlc_ = std::max(max_hlc_, r->max_hlc());
      known_->Offer(held);     // the links teach it to the nodes that missed it
      hlc_->Update(held.hlc);  // a refusal (too far ahead) is counted by the clock; harmless here
      return;
    }
    if (const auto* e = envelope->message_as_Error(); e != nullptr && error_.empty()) {
      error_ = e->message() != nullptr ? e->message()->str() : std::string("error");
    }
  }

  void OnDone(Worker& worker, std::unique_ptr<FanoutHandler> self) override {
    if (!restamped_ && max_hlc_ >= marker_.hlc) {
      // A node holds (or saw) a version at or above the marker: a write acknowledged before this
      // FLUSHALL could be stamped above it by a proxy whose clock is ahead. Once, above it.
      restamped_ = true;
      hlc_->Update(max_hlc_);
      Start(worker, std::move(self));
      return;
    }
    const int applied = static_cast<int>(std::count(applied_.begin(), applied_.end(), true));
    std::string reply;
    if (applied >= required_) {
      resp::AppendOk(reply);
    } else {
      std::string msg = "NOQUORUM flush needed " + std::to_string(required_) + " of " +
                        std::to_string(applied_.size()) + " nodes, " + std::to_string(applied) +
                        " applied it (the others learn it from their peers)";
      if (!error_.empty()) msg += " (node error: " + error_ + ")";
      resp::AppendError(reply, msg);
    }
    client_.EndFanout(slot_, reply);
  }

 private:
  ClientConnection& client_;
  ReplySlot& slot_;
  const int required_;
  HybridLogicalClock* hlc_ = nullptr;
  KnownFlushMark* known_ = nullptr;
  Version marker_;
  std::vector<bool> applied_;  // by member
  uint64_t max_hlc_ = 0;
  std::string error_;  // the first error a node answered
  bool restamped_ = false;
};

}  // namespace

void ClientConnection::CmdFlush(const CommandSpec& spec, Args args) {
  ReplySlot& slot = NewSlot(spec.id);
  if (args.size() > 2 || (args.size() == 2 && !EqualsIgnoreCase(args[1], "async") &&
                          !EqualsIgnoreCase(args[1], "sync"))) {
    return ReplyError(slot, kErrSyntax);
  }
  // Every key keeps W replicas that applied the marker when at most N - W nodes missed it.
  const int members = static_cast<int>(worker_.ring().members().size());
  const int n = std::min(static_cast<int>(worker_.config().replicas), members);
  const int missing_allowed = n - RequiredReplicas(write_level_, n);
  auto handler = std::make_unique<FlushHandler>(*this, slot, members - missing_allowed);
  FlushHandler* raw = handler.get();
  BeginFanout();
  raw->Start(worker_, std::move(handler));
}

}  // namespace shoal::proxy
