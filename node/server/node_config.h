#pragma once

// NodeConfig: everything shoal-node is configured with. Each field is a flag (`--name VALUE`) and
// a key of the YAML file given with `--config FILE`; flags override the file.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/options.h"
#include "common/ring/ring.h"
#include "common/status/status.h"

namespace shoal::node {

struct NodeConfig {
  std::string id;                         // required: this node's id (unique in the cluster)
  std::string listen = "127.0.0.1:7000";  // HOST:PORT of the node protocol
  std::string data_dir = "./shoal-data";  // created if missing (later: RocksDB hint spool)
  uint64_t max_memory = 256ull << 20;     // bytes, split evenly across shards
  int64_t threads = 2;                    // shards, one event-loop thread each
  std::string log_level = "info";
  std::string log_format = "text";  // text | json (one JSON object per line)
  // Admin HTTP endpoint (common/admin/): kDefaultAdmin is taken best-effort (in use: a warning);
  // any other address must bind; "" disables it.
  static constexpr const char* kDefaultAdmin = "127.0.0.1:9700";
  std::string admin = kDefaultAdmin;
  std::string cluster = "shoal";          // peers saying Hello with another name are refused
  uint64_t max_frame_size = 64ull << 20;  // largest accepted envelope, bytes
  int64_t max_clock_offset_ms = 60'000;   // versions further ahead than this are refused
  // Tombstones are purged after this: longer than the hint window plus two anti-entropy
  // intervals (the defaults' 3h02m, plus an hour), so that a delete a replica missed reaches it by
  // its hint or by anti-entropy while the other replicas still hold it. With --nodes, a grace at or
  // below the hint window plus two intervals is refused.
  int64_t tombstone_grace_ms = 4 * 3'600'000 + 2 * 60'000;
  // Hash field and set member tombstones are purged once their version is this old (wall clock;
  // docs/data-model.md "Element tombstones"): the same bound as the tombstones' (a replica that
  // missed an element write gets it within the hint window plus two intervals, and a floor that
  // claims it had it before then would drop it). 3h10m: the defaults' 3h02m plus the clock offset
  // allowed and a margin; shorter than the keys' grace, since a hash with churning fields keeps
  // its tombstones in its body (charged to the key, moved by every read and write of it).
  int64_t element_tombstone_grace_ms = 3 * 3'600'000 + 10 * 60'000;
  int64_t warmup_ms = 60'000;        // a restarted node answers reads NotReady this long
  int64_t sync_timeout_ms = 60'000;  // with --nodes: how long the start-up sync retries its peers
  std::string cluster_secret_file;   // empty: no cluster secret, no Auth (see auth/)
  // The cluster's static members, this node included (the proxies' --nodes list). Empty: a
  // standalone node, which neither replays hints nor runs anti-entropy.
  std::string nodes;
  int64_t replicas = 3;  // N: replicas per key (must match the proxies')
  int64_t tokens_per_node = Ring::kDefaultTokensPerNode;  // (must match the proxies')
  // Anti-entropy (node/server/anti_entropy.h): a round with every peer this often (0: never),
  // pushing at most this many bytes of keys and values per second (0: unlimited).
  int64_t anti_entropy_interval_ms = 60'000;
  uint64_t anti_entropy_rate = 8ull << 20;
  // Hinted handoff (node/hints/): the spool's bound, how long a hint is kept (a duration: "3h",
  // "30m", "90s", "500ms", "2d"; "0" disables hints, HintPut refused) and how fast hints are
  // replayed to their targets.
  uint64_t hint_max_bytes = 1ull << 30;
  std::string hint_window = "3h";
  int64_t hint_replay_rate = 5'000;  // keys/s, all targets together
  // Membership by gossip (docs/membership.md), instead of --nodes: the HOST:PORT of nodes to
  // contact first (a name with several addresses is several seeds; this node's own may be
  // listed), this node's zone, its address as peers reach it (default: --listen), how often it
  // gossips, and the phi above which it sees a member DOWN.
  std::string seeds;
  std::string zone;
  std::string advertise;
  int64_t gossip_interval_ms = 1000;
  std::string phi_threshold = "8";
  // With --seeds: a member seen DOWN this long is removed (REMOVED, gossiped) and its keys are
  // copied to the owners replacing it (node/gossip/rebalancer.h). "0": never.
  std::string dead_after = "10m";
  // With --seeds: how long a JOINING node waits, once it is known, before it pulls its ranges
  // (at least the proxies' --members-refresh-ms: they must copy it the writes first); the bytes
  // per second a node moves keys at when joining, handing off or decommissioning ("0": no limit).
  std::string join_wait = "2s";
  uint64_t stream_rate_bytes = 32ull << 20;

  // Filled by Validate().
  HostPort listen_address;
  RingPtr ring;   // built from `nodes`; nullptr for a standalone node
  int self = -1;  // this node's index in ring->members() (-1 without a ring)
  int64_t hint_window_ms = 3 * 3'600'000;  // hint_window in milliseconds
  std::vector<HostPort> seed_list;         // parsed `seeds` (empty without --seeds)
  std::string advertise_address;           // HOST:PORT in the member table (with --seeds)
  double phi_threshold_value = 8;
  int64_t dead_after_ms = 600'000;  // dead_after in milliseconds (0: never)
  int64_t join_wait_ms = 2000;
  // With --seeds, `ring` and `self` are not filled by Validate(): main() sets them from the
  // member table once gossip has settled (node/gossip/gossip_service.h).
  // Filled by LoadNodeSecret(): the secret read from cluster_secret_file (empty without one).
  std::string cluster_secret;
};

// Declares every NodeConfig field as an option of `options`, bound to `config`.
void RegisterNodeOptions(Options& options, NodeConfig* config);

// Checks values that Options cannot check on its own (ranges, required fields, the listen
// address) and fills the derived fields. Errors name the offending flag.
Status ValidateNodeConfig(NodeConfig* config);

// A duration in milliseconds: a whole number with a unit ("500ms", "90s", "30m", "3h", "2d",
// case-insensitive) or "0" alone.
StatusOr<int64_t> ParseDurationMs(std::string_view text);

// Reads --cluster-secret-file (when given) into config->cluster_secret. Errors name the flag and
// the file (missing, unreadable, empty).
Status LoadNodeSecret(NodeConfig* config);

}  // namespace shoal::node
