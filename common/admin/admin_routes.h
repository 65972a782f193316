#pragma once

// The admin endpoints both binaries share, and the JSON views of the ring and its members.
//
//   GET  /healthz   200 "ok" while the process runs
//   GET  /metrics   the registry in Prometheus text format (0.0.4)
//   GET  /config    the effective configuration as a JSON object, secrets masked
//   GET  /loglevel  the current log level
//   POST /loglevel?level=L   changes it at run time (400 for an unknown level)
//
// Handlers run on the admin server's threads (admin_server.h): `registry` and `options` must
// outlive the server; options' targets must not change while it runs.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/admin/admin_server.h"
#include "common/config/options.h"
#include "common/membership/gossip_wire.h"
#include "common/metrics/registry.h"
#include "common/ring/ring.h"

namespace shoal::admin {

void AddCommonRoutes(AdminServer& server, const metrics::Registry& registry,
                     const Options& options);

// {"replicas":N,"tokens_per_node":T,"ranges":R,"members":[{"id","address","primary_share",
//  "replica_share"}]}: the share of the hash space each member is first in the preference list
// for, and the share it holds a replica of (with N replicas).
std::string RingJson(const Ring& ring, int replicas);

// Per member (index into ring.members()): the fractions of the hash space behind RingJson.
struct MemberShare {
  double primary = 0;
  double replica = 0;
};
std::vector<MemberShare> RingShares(const Ring& ring, int replicas);

// {"source":"static","members":[{"id","address","state", "self"?, "link_phi"?}]}; state(i) names
// member i's state as this process sees it ("up", "down", "unknown"); `link_phi(i)`, when given,
// adds this process's phi-accrual suspicion of its link to member i (a proxy's).
std::string MembersJson(const Ring& ring, int self, const std::function<std::string(int)>& state,
                        const std::function<double(int)>& link_phi = {});

// A proxy's own view of its link to a member: "up", "down" or "none" (not in its ring), and its
// phi-accrual suspicion of the node (omitted when negative: no link).
struct MemberLink {
  std::string state;
  double phi = -1;
};

// A gossiping cluster's member table (--seeds) as one process sees it (or a static node's list,
// "source":"static", as shoalctl members --json shows it):
// {"source":"gossip","listed_by":ID,"members":[{"id","address","zone","state","phi",
//  "incarnation","heartbeat","last_heard_ms", "link"?, "link_phi"?}]}, members sorted by id;
// state is the member's state in the table (JOINING, NORMAL, LEAVING, DOWN, REMOVED), phi capped
// at 1e6 (JSON has no infinity). `link(id)`, when given, adds this process's own view of its
// connection to the member (a proxy's, MemberLink).
std::string MembersListingJson(const MembersListing& listing,
                               const std::function<MemberLink(const std::string&)>& link = {});

// Starts `server` on `address` unless empty. The built-in default address (`default_address`)
// is taken best-effort: when it cannot be bound (another process on this host has it) the
// process runs without an admin endpoint and logs a warning; any other address must bind.
// Returns true when listening, false when not (disabled, or the default in use), or an error.
StatusOr<bool> StartAdmin(AdminServer& server, const std::string& address,
                          const std::string& default_address);

}  // namespace shoal::admin
