#pragma once

// HintService: the node's hinted handoff, put together: the spool (<data-dir>/hints), the group
// commit writer and, when the node knows the cluster's members, the replayer that delivers the
// hints to their targets at the addresses of the ring (a standalone node spools nothing: it
// refuses HintPuts, having no way to deliver them).
//
//   auto hints = HintService::Open(config, clock, sink);   // before the shard threads start
//   (*hints)->Start();
//   ... shard loops: Admit, then writer().Submit(); the sink answers them ...
//   (*hints)->Stop();    // after the shard threads ended
//
// Thread rules: Open, Start, Stop from the controlling thread; spool() and writer() from any
// thread (see their own rules); the sink runs on the writer thread.

#include <functional>
#include <memory>
#include <string>

#include "common/clock/clock.h"
#include "common/metrics/registry.h"
#include "common/ring/ring.h"
#include "common/status/status.h"
#include "node/hints/hint_replayer.h"
#include "node/hints/hint_spool.h"
#include "node/hints/hint_writer.h"
#include "node/hints/node_session.h"

namespace shoal::node::hints {

struct HintServiceConfig {
  std::string dir;  // the spool's directory (<data-dir>/hints)
  SpoolOptions spool;
  ReplayOptions replay;
  SessionConfig session;  // how this node introduces itself to the targets
  // The members and their addresses now (hint targets are looked up at each delivery, so a
  // member whose address changed is reached at its new one); empty: no replay.
  std::function<RingPtr()> ring;
};

class HintService {
 public:
  static StatusOr<std::unique_ptr<HintService>> Open(HintServiceConfig config, const Clock& clock,
                                                     HintWriter::Sink sink);
  ~HintService();  // stops if running
  HintService(const HintService&) = delete;
  HintService& operator=(const HintService&) = delete;

  void Start();
  // Writes what is queued, stops replay, joins the threads. Idempotent.
  void Stop();

  HintSpool& spool() { return *spool_; }
  const HintSpool& spool() const { return *spool_; }
  HintWriter& writer() { return *writer_; }
  // Attaches the writer's and the replayer's counters (theirs and their SpoolCounters) to
  // `registry` with `owner` (registry.h); the shards attach their own SpoolCounters.
  void AttachMetrics(metrics::Registry& registry, const void* owner) const;
  // Whether this node can deliver hints (it knows the members' addresses).
  bool can_replay() const { return replayer_ != nullptr; }
  // Any thread (a configuration reload): the replay rate, hints per second (>= 1); no-op without
  // a replayer.
  void SetReplayRate(int64_t rate_per_s) {
    if (replayer_ != nullptr) replayer_->SetRate(rate_per_s);
  }

 private:
  HintService() = default;
  StatusOr<std::unique_ptr<HintSession>> OpenSession(const std::string& target);

  HintServiceConfig config_;
  std::unique_ptr<HintSpool> spool_;
  std::unique_ptr<HintWriter> writer_;
  std::unique_ptr<HintReplayer> replayer_;
};

}  // namespace shoal::node::hints
