#pragma once

// MemberFollower: how shoal-proxy --seeds learns the cluster (docs/membership.md). Every
// --members-refresh-ms it asks one node for its member table (MembersRequest): the node that
// answered last, else the seeds (names resolved again each time, so a DNS name with several
// addresses is several seeds), else any member it knew. When the ring's members (every member
// neither JOINING nor REMOVED; DOWN ones stay) or their addresses change, it builds the new ring
// and publishes it (cluster_view.h); the workers take it between events. JOINING members are
// published beside it (ClusterView::pending_ring): writes reach them, reads do not. Ring membership
// comes only from the cluster, so every proxy routes alike; a link's own down state (NodeHealth)
// still lets a proxy skip a node quickly.
//
// Thread rules: FetchOnce/Start/Stop from the controlling thread (main); Latest from any thread.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config/options.h"
#include "common/membership/gossip_wire.h"
#include "common/ring/ring.h"
#include "common/status/status.h"
#include "proxy/server/cluster_view.h"

namespace shoal::proxy {

struct FollowerOptions {
  std::vector<HostPort> seeds;
  std::string cluster;
  std::string sender_id;
  std::string secret;
  int tokens_per_node = Ring::kDefaultTokensPerNode;
  int64_t refresh_ms = 1000;
  int64_t timeout_ms = 1000;  // connect and answer, per node asked
};

class MemberFollower {
 public:
  MemberFollower(FollowerOptions options, ClusterDirectory& directory);
  ~MemberFollower();  // stops

  // One refresh on the caller's thread: asks nodes until one answers; publishes a changed ring.
  Status FetchOnce();
  void Start();
  void Stop();

  // The last listing fetched and the node that gave it (empty before the first). A listing is
  // shown only once the ring it forms is published (cluster_view.h): a reader that then takes
  // the directory's view routes with every ring member the listing shows.
  MembersListing Latest() const;

 private:
  StatusOr<MembersListing> Ask(const std::string& address);
  void Run();

  const FollowerOptions options_;
  ClusterDirectory& directory_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  MembersListing latest_;                      // guarded by mu_
  std::string last_good_;                      // follower thread (or FetchOnce before Start)
  std::vector<RingMember> published_;          // the ring members last published
  std::vector<RingMember> published_joining_;  // and the JOINING ones
  std::thread thread_;
};

}  // namespace shoal::proxy
