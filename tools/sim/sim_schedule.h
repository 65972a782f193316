#pragma once

// One simulated schedule of the replicated cache, and the oracle that judges it.
//
// RunSchedule(seed, options) derives everything from the seed: the cluster (3-5 nodes, 3
// replicas per key), the proxies' and nodes' clock offsets, the network's loss, duplication and
// delay (reordering follows from random delays), the clients' commands and the faults (nodes down
// for a while, nodes restarted empty). It runs until every client has finished, then heals the
// network and checks:
//   1. one version, one state: every entry a replica holds has a version some client write
//      stamped, the value that write carried, and the expiry of the write or Touch its
//      expiry_version names (so equal (version, expiry_version) means equal value and expiry);
//   2. no stale read: every state a command saw (a GET's, the read phase of SET NX/XX/GET/
//      KEEPTTL, GETDEL and PEXPIRE NX/XX/GT/LT, the pre-touch state of PEXPIRE, PERSIST and
//      GETEX) is at least the newest value write acknowledged before it began (when at most one
//      node was ever unavailable), and a live state answered carries the value and the expiry its
//      pair was written with (always);
//   3. no lost write: a final QUORUM read of every key answers at least the newest acknowledged
//      write (same condition), and never a value an acknowledged DEL removed;
//   3b. (check_real_time_order) an acknowledged value write (SET, DEL, and the conditional ones
//      that wrote) is versioned above every value write acknowledged before it began, so it is not
//      lost to last-writer-wins;
//   4. convergence: after a full repair (every replica sent the greatest state held for the key),
//      all replicas of a key hold the same state, and check 1 still holds.
// Deterministic: the same seed and options give the same run, event for event.

#include <cstdint>
#include <string>

namespace shoal::sim {

struct SimOptions {
  int min_nodes = 3;
  int max_nodes = 5;
  int replicas = 3;
  int proxies = 2;
  int clients = 4;
  int commands_per_client = 12;
  int keys = 3;
  bool faults = true;   // nodes down for a while, restarted empty
  bool touches = true;  // PEXPIREAT / PERSIST
  bool ttls = true;     // SET with an expiry
  // SET NX / XX / GET / KEEPTTL and GETDEL (and, with touches, PEXPIRE NX/XX/GT/LT and GETEX):
  // the read-then-write commands
  bool conditionals = true;
  int64_t max_proxy_clock_offset_ms = 50;
  // An acknowledged SET/DEL must be versioned above every SET/DEL acknowledged before it began
  // (else it is lost although acknowledged; needs the proxy to re-stamp stale writes).
  bool check_real_time_order = false;
  bool trace = false;  // record every event (for reproducing a failing seed)
};

struct SimResult {
  bool ok = true;
  std::string failure;  // the first violation
  std::string trace;    // when options.trace
  uint64_t events = 0;
  uint64_t commands = 0;
  uint64_t acknowledged = 0;
  uint64_t read_repairs = 0;
  uint64_t stale_retries = 0;
};

SimResult RunSchedule(uint64_t seed, const SimOptions& options);

}  // namespace shoal::sim
