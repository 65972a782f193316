#pragma once

// shoal-proxy's configuration: every field is a flag and a YAML key (see RegisterOptions).

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/options.h"
#include "common/ring/ring.h"
#include "common/status/status.h"
#include "proxy/quorum/consistency.h"
#include "proxy/resp/parser.h"
#include "proxy/upstream/link_detector.h"

namespace shoal::proxy {

struct ProxyConfig {
  // Raw option values.
  std::string id;  // writer identity; default: hostname-pid
  std::string listen = "127.0.0.1:6379";
  std::string unix_path;              // empty: no Unix socket
  std::string nodes;                  // ID=HOST:PORT,...
  std::string seeds;                  // HOST:PORT,... (instead of nodes: follow the cluster)
  int64_t members_refresh_ms = 1000;  // with seeds: ask for the member table this often
  int64_t replicas = 3;
  std::string read_consistency = "quorum";
  std::string write_consistency = "quorum";
  int64_t timeout_ms = 1000;
  int64_t threads = 2;
  std::string requirepass;
  std::string log_level = "info";
  std::string log_format = "text";  // text | json (one JSON object per line)
  // Admin HTTP endpoint (common/admin/): kDefaultAdmin is taken best-effort (in use: a warning);
  // any other address must bind; "" disables it.
  static constexpr const char* kDefaultAdmin = "127.0.0.1:9701";
  std::string admin = kDefaultAdmin;
  std::string cluster = "shoal";
  std::string cluster_secret_file;      // empty: nodes are not asked to prove a secret
  uint64_t max_value_size = 32u << 20;  // largest value a client may SET
  int64_t max_pipeline = 2048;          // unanswered commands per client before reading pauses
  uint64_t client_query_buffer_limit = 128u << 20;   // largest command a client may send
  uint64_t client_output_buffer_limit = 256u << 20;  // reply bytes held for a client; 0: none
  int64_t max_keys_per_command = 10000;              // keys one command may fan out to
  // Hashes and sets (0: no limit): live elements per key, and bytes of a key's body (its
  // elements and their removed ones' tombstones, docs/data-model.md). A write past either is
  // refused with an error.
  uint64_t max_elements_per_key = 1000000;
  uint64_t max_bytes_per_key = 64u << 20;
  int64_t down_after_timeouts = 3;  // consecutive request timeouts that mark a node down
  // The proxy's phi-accrual judgement of each node (proxy/upstream/link_detector.h).
  std::string phi_threshold = "8";
  int64_t link_ping_ms = 100;  // 0: no pings, no judgement
  int64_t max_clock_offset_ms = 60000;
  int64_t tokens_per_node = Ring::kDefaultTokensPerNode;
  // Hinted handoff: a write that fails at an owner is stored as a hint by the next healthy node
  // past the preference list. Sloppy quorum (default for connections that do not say): those
  // stored hints count toward the write consistency level.
  bool hinted_handoff = true;
  bool sloppy_quorum = false;

  // Derived by Finish().
  std::vector<RingMember> members;  // from --nodes (empty with --seeds)
  std::vector<HostPort> seed_list;  // from --seeds
  Consistency read_level = Consistency::kQuorum;
  Consistency write_level = Consistency::kQuorum;
  uint64_t writer_id = 0;      // NewWriterId() per process start
  std::string cluster_secret;  // read from cluster_secret_file
  RespLimits resp_limits;
  LinkDetectorOptions link_detector;  // threshold 0 when --link-ping-ms is 0 (off)

  void RegisterOptions(Options& options);
  // Validates the raw values and fills the derived ones; errors name the option.
  Status Finish();
};

}  // namespace shoal::proxy
