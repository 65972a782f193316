#pragma once

// shoalctl's cluster commands: they take the member list (--nodes, as the proxies are given it)
// instead of one node, and print for people, or JSON with --json.
//
//   ring        token ownership: per member, the share of the hash space it is first owner of
//               and the share it holds a replica of (with --replicas N)
//   locate KEY  the key's hash and its preference list (the replicas, in order)
//   status      per member: reachable or not, ready, start-up sync state, keys, memory used and
//               limit, request frames served, hints pending (count, bytes, oldest age), uptime
//               (one Info request each, one member after the other); exits 1 when any member
//               cannot be reached
//
// Each returns the process exit code (0 success, 1 failure with a message on stderr).

#include <string>
#include <vector>

#include "common/ring/ring.h"

namespace shoal::tools {

struct ClusterOptions {
  RingPtr ring;
  int replicas = 3;
  bool json = false;
  std::string cluster = "shoal";
  std::string secret;  // cluster secret (status): empty for none
  int timeout_ms = 5000;
};

int RunRing(const ClusterOptions& options);
int RunLocate(const ClusterOptions& options, const std::string& key);
int RunStatus(const ClusterOptions& options);

}  // namespace shoal::tools
