#pragma once

// A simulated proxy: the proxy's own per-key path with the simulation's network and clock in
// place of libevent. Each command is planned by the proxy's PlanKeyCommand (proxy/command/
// key_commands.h) from its RESP arguments, run by the proxy's KeyOperation state machine
// (proxy/quorum/key_operation.h), and spoken to the nodes through the proxy's BuildKeyRequest /
// FeedKeyReply / BuildRepairPut (proxy/upstream/key_messages.h), exactly as proxy/server/worker.cc
// does. What is the simulation's own: the network (SimNetwork), the clock (a FakeClock at
// simulated time plus an offset, and the HLC over it), per-request timeouts (NodeLink's, one
// timeout after each request is sent), and the answer handed back (the KeyAnswer with the versions
// the oracle needs, instead of RESP bytes). Not modelled: a node link marked down refusing
// requests at once, and the worker's deduplication of repairs already in flight (it only saves
// messages).
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
#include "proxy/quorum/key_operation.h"
#include "tools/sim/sim_world.h"

namespace shoal::sim {

class SimNetwork {
 public:
  virtual ~SimNetwork() = default;
  virtual void SendToReplica(int proxy, int replica, std::vector<uint8_t> frame) = 0;
};

// A client command as it would arrive in RESP (args[0] is its name), with the connection's
// consistency levels. Single-key commands only.
struct Command {
  std::vector<std::string> args;
  proxy::Consistency read_level = proxy::Consistency::kQuorum;
  proxy::Consistency write_level = proxy::Consistency::kQuorum;
  std::string Text() const;  // the arguments, space-separated
};

// What a command's key operation answered (proxy/quorum/key_operation.h's KeyAnswer, with what
// the oracle needs beside it).
struct Outcome {
  bool ok = false;    // planned, and every phase reached its quorum
  std::string error;  // otherwise: the planning error or the quorum failure
  // The state the command saw (kRead and kReadThenWrite: the resolved one; kTouch: the newest
  // pre-touch state among the counted replies), when `saw_state`.
  bool saw_state = false;
  proxy::EntryState state;
  bool live = false;
  bool has_value = false;  // `value` is the live value answered (GET, SET GET, GETDEL, GETEX)
  std::string value;
  // The write the command made, when `wrote` (it reached its quorum).
  bool wrote = false;
  bool wrote_touch = false;  // a Touch (expiry only); else a Put
  bool tombstone = false;    // the Put was a delete
  Version written;           // its version (a re-stamped write's second)
  bool performed = false;    // KeyAnswer::performed
  bool previous_live = false;
};

// Every Put and Touch a proxy sends for a command (not repairs), before it leaves: the oracle's
// history of what each version was written with.
struct Issued {
  std::string key;
  bool touch = false;  // a Touch: `version` is an expiry version, `expire_at_ms` what it set
  Version version;
  bool tombstone = false;
  std::string value;
  int64_t expire_at_ms = 0;
};

class SimProxy {
 public:
  SimProxy(int index, uint64_t writer, int64_t clock_offset_ms, RingPtr ring, int replicas,
           int64_t timeout_ms, EventQueue& queue, SimNetwork& network,
           std::function<void(const Issued&)> on_issue);
  ~SimProxy();

  int index() const { return index_; }
  void SetTime(int64_t sim_now_ms) { clock_.Set(sim_now_ms + clock_offset_ms_); }
  int64_t NowMs() const { return clock_.NowMs(); }

  // Runs one command; `done` is called exactly once, when the command is answered (possibly
  // before Execute returns, for a command refused at planning).
  void Execute(const Command& command, std::function<void(const Outcome&)> done);
  // A response frame from replica `replica` (any order, duplicates and late ones included).
  void OnResponse(int replica, std::span<const uint8_t> frame);

  // Reports every request sent, answer fed and timeout (for a failing seed's trace).
  void set_trace(std::function<void(const std::string&)> trace) { trace_ = std::move(trace); }

  uint64_t read_repairs() const { return read_repairs_; }
  uint64_t stale_retries() const { return stale_retries_; }

 private:
  struct Op;
  struct Pending {
    uint64_t op;
    uint8_t tag;
  };

  void Advance(Op& op);
  void Send(Op& op, const proxy::NodeRequest& request);
  void ReplicaDone(const Pending& pending, const wire::Envelope* envelope);
  void SendRepairs(Op& op);

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
  std::function<void(const std::string&)> trace_;
  FrameBuilder builder_;
  uint32_t value_rotation_ = 0;  // as the worker's: which replica a read asks for the value
  uint64_t next_op_ = 1;
  uint64_t next_request_ = 1;
  std::map<uint64_t, std::unique_ptr<Op>> ops_;
  std::map<uint64_t, Pending> requests_;  // request id -> its op and tag, until answered
  uint64_t read_repairs_ = 0;
  uint64_t stale_retries_ = 0;
};

}  // namespace shoal::sim
