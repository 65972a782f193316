#pragma once

// A deterministic simulation of Shoal's membership gossip: N nodes, each with the real
// MemberTable, phi-accrual detectors and gossip round (common/membership/), exchanging the real
// wire frames (gossip_wire.h, FrameBuilder) over a simulated network that delays and loses
// messages, on simulated time. It measures what docs/membership.md reports: rounds until every
// node knows every member, bytes per node per second, and how long until every node sees a killed
// node Down and a restarted one back. Single-threaded, no real clock, no sleep: the same options
// give the same run.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock/clock.h"
#include "common/membership/member_table.h"
#include "common/wire/frame.h"
#include "tools/sim/sim_world.h"

namespace shoal::sim {

struct GossipSimOptions {
  int nodes = 10;
  int seeds = 3;  // nodes 0..seeds-1 are every node's --seeds
  int64_t interval_ms = 1000;
  double loss = 0.0;  // each message is lost with this probability
  int64_t min_latency_ms = 1;
  int64_t max_latency_ms = 20;
  double phi_threshold = 8.0;
  int phi_max_samples = 100;
  // Overrides of PhiOptions::ForInterval (0: keep it), for tuning runs.
  int64_t phi_min_std_dev_ms = 0;
  int64_t phi_acceptable_pause_ms = -1;
  uint64_t seed = 1;
};

// Traffic counters (whole frames, length prefix included).
struct GossipTraffic {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t lost = 0;
};

class GossipSim {
 public:
  explicit GossipSim(const GossipSimOptions& options);
  ~GossipSim();

  // Starts node i (knowing only its seeds) at a random phase within the next interval. A node
  // started again after Kill is a fresh process: incarnation 1, heartbeat 0, an empty table.
  void Start(int node);
  void StartAll();
  void Kill(int node);
  // Adds a node (not started) and returns its index.
  int AddNode();

  // Runs simulated time forward to `at_ms`, checking `done` every `step_ms`; returns the first
  // checked time at which `done` held, or -1.
  template <typename Pred>
  int64_t RunUntil(int64_t at_ms, int64_t step_ms, Pred done) {
    while (queue_.now() < at_ms) {
      RunTo(std::min(at_ms, queue_.now() + step_ms));
      if (done()) return queue_.now();
    }
    return -1;
  }
  void RunTo(int64_t at_ms);

  int64_t now() const { return queue_.now(); }
  int size() const { return static_cast<int>(nodes_.size()); }
  bool up(int node) const;
  const MemberTable& table(int node) const;
  const std::string& id(int node) const;

  // Every running node knows every node that has ever run, at its current incarnation (and
  // agrees on its gossiped state).
  bool AllKnowAll() const;
  // How many running nodes (other than `node`) see `node` in `state`.
  int CountSeeing(int node, MemberState state) const;
  int running() const;
  // Pairs (observer, member) of running nodes where the observer sees the member Down.
  int FalseDownPairs() const;

  const GossipTraffic& traffic() const { return traffic_; }

 private:
  struct Node;
  class SimClock final : public Clock {
   public:
    explicit SimClock(const EventQueue& q) : q_(q) {}
    int64_t NowMs() const override { return q_.now(); }
    int64_t MonotonicMs() const override { return q_.now(); }

   private:
    const EventQueue& q_;
  };

  void Round(int node, uint64_t life);
  // Sends a frame from -> to; `deliver` runs at the receiver if it arrives and `to` is still in
  // the same life.
  void Send(int from, int to, std::span<const uint8_t> frame,
            std::function<void(const wire::Envelope&)> deliver);
  int NodeOf(const std::string& address) const;

  GossipSimOptions options_;
  EventQueue queue_;
  SimClock clock_;
  Rng rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::string> seeds_;
  std::unordered_map<std::string, int> by_address_;
  FrameBuilder builder_;
  GossipTraffic traffic_;
};

}  // namespace shoal::sim
