#pragma once

// Phi-accrual failure detector (Hayashibara et al., 2004; the variant Akka and Cassandra use).
// Instead of a yes/no timeout it answers a suspicion level phi for a monitored member: with the
// intervals between its past heartbeats modelled as a normal distribution (mean and standard
// deviation of the last `max_samples` intervals), phi = -log10(P(the next heartbeat comes later
// than now)). phi 1 means a 10% chance of a false suspicion, phi 8 one in 10^8. The member is
// judged down when phi exceeds a threshold (--phi-threshold, default 8).
//
// Heartbeats here are arrivals of a higher gossip heartbeat (or incarnation) for the member, so
// intervals are those between news of it, whatever path the news took. A proxy's link to a node
// (proxy/upstream/link_detector.h) uses it on a request/response link: a heartbeat is any answer
// from the node, and Expect() marks when the node starts owing one after an idle spell, so that
// silence counts only while the node has something to answer.
//
// Pure: time is passed in (milliseconds of a monotonic clock), nothing sleeps. Not thread-safe:
// one owner (the member table's).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status/status.h"

namespace shoal {

struct PhiOptions {
  double threshold = 8.0;
  // The expected interval before any has been measured (the gossip interval).
  int64_t first_interval_ms = 1000;
  // Floor of the standard deviation: steady heartbeats would otherwise make the smallest delay
  // look like a failure.
  int64_t min_std_dev_ms = 250;
  // Added to the mean: a pause this long (a GC, a loaded machine) is not suspicious.
  int64_t acceptable_pause_ms = 1000;
  int max_samples = 200;

  // The options the gossip of a node uses for an interval: first estimate = interval, floor of
  // the deviation = interval / 2, acceptable pause = 2 intervals. News of a member reaches a node
  // by gossip, along paths of varying length, so arrivals are bursty: with smaller values the
  // simulation (docs/membership.md) saw live members of a 100-node cluster judged Down.
  static PhiOptions ForInterval(int64_t interval_ms, double threshold);
};

// Parses --phi-threshold (nodes and proxies): a number above 0 and at most 1000.
StatusOr<double> ParsePhiThreshold(const std::string& text);

class PhiAccrualDetector {
 public:
  explicit PhiAccrualDetector(const PhiOptions& options);

  // A heartbeat arrived at `now_ms`. The first one only starts the clock. An interval longer
  // than the current suspicion delay (an outage, or heartbeats slower than expected) is sampled
  // as that delay: the detector still adapts to slower heartbeats, a few samples at a time, but
  // one long outage does not make it slow to notice the next one.
  void Heartbeat(int64_t now_ms);

  // The member owed no heartbeat until `now_ms` and owes one from now (a request/response link
  // that was idle sent a request): the silence Phi measures, and the interval the next Heartbeat
  // samples, start here instead of at the last heartbeat. Never moves the mark back. Before the
  // first heartbeat it starts the clock as a first Heartbeat does (a member that never answers is
  // judged against the expected interval).
  void Expect(int64_t now_ms);

  // Suspicion at `now_ms` (0 before the first heartbeat and right after one).
  double Phi(int64_t now_ms) const;
  bool Suspected(int64_t now_ms) const { return Phi(now_ms) > options_.threshold; }

  // Forgets every interval (the member restarted: its past says nothing of its new life).
  void Reset();

  // The silence after a heartbeat at which phi reaches the threshold, with the current samples.
  double SuspicionDelayMs() const;

  bool started() const { return last_ms_ >= 0; }
  int64_t last_heartbeat_ms() const { return last_ms_; }
  double mean_ms() const;
  double std_dev_ms() const;
  int samples() const { return static_cast<int>(intervals_.size()); }

 private:
  void AddInterval(double interval_ms);
  // The first heartbeat (or Expect): seeds the history with the expected interval.
  void Start(int64_t now_ms);

  PhiOptions options_;
  double threshold_deviations_ = 0;  // phi reaches the threshold this many deviations past the mean
  int64_t last_ms_ = -1;
  // The last max_samples intervals, a ring (grows to max_samples, then `oldest_` wraps).
  std::vector<float> intervals_;
  size_t oldest_ = 0;
  double sum_ = 0;
  double sum_sq_ = 0;
};

}  // namespace shoal
