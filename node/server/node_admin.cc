#include "node/server/node_admin.h"

#include "common/admin/admin_routes.h"
#include "node/gossip/gossip_service.h"
#include "node/server/node_metrics.h"

namespace shoal::node {

void AddNodeAdminRoutes(admin::AdminServer& server, const NodeContext& node,
                        const Options& options) {
  using admin::HttpRequest;
  using admin::HttpResponse;
  admin::AddCommonRoutes(server, node.metrics, options);
  server.Get("/readyz", [&node](const HttpRequest&) {
    if (NodeReady(node)) return HttpResponse::Text(200, "ready\n");
    if (node.Syncing()) {
      return HttpResponse::Text(503,
                                "not ready: pulling its keys from its peers (start-up sync)\n");
    }
    const int64_t left = node.warmup_until_monotonic_ms - node.clock.MonotonicMs();
    return HttpResponse::Text(
        503, "not ready: warming up (" + std::to_string(left > 0 ? left : 0) + " ms left)\n");
  });
  server.Get("/ring", [&node](const HttpRequest&) {
    const int replicas = static_cast<int>(node.config.replicas);
    if (node.gossip != nullptr) {
      // The ring the member table forms now (as the proxies route), not the one at start.
      auto ring =
          Ring::Build(node.gossip->RingMembers(), static_cast<int>(node.config.tokens_per_node));
      if (!ring.ok()) return HttpResponse::Json(200, "{}");
      return HttpResponse::Json(200, admin::RingJson(**ring, replicas));
    }
    if (node.members == nullptr) return HttpResponse::Json(200, "{}");
    return HttpResponse::Json(200, admin::RingJson(*node.members->Current()->ring, replicas));
  });
  server.Get("/members", [&node](const HttpRequest&) {
    if (node.gossip != nullptr) {
      return HttpResponse::Json(200, admin::MembersListingJson(node.gossip->Listing()));
    }
    if (node.members == nullptr)
      return HttpResponse::Json(200, "{\"source\":\"static\",\"members\":[]}");
    const RingSnapshotPtr now = node.members->Current();
    return HttpResponse::Json(200, admin::MembersJson(*now->ring, now->self, [&now](int m) {
                                return std::string(m == now->self ? "up" : "unknown");
                              }));
  });
}

}  // namespace shoal::node
