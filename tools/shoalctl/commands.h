#pragma once

// shoalctl's commands. Each prints its result on stdout and returns the process exit code
// (0 success, 1 failure with a message on stderr).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/client/node_client.h"
#include "common/clock/hlc.h"

namespace shoal::tools {

using client::DescribeError;
using client::NodeClient;

// What every command gets: a connected client that has said Hello, and a clock above the node's
// max_hlc for stamping writes.
struct CommandContext {
  NodeClient& client;
  HybridLogicalClock& hlc;
  uint64_t writer_id;
  int timeout_ms;
};

int RunGet(CommandContext& ctx, const std::string& key);
int RunSet(CommandContext& ctx, const std::string& key, const std::string& value, int64_t ttl_ms);
int RunDel(CommandContext& ctx, const std::string& key);
// Info: "name: value" lines, or with `json` one object (integers as numbers, others as strings).
int RunInfo(CommandContext& ctx, bool json);
// One anti-entropy round on the node now (wire Repair). Prints "peers: N", "keys_repaired: N",
// "bytes_repaired: N"; a round that failed with some peers prints them on stderr and returns 1,
// as does a node that ran no round (standalone, shutting down). With `json`: one object
// {"peers", "keys_repaired", "bytes_repaired", "error"} (error: "" when none).
int RunRepair(CommandContext& ctx, bool json);
// The node's member table (wire MembersRequest): "node: ID", "membership: gossip (--seeds)" or
// "static (--nodes)", then one row per member under a header: ID ADDRESS ZONE STATE PHI
// INCARNATION HEARTBEAT LAST_HEARD_MS (STATE as that node sees it: NORMAL, DOWN, ...). With
// `json`: one object, as a gossiping node's GET /members (admin::MembersListingJson).
int RunMembers(CommandContext& ctx, bool json);
// A membership change (wire MemberCommand): `action` "remove" (member `id`) or "decommission"
// (the node asked). Prints the node's answer (with `json`: {"message": ...}); exits 1 when it
// refused (the reason on stderr).
int RunMemberCommand(CommandContext& ctx, std::string_view action, const std::string& id,
                     bool json);

// Load generation ("fill"): `count` requests pipelined `pipeline` deep, keys
// "<key_prefix><i>". Puts write values of `value_size` bytes; gets read the keys back and count
// hits. Prints a one-line summary with the rate.
struct FillOptions {
  uint64_t count = 0;
  uint64_t value_size = 100;
  std::string key_prefix = "fill:";
  uint64_t pipeline = 128;
  int64_t ttl_ms = 0;
  bool gets = false;
};
int RunFill(CommandContext& ctx, const FillOptions& options);

}  // namespace shoal::tools
