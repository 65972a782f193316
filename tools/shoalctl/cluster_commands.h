#pragma once

// shoalctl's cluster commands: they take the member list (--nodes, as the proxies are given it)
// or the seeds of a gossiping cluster (--seeds: the member table is asked of the first seed that
// answers, MembersRequest, and the ring built from it as the proxies build theirs: every member
// neither JOINING nor REMOVED) instead of one node, and print for people, or JSON with --json.
//
//   ring        token ownership: per member, the share of the hash space it is first owner of
//               and the share it holds a replica of (with --replicas N)
//   locate KEY  the key's hash and its preference list (the replicas, in order)
//   status      per member: reachable or not, ready, start-up sync state, keys, memory used and
//               limit, request frames served, hints pending (count, bytes, oldest age), uptime
//               (one Info request each, one member after the other); exits 1 when any member
//               cannot be reached. With --seeds: every member of the table (JOINING ones too),
//               with its state as the seed sees it (NORMAL, DOWN, LEAVING...); a REMOVED member
//               is listed but not asked, and does not fail the command
//
// Each returns the process exit code (0 success, 1 failure with a message on stderr).

#include <optional>
#include <string>
#include <vector>

#include "common/config/options.h"
#include "common/membership/gossip_wire.h"
#include "common/ring/ring.h"
#include "common/status/status.h"

namespace shoal::tools {

struct ClusterOptions {
  RingPtr ring;
  int replicas = 3;
  bool json = false;
  std::string cluster = "shoal";
  std::string secret;  // cluster secret (status): empty for none
  int timeout_ms = 5000;
  // With --seeds: the member table the ring was built from, and the address that gave it.
  std::optional<MembersListing> listing;
  std::string listed_by;
};

// The member table of the first of `seeds` (each name resolved, each address in turn) that
// answers MembersRequest; `answered` gets its address. Unavailable, naming the last failure, when
// none does. Uses options' cluster, secret and timeout_ms (per address).
StatusOr<MembersListing> FetchMemberTable(const std::vector<HostPort>& seeds,
                                          const ClusterOptions& options, std::string* answered);

int RunRing(const ClusterOptions& options);
int RunLocate(const ClusterOptions& options, const std::string& key);
int RunStatus(const ClusterOptions& options);

}  // namespace shoal::tools
