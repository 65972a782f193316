#include "proxy/server/proxy_admin.h"

#include "common/admin/admin_routes.h"
#include "proxy/quorum/consistency.h"
#include "proxy/server/member_follower.h"

namespace shoal::proxy {

namespace {

// `slot`: a ClusterDirectory slot (cluster_view.h), not a ring index. Down or suspected.
bool Down(const SharedState& shared, int slot) { return shared.directory.health(slot).Skipped(); }

double Phi(const SharedState& shared, int slot) {
  return shared.directory.health(slot).phi.load(std::memory_order_relaxed);
}

}  // namespace

std::string NotReadyReason(const SharedState& shared) {
  const ClusterViewPtr view = shared.directory.view();
  if (view == nullptr || view->ring == nullptr || view->ring->members().empty()) return "no ring";
  const int n = static_cast<int>(shared.config.replicas);
  const int need = RequiredReplicas(Consistency::kQuorum, n);
  for (const Ring::Range& r : view->ring->Ranges(n)) {
    int up = 0;
    for (int i = 0; i < r.count; ++i) up += Down(shared, view->slot_of[r.replicas[i]]) ? 0 : 1;
    if (up >= need) return "";
  }
  int down = 0;
  for (int slot : view->slot_of) down += Down(shared, slot);
  return "no token range has " + std::to_string(need) + " of its " + std::to_string(n) +
         " replicas reachable (" + std::to_string(down) + " of " +
         std::to_string(view->slot_of.size()) + " nodes down)";
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
    const ClusterViewPtr view = shared.directory.view();
    return HttpResponse::Json(
        200, admin::RingJson(*view->ring, static_cast<int>(shared.config.replicas)));
  });
  server.Get("/members", [&shared](const HttpRequest&) {
    if (shared.follower != nullptr) {
      // --seeds: the member table last fetched, with this proxy's link to each ring member (the
      // listing is shown once its ring is published: take the view after it).
      const MembersListing listing = shared.follower->Latest();
      const ClusterViewPtr view = shared.directory.view();
      return HttpResponse::Json(
          200, admin::MembersListingJson(listing, [&](const std::string& id) {
            const int m = view->ring->IndexOf(id);
            if (m < 0) return admin::MemberLink{"none"};  // not in the ring: no link
            const int slot = view->slot_of[m];
            return admin::MemberLink{Down(shared, slot) ? "down" : "up", Phi(shared, slot)};
          }));
    }
    const ClusterViewPtr view = shared.directory.view();
    return HttpResponse::Json(
        200, admin::MembersJson(
                 *view->ring, -1,
                 [&](int m) { return std::string(Down(shared, view->slot_of[m]) ? "down" : "up"); },
                 [&](int m) { return Phi(shared, view->slot_of[m]); }));
  });
}

void AttachProxyMetrics(SharedState& shared) {
  using metrics::Kind;
  using metrics::Registry;
  shared.metrics.AddCallback(
      Kind::kGauge, "shoal_proxy_upstream_up",
      "1 while a node is not marked down (connections failing or a run of timeouts) nor suspected "
      "(phi above --phi-threshold).",
      {"node"},
      [&shared](const Registry::Emit& emit) {
        // Every node of the current view (a node that left the ring is no longer reported).
        const ClusterViewPtr view = shared.directory.view();
        for (int slot : view->slot_of) {
          emit({shared.directory.slot(slot).id}, Down(shared, slot) ? 0 : 1);
        }
      },
      &shared);
  shared.metrics.AddCallback(
      Kind::kGauge, "shoal_proxy_upstream_phi",
      "This proxy's phi-accrual suspicion of a node, from the answers it reads on its link "
      "(suspected above --phi-threshold; 0 while the node owes no answer).",
      {"node"},
      [&shared](const Registry::Emit& emit) {
        const ClusterViewPtr view = shared.directory.view();
        for (int slot : view->slot_of) emit({shared.directory.slot(slot).id}, Phi(shared, slot));
      },
      &shared);
  shared.metrics.AddCallback(
      Kind::kGauge, "shoal_proxy_ready",
      "1 when some token range has a quorum of replicas not marked down.", {},
      [&shared](const Registry::Emit& emit) { emit({}, NotReadyReason(shared).empty() ? 1 : 0); },
      &shared);
}

}  // namespace shoal::proxy
