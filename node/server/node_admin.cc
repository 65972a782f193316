#include "node/server/node_admin.h"

#include "common/admin/admin_routes.h"
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
    if (node.ring == nullptr) return HttpResponse::Json(200, "{}");
    return HttpResponse::Json(200,
                              admin::RingJson(*node.ring, static_cast<int>(node.config.replicas)));
  });
  server.Get("/members", [&node](const HttpRequest&) {
    if (node.ring == nullptr)
      return HttpResponse::Json(200, "{\"source\":\"static\",\"members\":[]}");
    return HttpResponse::Json(200, admin::MembersJson(*node.ring, node.self, [&node](int m) {
                                return std::string(m == node.self ? "up" : "unknown");
                              }));
  });
}

}  // namespace shoal::node
