#include "proxy/server/proxy_admin.h"

#include "common/admin/admin_routes.h"
#include "proxy/quorum/consistency.h"

namespace shoal::proxy {

namespace {

bool Down(const SharedState& shared, int m) {
  return shared.health[m].down.load(std::memory_order_relaxed);
}

}  // namespace

std::string NotReadyReason(const SharedState& shared) {
  if (shared.ring == nullptr || shared.ring->members().empty()) return "no ring";
  const int n = static_cast<int>(shared.config.replicas);
  const int need = RequiredReplicas(Consistency::kQuorum, n);
  for (const Ring::Range& r : shared.ring->Ranges(n)) {
    int up = 0;
    for (int i = 0; i < r.count; ++i) up += Down(shared, r.replicas[i]) ? 0 : 1;
    if (up >= need) return "";
  }
  int down = 0;
  for (size_t m = 0; m < shared.health.size(); ++m) down += Down(shared, static_cast<int>(m));
  return "no token range has " + std::to_string(need) + " of its " + std::to_string(n) +
         " replicas reachable (" + std::to_string(down) + " of " +
         std::to_string(shared.health.size()) + " nodes down)";
}

void AddProxyAdminRoutes(admin::AdminServer& server, SharedState& shared, const Options& options,
                         std::function<bool()> workers_ready) {
  using admin::HttpRequest;
  using admin::HttpResponse;
  admin::AddCommonRoutes(server, shared.metrics, options);
  server.Get("/readyz", [&shared, workers_ready](const HttpRequest&) {
    if (!workers_ready()) return HttpResponse::Text(503, "not ready: connecting to the nodes\n");
    const std::string reason = NotReadyReason(shared);
    if (!reason.empty()) return HttpResponse::Text(503, "not ready: " + reason + "\n");
    return HttpResponse::Text(200, "ready\n");
  });
  server.Get("/ring", [&shared](const HttpRequest&) {
    return HttpResponse::Json(
        200, admin::RingJson(*shared.ring, static_cast<int>(shared.config.replicas)));
  });
  server.Get("/members", [&shared](const HttpRequest&) {
    return HttpResponse::Json(200, admin::MembersJson(*shared.ring, -1, [&shared](int m) {
                                return std::string(Down(shared, m) ? "down" : "up");
                              }));
  });
}

void AttachProxyMetrics(SharedState& shared) {
  using metrics::Kind;
  using metrics::Registry;
  const auto& members = shared.ring->members();
  shared.metrics.AddCallback(
      Kind::kGauge, "shoal_proxy_upstream_up",
      "1 while a node is not marked down (connections failing or a run of timeouts).", {"node"},
      [&shared, &members](const Registry::Emit& emit) {
        for (size_t m = 0; m < members.size(); ++m) {
          emit({members[m].id}, Down(shared, static_cast<int>(m)) ? 0 : 1);
        }
      },
      &shared);
  shared.metrics.AddCallback(
      Kind::kCounter, "shoal_proxy_upstream_handshake_refusals_total",
      "Nodes refused at the handshake: answered as another member or cluster (identity), or "
      "without the cluster secret's proof (auth).",
      {"node", "reason"},
      [&shared, &members](const Registry::Emit& emit) {
        for (size_t m = 0; m < members.size(); ++m) {
          const NodeHealth& h = shared.health[m];
          emit({members[m].id, "identity"},
               static_cast<double>(h.identity_refusals.load(std::memory_order_relaxed)));
          emit({members[m].id, "auth"},
               static_cast<double>(h.auth_refusals.load(std::memory_order_relaxed)));
        }
      },
      &shared);
  shared.metrics.AddCallback(
      Kind::kGauge, "shoal_proxy_ready",
      "1 when some token range has a quorum of replicas not marked down.", {},
      [&shared](const Registry::Emit& emit) { emit({}, NotReadyReason(shared).empty() ? 1 : 0); },
      &shared);
}

}  // namespace shoal::proxy
