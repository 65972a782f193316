#pragma once

// The node's admin endpoint routes (common/admin/): the shared ones plus
//   GET /readyz    200 when serving reads (past the warm-up and the start-up sync), else 503
//   GET /ring      token ownership of the static members (--nodes); {} for a standalone node
//   GET /members   the static members (this node "up", the others "unknown" until gossip)
// The routes read `node` from the admin server's threads: only its thread-safe parts.

#include "common/admin/admin_server.h"
#include "common/config/options.h"
#include "node/server/node_context.h"

namespace shoal::node {

void AddNodeAdminRoutes(admin::AdminServer& server, const NodeContext& node,
                        const Options& options);

}  // namespace shoal::node
