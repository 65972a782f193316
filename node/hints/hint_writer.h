#pragma once

// HintWriter: group commit for the hint spool. Shard loops Submit() hints; one writer thread takes
// everything pending, makes it durable with ONE synced write (HintSpool::Append), and reports the
// whole group at once to the completion sink, on the writer thread. While a write is syncing, new
// hints queue up and form the next group, so the number of fsyncs per second stays bounded by the
// disk while the hints per fsync grow with the load.
//
//   HintWriter writer(spool, [](std::span<const HintWriter::Result> results) { ... });
//   writer.Start();
//   writer.Submit(std::move(hint), ticket);   // any thread; the hint must be Admit()ted
//   ...
//   writer.Stop();   // writes what is queued, reports it, joins
//
// The ticket is opaque to the writer: the submitter's way to route the answer (e.g. shard,
// connection and request id). Thread rules: Submit from any thread; Start and Stop from one
// controlling thread; the sink runs on the writer thread only; the counters' cells are written by
// the writer thread (or the test driving it) and read by any.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "common/metrics/cells.h"
#include "common/status/status.h"
#include "node/hints/hint_record.h"
#include "node/hints/hint_spool.h"

namespace shoal::node::hints {

// The writer's metrics (docs/operations.md, "Watch"): X(type, field, name, help).
#define SHOAL_HINT_WRITER_METRICS(X)                                                          \
  X(Counter, groups, "shoal_node_hint_writes_total",                                          \
    "Synced writes of the hint spool (group commits: each makes every hint queued durable).") \
  X(Gauge, largest_group, "shoal_node_hint_write_largest_group",                              \
    "The most hints one synced write of the hint spool made durable since start.")

struct HintWriterStats {
  SHOAL_HINT_WRITER_METRICS(SHOAL_METRIC_FIELD)
};

struct HintTicket {
  uint32_t shard = 0;
  uint64_t conn_id = 0;
  uint64_t request_id = 0;
  uint32_t request_bytes = 0;
};

class HintWriter {
 public:
  struct Result {
    HintTicket ticket;
    Status status;  // ok: the hint is durable
  };
  using Sink = std::function<void(std::span<const Result>)>;

  HintWriter(HintSpool& spool, Sink sink) : spool_(spool), sink_(std::move(sink)) {}
  ~HintWriter();  // stops if running
  HintWriter(const HintWriter&) = delete;
  HintWriter& operator=(const HintWriter&) = delete;

  void Start();
  // Writes and reports everything submitted so far, then ends the thread. Idempotent.
  void Stop();

  // Queues a hint (admitted with its SpoolBytes()). Without a running writer (never started, or
  // stopped) it is reported failed at once, on the calling thread, and its reservation released.
  void Submit(Hint hint, HintTicket ticket);

  // Synced writes made and the largest group written; the hints it stored
  // (spool_counters().stored).
  const HintWriterStats& stats() const { return stats_; }
  const SpoolCounters& spool_counters() const { return spool_counters_; }

  // Runs one group now on the calling thread (tests drive the writer without its thread).
  // Returns the number of hints written (0 when nothing was queued).
  size_t WriteQueuedForTest() { return WriteGroup(); }

 private:
  void Run();
  size_t WriteGroup();

  HintSpool& spool_;
  Sink sink_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Hint> queued_;         // guarded by mu_
  std::vector<HintTicket> tickets_;  // guarded by mu_, parallel to queued_
  bool running_ = false;             // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  bool accepting_ = true;            // guarded by mu_: false once stopped

  // Writer thread only (read by any).
  HintWriterStats stats_;
  SpoolCounters spool_counters_;
};

}  // namespace shoal::node::hints
