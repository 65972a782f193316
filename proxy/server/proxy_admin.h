#pragma once

// The proxy's admin endpoint (common/admin/): the shared routes plus
//   GET /readyz    200 when the proxy has a ring, its workers have settled their first
//                  connections, and some token range has a quorum of replicas not marked down
//                  (so some keys can be read and written at QUORUM); else 503 with the reason
//   GET /ring      token ownership of the members
//   GET /members   the members with the state this proxy sees ("up" / "down")
// and the readings the metrics registry computes from the shared node health
// (shoal_proxy_upstream_up{node}, handshake refusals). Handlers run on the admin server's
// threads and read only SharedState's thread-safe parts (atomics, the immutable ring).

#include <functional>

#include "common/admin/admin_server.h"
#include "common/config/options.h"
#include "proxy/server/shared_state.h"

namespace shoal::proxy {

// `workers_ready`: whether every worker has settled its first connections (any thread).
void AddProxyAdminRoutes(admin::AdminServer& server, SharedState& shared, const Options& options,
                         std::function<bool()> workers_ready);

// Registers the readings of SharedState::health (owner: &shared).
void AttachProxyMetrics(SharedState& shared);

// Why the proxy cannot serve QUORUM for any range ("" when it can).
std::string NotReadyReason(const SharedState& shared);

}  // namespace shoal::proxy
