#pragma once

// A simulated proxy: its own FakeClock (simulated time plus an offset) and hybrid logical clock,
// the real quorum coordinators (proxy/quorum), and the per-key glue that turns a command into
// node requests and replies into coordinator input. The glue follows docs/replication.md's proxy
// rules; it mirrors proxy/server/worker.cc (which is tied to libevent and cannot run here) and is
// the part to replace with the proxy's I/O-free per-key state machine once it exists.
//
// Single-threaded, driven by the simulation's EventQueue; sends through a SimNetwork.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/ring/ring.h"
#include "common/wire/frame.h"
#include "proxy/quorum/consistency.h"
#include "proxy/quorum/coordinator.h"
#include "tools/sim/sim_world.h"

namespace shoal::sim {

class SimNetwork {
 public:
  virtual ~SimNetwork() = default;
  virtual void SendToReplica(int proxy, int replica, std::vector<uint8_t> frame) = 0;
};

enum class CommandKind : unsigned char { kGet, kSet, kDel, kExpire, kPersist };
const char* CommandName(CommandKind kind);

struct Command {
  CommandKind kind = CommandKind::kGet;
  std::string key;
  std::string value;         // SET
  int64_t expire_at_ms = 0;  // SET (0 = none), EXPIRE (absolute, in the proxy's clock)
  proxy::Consistency level = proxy::Consistency::kQuorum;
};

struct Outcome {
  bool ok = false;  // the quorum was reached (else NOQUORUM)
  // GET
  bool found = false;
  std::string value;
  Version version;  // GET: value version answered; writes: the version this command wrote
  // writes
  int applied = 0;
  int64_t integer = 0;  // DEL: 1 if a live value was seen; EXPIRE/PERSIST: 1 if applied to one
};

// Every version a proxy stamps, reported before the request leaves (the oracle's history).
struct Issued {
  CommandKind kind;
  std::string key;
  Version version;  // value version (SET, DEL) or expiry version (EXPIRE, PERSIST)
  std::string value;
  int64_t expire_at_ms;
  bool tombstone;
};

class SimProxy {
 public:
  SimProxy(int index, uint64_t writer, int64_t clock_offset_ms, RingPtr ring, int replicas,
           int64_t timeout_ms, EventQueue& queue, SimNetwork& network,
           std::function<void(const Issued&)> on_issue);

  int index() const { return index_; }
  void SetTime(int64_t sim_now_ms) { clock_.Set(sim_now_ms + clock_offset_ms_); }
  int64_t NowMs() const { return clock_.NowMs(); }

  // Runs one command; `done` is called once, when the quorum is decided.
  void Execute(const Command& command, std::function<void(const Outcome&)> done);
  // A response frame from replica `replica` (any order, duplicates and late ones included).
  void OnResponse(int replica, std::span<const uint8_t> frame);

  uint64_t read_repairs() const { return read_repairs_; }
  uint64_t stale_retries() const { return stale_retries_; }

 private:
  struct Op {
    uint64_t id = 0;
    Command command;
    std::function<void(const Outcome&)> done;  // empty once called
    bool is_read = false;
    bool retried = false;  // a write refused as stale everywhere is re-stamped once
    Version version;       // stamped (writes)
    int n = 0;
    int members[Ring::kMaxReplicas] = {};
    bool pending[Ring::kMaxReplicas] = {};
    int pending_count = 0;
    proxy::ReadCoordinator read;
    proxy::WriteCoordinator write;
    // Reads: the newest whole state by (version, expiry_version) and each replica's pair. The
    // legacy ReadCoordinator orders by version alone, which would pair one reply's expiry with
    // another's expiry version (seed 383); resolution and repairs here use the pair, as
    // proxy/quorum/key_operation does.
    bool best_found = false;
    bool best_tombstone = false;
    std::string best_value;
    Version best_version;
    Version best_expiry_version;
    int64_t best_expire_at_ms = 0;
    bool replica_answered[Ring::kMaxReplicas] = {};
    bool replica_found[Ring::kMaxReplicas] = {};
    Version replica_version[Ring::kMaxReplicas] = {};
    Version replica_expiry_version[Ring::kMaxReplicas] = {};
    // Reads: replicas whose reply carried the value (a repair source must).
    bool stale_somewhere = false;  // writes: a reply so far held a newer version
  };

  void Start(std::unique_ptr<Op> op);
  void ReplicaDone(Op& op, int slot, const wire::Envelope* envelope);
  void MaybeDecide(Op& op);
  void Finish(Op& op);
  void SendRepairs(Op& op);
  void Absorb(const wire::Version* v);

  const int index_;
  const uint64_t writer_;
  const int64_t clock_offset_ms_;
  FakeClock clock_;
  HybridLogicalClock hlc_;
  RingPtr ring_;
  const int replicas_;
  const int64_t timeout_ms_;
  EventQueue& queue_;
  SimNetwork& network_;
  std::function<void(const Issued&)> on_issue_;
  FrameBuilder builder_;
  uint64_t next_op_ = 1;
  uint64_t next_request_ = 1;
  std::map<uint64_t, std::unique_ptr<Op>> ops_;
  struct Pending {
    uint64_t op;
    int slot;
  };
  std::map<uint64_t, Pending> requests_;
  uint64_t read_repairs_ = 0;
  uint64_t stale_retries_ = 0;
};

}  // namespace shoal::sim
