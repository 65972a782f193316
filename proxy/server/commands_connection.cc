// Connection and server commands: PING ECHO QUIT HELLO AUTH SELECT CLIENT INFO COMMAND FUNCTION
// TIME, and SHOAL.CONSISTENCY / SHOAL.LOCATE. Replies and error wording follow Redis 7.

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "common/hash/key_hash.h"
#include "proxy/command/args.h"
#include "proxy/command/command_table.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/member_follower.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {

constexpr std::string_view kRedisCompatVersion = "7.0.0";
constexpr std::string_view kShoalVersion = "0.1.0";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return out;
}

// One COMMAND / COMMAND INFO entry, in Redis 7's 10-field layout (flags, categories, tips, key
// specs and the empty subcommands are sets for a RESP3 client).
void AppendCommandInfo(std::string& out, resp::Protocol protocol, const CommandSpec& spec) {
  resp::Writer w(out, protocol);
  resp::AppendArray(out, 10);
  resp::AppendBulk(out, spec.name);
  resp::AppendInteger(out, spec.arity);
  // flags
  std::vector<std::string_view> flags;
  flags.push_back(spec.write ? "write" : "readonly");
  flags.push_back("fast");
  if (spec.no_auth) flags.push_back("no_auth");
  w.Set(static_cast<int64_t>(flags.size()));
  for (auto f : flags) resp::AppendSimple(out, f);
  resp::AppendInteger(out, spec.first_key);
  resp::AppendInteger(out, spec.last_key);
  resp::AppendInteger(out, spec.step);
  // ACL categories
  w.Set(1);
  resp::AppendSimple(out, "@" + std::string(spec.group));
  w.Set(0);  // tips
  w.Set(0);  // key specs
  w.Set(0);  // subcommands (Redis: an empty set when a command has none)
}

// This proxy's phi for a node (NodeHealth::phi), as INFO and SHOAL.MEMBERS print it.
std::string PhiText(const NodeHealth& health) {
  char text[32];
  snprintf(text, sizeof(text), "%.2f",
           std::min(health.phi.load(std::memory_order_relaxed), 99999.0));
  return text;
}

void AppendCommandDocs(std::string& out, resp::Protocol protocol, const CommandSpec& spec) {
  resp::AppendBulk(out, spec.name);
  resp::Writer(out, protocol).Map(3);
  resp::AppendBulk(out, "summary");
  resp::AppendBulk(out, spec.summary);
  resp::AppendBulk(out, "since");
  resp::AppendBulk(out, spec.since);
  resp::AppendBulk(out, "group");
  resp::AppendBulk(out, spec.group == "shoal" ? "generic" : spec.group);
}

}  // namespace

bool ClientConnection::CheckAuth(const CommandSpec& spec) {
  if (authenticated_ || spec.no_auth) return true;
  ReplyError(NewSlot(spec.id), "NOAUTH Authentication required.");
  return false;
}

bool ClientConnection::Authenticate(std::string_view user, std::string_view password,
                                    std::string* error) {
  const std::string& required = worker_.config().requirepass;
  if (required.empty()) {
    if (user == "default") {
      authenticated_ = true;  // Redis: any password works for the passwordless default user
      return true;
    }
    *error = "WRONGPASS invalid username-password pair or user is disabled.";
    return false;
  }
  if (user == "default" && password == required) {
    authenticated_ = true;
    return true;
  }
  *error = "WRONGPASS invalid username-password pair or user is disabled.";
  return false;
}

void ClientConnection::CmdPing(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kPing);
  if (args.size() > 2) {
    return ReplyError(slot, "ERR wrong number of arguments for 'ping' command");
  }
  if (args.size() == 1) return Reply(slot, "+PONG\r\n");
  slot.reply.clear();
  resp::AppendBulk(slot.reply, args[1]);
  Finish(slot);
}

void ClientConnection::CmdEcho(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kEcho);
  resp::AppendBulk(slot.reply, args[1]);
  Finish(slot);
}

void ClientConnection::CmdQuit(Args args) {
  Reply(NewSlot(CommandId::kQuit), "+OK\r\n");
  StopReading();
}

// HELLO [protover [AUTH user pass] [SETNAME name]], as Redis 7.0's helloCommand: the options
// apply in order as they are read (a bad one after a good SETNAME leaves the name set), then the
// protocol switches and the reply (a map: an array of pairs for RESP2) is written in the new one.
void ClientConnection::CmdHello(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kHello);
  size_t next = 1;
  int64_t version = 0;  // 0: keep the connection's protocol
  if (args.size() >= 2) {
    if (!ParseInt64(args[1], &version)) {
      return ReplyError(slot, "ERR Protocol version is not an integer or out of range");
    }
    ++next;
    if (version < 2 || version > 3) {
      return ReplyError(slot, "NOPROTO unsupported protocol version");
    }
  }
  for (size_t j = next; j < args.size(); ++j) {
    const size_t more = args.size() - 1 - j;
    if (EqualsIgnoreCase(args[j], "auth") && more >= 2) {
      std::string error;
      if (!Authenticate(args[j + 1], args[j + 2], &error)) return ReplyError(slot, error);
      j += 2;
    } else if (EqualsIgnoreCase(args[j], "setname") && more >= 1) {
      for (char c : args[j + 1]) {
        if (c < '!' || c > '~') {
          return ReplyError(
              slot, "ERR Client names cannot contain spaces, newlines or special characters.");
        }
      }
      name_ = std::string(args[j + 1]);
      ++j;
    } else {
      return ReplyError(slot, "ERR Syntax error in HELLO option '" + std::string(args[j]) + "'");
    }
  }
  if (!authenticated_) {
    return ReplyError(slot,
                      "NOAUTH HELLO must be called with the client already authenticated, "
                      "otherwise the HELLO AUTH <user> <pass> option can be used to "
                      "authenticate the client and select the RESP protocol version at the same "
                      "time");
  }
  if (version != 0) protocol_ = version == 3 ? resp::Protocol::kResp3 : resp::Protocol::kResp2;
  slot.protocol = protocol_;  // the reply is already in the new protocol
  resp::Writer w(slot.reply, protocol_);
  w.Map(7);
  w.Bulk("server");
  w.Bulk("redis");
  w.Bulk("version");
  w.Bulk(kRedisCompatVersion);
  w.Bulk("proto");
  w.Integer(static_cast<int64_t>(protocol_));
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(id_));
  w.Bulk("mode");
  w.Bulk("standalone");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.Array(0);
  Finish(slot);
}

void ClientConnection::CmdAuth(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kAuth);
  if (args.size() > 3) return ReplyError(slot, kErrSyntax);
  if (args.size() == 2 && worker_.config().requirepass.empty()) {
    return ReplyError(slot,
                      "ERR AUTH <password> called without any password configured for the "
                      "default user. Are you sure your configuration is correct?");
  }
  const std::string_view user = args.size() == 3 ? args[1] : "default";
  const std::string_view password = args.back();
  std::string error;
  if (!Authenticate(user, password, &error)) return ReplyError(slot, error);
  Reply(slot, "+OK\r\n");
}

void ClientConnection::CmdSelect(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kSelect);
  int64_t db;
  if (!ParseInt64(args[1], &db)) return ReplyError(slot, kErrNotInteger);
  if (db < INT32_MIN || db > INT32_MAX) {
    return ReplyError(slot,
                      "ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  if (db != 0) return ReplyError(slot, "ERR DB index is out of range");
  Reply(slot, "+OK\r\n");
}

void ClientConnection::CmdClient(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kClient);
  const std::string sub = Lower(args[1]);
  if (sub == "id" && args.size() == 2) {
    resp::AppendInteger(slot.reply, static_cast<int64_t>(id_));
    return Finish(slot);
  }
  if (sub == "getname" && args.size() == 2) {
    if (name_.empty()) {
      resp::Writer(slot.reply, slot.protocol).Null();
    } else {
      resp::AppendBulk(slot.reply, name_);
    }
    return Finish(slot);
  }
  if (sub == "setname" && args.size() == 3) {
    for (char c : args[2]) {
      if (c < '!' || c > '~') {
        return ReplyError(
            slot, "ERR Client names cannot contain spaces, newlines or special characters.");
      }
    }
    name_ = std::string(args[2]);
    return Reply(slot, "+OK\r\n");
  }
  if (sub == "setinfo" && args.size() == 4) {
    const std::string attr = Lower(args[2]);
    if (attr != "lib-name" && attr != "lib-ver") {
      return ReplyError(slot, "ERR Unrecognized option '" + std::string(args[2]) + "'");
    }
    for (char c : args[3]) {
      if (c < '!' || c > '~') {
        return ReplyError(
            slot, "ERR " + attr + " cannot contain spaces, newlines or special characters.");
      }
    }
    return Reply(slot, "+OK\r\n");
  }
  if (sub == "info" && args.size() == 2) {
    std::string line = "id=" + std::to_string(id_) + " addr=" + peer_ + " name=" + name_ +
                       " db=0 resp=" + std::to_string(static_cast<int>(protocol_)) + "\n";
    resp::Writer(slot.reply, slot.protocol).Verbatim(line);
    return Finish(slot);
  }
  if (sub == "id" || sub == "getname" || sub == "setname" || sub == "setinfo" || sub == "info") {
    return ReplyError(slot, "ERR wrong number of arguments for 'client|" + sub + "' command");
  }
  ReplyError(slot, "ERR unknown subcommand '" + std::string(args[1]) + "'. Try CLIENT HELP.");
}

void ClientConnection::CmdInfo(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kInfo);
  SharedState& shared = worker_.shared();
  const int64_t uptime_s = (shared.clock.MonotonicMs() - shared.start_ms) / 1000;
  // Every worker's cells, summed by the registry.
  auto sum = [&](const char* metric) {
    return std::to_string(static_cast<uint64_t>(shared.metrics.Total(metric)));
  };
  std::string info;
  info += "# Server\r\n";
  info += "redis_version:" + std::string(kRedisCompatVersion) + "\r\n";
  info += "shoal_version:" + std::string(kShoalVersion) + "\r\n";
  info += "redis_mode:standalone\r\n";
  info += "process_id:" + std::to_string(getpid()) + "\r\n";
  info += "tcp_port:" + std::to_string(shared.tcp_port) + "\r\n";
  info += "uptime_in_seconds:" + std::to_string(uptime_s) + "\r\n";
  info += "proxy_id:" + shared.config.id + "\r\n";
  info += "io_threads:" + std::to_string(shared.config.threads) + "\r\n";
  info += "\r\n# Clients\r\n";
  info += "connected_clients:" + sum("shoal_proxy_client_connections") + "\r\n";
  info += "\r\n# Persistence\r\n";
  info += "loading:0\r\n";
  info += "\r\n# Stats\r\n";
  info +=
      "total_connections_received:" + sum("shoal_proxy_client_connections_accepted_total") + "\r\n";
  info += "total_commands_processed:" + sum("shoal_proxy_commands_processed_total") + "\r\n";
  info += "noquorum_errors:" + sum("shoal_proxy_quorum_failures_total") + "\r\n";
  info += "read_repairs:" + sum("shoal_proxy_read_repairs_total") + "\r\n";
  info += "node_request_failures:" + sum("shoal_proxy_upstream_failures_total") + "\r\n";
  info +=
      "read_repairs_deduplicated:" + sum("shoal_proxy_read_repairs_deduplicated_total") + "\r\n";
  info += "not_ready_replies:" + sum("shoal_proxy_not_ready_replies_total") + "\r\n";
  info += "hlc_refusals:" + sum("shoal_proxy_hlc_refusals_total") + "\r\n";
  info += "stale_write_retries:" + sum("shoal_proxy_stale_write_retries_total") + "\r\n";
  info += "hinted_writes:" + sum("shoal_proxy_hinted_writes_total") + "\r\n";
  info += "hint_acks:" + sum("shoal_proxy_hint_acks_total") + "\r\n";
  info += "hint_refusals:" + sum("shoal_proxy_hint_refusals_total") + "\r\n";
  info += "sloppy_acks:" + sum("shoal_proxy_sloppy_acks_total") + "\r\n";
  info += "node_request_timeouts:" + sum("shoal_proxy_upstream_timeouts_total") + "\r\n";
  // Redis 7.2's names for these two.
  info += "client_query_buffer_limit_disconnections:" +
          sum("shoal_proxy_client_query_buffer_limit_disconnections_total") + "\r\n";
  info += "client_output_buffer_limit_disconnections:" +
          sum("shoal_proxy_client_output_buffer_limit_disconnections_total") + "\r\n";
  info += "\r\n# Replication\r\n";
  info += "role:master\r\n";
  info += "\r\n# Shoal\r\n";
  info += "replicas:" + std::to_string(shared.config.replicas) + "\r\n";
  info += "read_consistency:" + std::string(ConsistencyName(shared.settings.read_level())) + "\r\n";
  info +=
      "write_consistency:" + std::string(ConsistencyName(shared.settings.write_level())) + "\r\n";
  info += std::string("quorum_mode:") + (shared.settings.sloppy_quorum() ? "sloppy" : "strict") +
          "\r\n";
  info += std::string("hinted_handoff:") + (shared.settings.hinted_handoff() ? "1" : "0") + "\r\n";
  const ClusterView& view = worker_.view();
  const auto& members = view.ring->members();
  info += std::string("membership:") + (shared.follower != nullptr ? "seeds" : "static") + "\r\n";
  info += "nodes:" + std::to_string(members.size()) + "\r\n";
  for (size_t m = 0; m < members.size(); ++m) {
    const NodeHealth& health = shared.directory.health(view.slot_of[m]);
    info += "node_" + members[m].id + ":address=" + members[m].address +
            ",status=" + (health.Skipped() ? "down" : "up") + ",phi=" + PhiText(health);
    // Every worker's link to the node counts its own refusals (node_link.h): their sum.
#define SHOAL_INFO_HANDSHAKE_REFUSAL(field, reason, what)                                  \
  info += ",";                                                                             \
  info += #field "_refusals=" + std::to_string(static_cast<uint64_t>(shared.metrics.Value( \
                                    kHandshakeRefusalsMetric, {members[m].id, reason})));
    SHOAL_PROXY_HANDSHAKE_REFUSALS(SHOAL_INFO_HANDSHAKE_REFUSAL)
#undef SHOAL_INFO_HANDSHAKE_REFUSAL
    info += "\r\n";
  }
  info += "\r\n# Keyspace\r\n";
  resp::Writer(slot.reply, slot.protocol).Verbatim(info);
  Finish(slot);
}

void ClientConnection::CmdCommand(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kCommand);
  std::string& out = slot.reply;
  const auto all = AllCommands();
  if (args.size() == 1) {
    resp::AppendArray(out, static_cast<int64_t>(all.size()));
    for (const auto& spec : all) AppendCommandInfo(out, slot.protocol, spec);
    return Finish(slot);
  }
  const std::string sub = Lower(args[1]);
  if (sub == "count" && args.size() == 2) {
    resp::AppendInteger(out, static_cast<int64_t>(all.size()));
    return Finish(slot);
  }
  if (sub == "info") {
    if (args.size() == 2) {
      resp::AppendArray(out, static_cast<int64_t>(all.size()));
      for (const auto& spec : all) AppendCommandInfo(out, slot.protocol, spec);
      return Finish(slot);
    }
    resp::AppendArray(out, static_cast<int64_t>(args.size() - 2));
    for (size_t i = 2; i < args.size(); ++i) {
      const CommandSpec* spec = LookupCommand(args[i]);
      if (spec == nullptr) {
        resp::Writer(out, slot.protocol).Null();  // Redis 7: a null for an unknown name
      } else {
        AppendCommandInfo(out, slot.protocol, *spec);
      }
    }
    return Finish(slot);
  }
  if (sub == "docs") {
    if (args.size() == 2) {
      resp::Writer(out, slot.protocol).Map(static_cast<int64_t>(all.size()));
      for (const auto& spec : all) AppendCommandDocs(out, slot.protocol, spec);
      return Finish(slot);
    }
    std::string body;
    int64_t found = 0;
    for (size_t i = 2; i < args.size(); ++i) {
      if (const CommandSpec* spec = LookupCommand(args[i])) {
        AppendCommandDocs(body, slot.protocol, *spec);
        ++found;
      }
    }
    resp::Writer(out, slot.protocol).Map(found);
    out += body;
    return Finish(slot);
  }
  if (sub == "count") {
    return ReplyError(slot, "ERR wrong number of arguments for 'command|count' command");
  }
  ReplyError(slot, "ERR unknown subcommand '" + std::string(args[1]) + "'. Try COMMAND HELP.");
}

// FUNCTION: Shoal runs no functions (nor scripts). FLUSH and LIST answer what Redis 7.0 answers
// with no library loaded (Redis's own test suite runs FUNCTION FLUSH before each group of tests);
// the subcommands that would load or run one are refused.
void ClientConnection::CmdFunction(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kFunction);
  const std::string sub = Lower(args[1]);
  if (sub == "flush") {
    if (args.size() > 3) {
      return ReplyError(slot, "ERR unknown subcommand or wrong number of arguments for '" +
                                  std::string(args[1]) + "'. Try FUNCTION HELP.");
    }
    if (args.size() == 3 && !EqualsIgnoreCase(args[2], "sync") &&
        !EqualsIgnoreCase(args[2], "async")) {
      return ReplyError(slot, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    return Reply(slot, "+OK\r\n");
  }
  if (sub == "list") {
    // LIST [LIBRARYNAME pattern] [WITHCODE]: no library matches.
    bool with_code = false, named = false;
    for (size_t j = 2; j < args.size(); ++j) {
      if (!with_code && EqualsIgnoreCase(args[j], "withcode")) {
        with_code = true;
        continue;
      }
      if (!named && EqualsIgnoreCase(args[j], "libraryname")) {
        if (j + 1 >= args.size()) {
          return ReplyError(slot, "ERR library name argument was not given");
        }
        named = true;
        ++j;
        continue;
      }
      return ReplyError(slot, "ERR Unknown argument " + std::string(args[j]));
    }
    resp::AppendArray(slot.reply, 0);
    return Finish(slot);
  }
  if (sub == "load" || sub == "delete" || sub == "dump" || sub == "restore" || sub == "kill" ||
      sub == "stats") {
    return ReplyError(slot, "ERR FUNCTION " + Upper(args[1]) +
                                " is not supported: Shoal runs no functions or scripts");
  }
  ReplyError(slot, "ERR unknown subcommand '" + std::string(args[1]) + "'. Try FUNCTION HELP.");
}

// TIME: the proxy's wall clock (each proxy answers its own; the nodes' may differ).
void ClientConnection::CmdTime(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kTime);
  timeval tv;
  gettimeofday(&tv, nullptr);
  resp::AppendArray(slot.reply, 2);
  resp::AppendBulk(slot.reply, std::to_string(tv.tv_sec));
  resp::AppendBulk(slot.reply, std::to_string(tv.tv_usec));
  Finish(slot);
}

// CONFIG GET parameter...: the parameters among those asked that Shoal honours. None of Redis's
// is (no encodings, no maxmemory on the proxy: the nodes' limits are their flags), so the answer
// is an empty list, as Redis answers a pattern that matches nothing; never a value Shoal would
// not honour. CONFIG SET / RESETSTAT / REWRITE: refused, saying where settings live.
void ClientConnection::CmdConfig(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kConfig);
  const std::string_view sub = args[1];
  if (EqualsIgnoreCase(sub, "get")) {
    if (args.size() < 3) {
      return ReplyError(slot, "ERR wrong number of arguments for 'config|get' command");
    }
    resp::Writer(slot.reply, slot.protocol).Map(0);
    return Finish(slot);
  }
  if (EqualsIgnoreCase(sub, "set") && (args.size() < 4 || args.size() % 2 != 0)) {
    return ReplyError(slot, "ERR wrong number of arguments for 'config|set' command");
  }
  if (EqualsIgnoreCase(sub, "set") || EqualsIgnoreCase(sub, "resetstat") ||
      EqualsIgnoreCase(sub, "rewrite")) {
    std::string name(sub);
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return ReplyError(slot, "ERR CONFIG " + name +
                                " is not supported by Shoal: shoal-proxy and shoal-node take "
                                "their settings from flags and YAML files (SIGHUP reloads them)");
  }
  ReplyError(slot, "ERR unknown subcommand '" + std::string(sub) + "'. Try CONFIG HELP.");
}

void ClientConnection::CmdShoalConsistency(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kShoalConsistency);
  // SHOAL.CONSISTENCY [<read> [<write>]] [STRICT|SLOPPY]
  if (args.size() > 4) return ReplyError(slot, kErrSyntax);
  if (args.size() >= 2) {
    size_t levels = args.size() - 1;
    std::optional<bool> sloppy;
    const std::string mode = Lower(args.back());
    if (mode == "strict" || mode == "sloppy") {
      sloppy = mode == "sloppy";
      --levels;
    } else if (levels == 3) {
      return ReplyError(slot, "ERR invalid quorum mode '" + std::string(args.back()) +
                                  "' (expected STRICT or SLOPPY)");
    }
    std::optional<Consistency> read = read_level_, write = write_level_;
    if (levels >= 1) {
      read = ParseConsistency(args[1]);
      write = levels == 2 ? ParseConsistency(args[2]) : read;
    }
    if (!read || !write) {
      const std::string_view bad = !read ? args[1] : args[2];
      return ReplyError(slot, "ERR invalid consistency level '" + std::string(bad) +
                                  "' (expected ONE, QUORUM or ALL)");
    }
    read_level_ = *read;
    write_level_ = *write;
    if (sloppy) sloppy_ = *sloppy;
    return Reply(slot, "+OK\r\n");
  }
  resp::AppendArray(slot.reply, 3);
  resp::AppendBulk(slot.reply, ConsistencyName(read_level_));
  resp::AppendBulk(slot.reply, ConsistencyName(write_level_));
  resp::AppendBulk(slot.reply, sloppy_ ? "SLOPPY" : "STRICT");
  Finish(slot);
}

void ClientConnection::CmdShoalMembers(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kShoalMembers);
  SharedState& shared = worker_.shared();
  // The listing is published after the ring it forms (member_follower.h): with the worker's view
  // refreshed now, every member listed in the ring is one the workers route with.
  const MembersListing listing =
      shared.follower != nullptr ? shared.follower->Latest() : MembersListing{};
  worker_.RefreshView();
  const ClusterView& view = worker_.view();
  // This proxy's own view of its link to a member: up, down (down or suspected), or none (not
  // in its ring), and its phi.
  auto link = [&](const std::string& id, const std::string& address) {
    const auto& members = view.ring->members();
    for (size_t m = 0; m < members.size(); ++m) {
      if (members[m].id == id && members[m].address == address) {
        const NodeHealth& health = shared.directory.health(view.slot_of[m]);
        return std::pair<std::string, std::string>(health.Skipped() ? "down" : "up",
                                                   PhiText(health));
      }
    }
    return std::pair<std::string, std::string>("none", "");
  };
  std::vector<std::vector<std::pair<std::string, std::string>>> rows;
  if (shared.follower != nullptr) {
    // As the node last asked sees them (seen_by), with this proxy's link state.
    char phi[32];
    for (const MemberView& v : listing.entries) {
      snprintf(phi, sizeof(phi), "%.2f", std::min(v.phi, 99999.0));
      const auto [state, link_phi] = link(v.record.id, v.record.address);
      rows.push_back({{"id", v.record.id},
                      {"address", v.record.address},
                      {"zone", v.record.zone},
                      {"state", MemberStateName(v.state)},
                      {"phi", phi},
                      {"incarnation", std::to_string(v.record.incarnation)},
                      {"heartbeat", std::to_string(v.record.heartbeat)},
                      {"last_heard_ms", std::to_string(v.last_heard_ms)},
                      {"link", state},
                      {"link_phi", link_phi},
                      {"seen_by", listing.node_id}});
    }
  } else {
    // Static membership (--nodes): NORMAL, or DOWN when this proxy's link is down.
    for (const RingMember& m : view.ring->members()) {
      const auto [state, link_phi] = link(m.id, m.address);
      rows.push_back({{"id", m.id},
                      {"address", m.address},
                      {"zone", ""},
                      {"state", state == "down" ? "DOWN" : "NORMAL"},
                      {"phi", ""},
                      {"incarnation", "0"},
                      {"heartbeat", "0"},
                      {"last_heard_ms", "0"},
                      {"link", state},
                      {"link_phi", link_phi},
                      {"seen_by", "proxy"}});
    }
  }
  resp::AppendArray(slot.reply, static_cast<int64_t>(rows.size()));
  for (const auto& row : rows) {
    resp::AppendArray(slot.reply, static_cast<int64_t>(row.size() * 2));
    for (const auto& [name, value] : row) {
      resp::AppendBulk(slot.reply, name);
      resp::AppendBulk(slot.reply, value);
    }
  }
  Finish(slot);
}

void ClientConnection::CmdShoalLocate(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kShoalLocate);
  worker_.RefreshView();  // the owners a key command started now would use
  const Ring& ring = worker_.ring();
  int owners[Ring::kMaxReplicas];
  const int n =
      ring.PreferenceList(KeyHash(args[1]), static_cast<int>(worker_.config().replicas), owners);
  resp::AppendArray(slot.reply, n);
  for (int i = 0; i < n; ++i) resp::AppendBulk(slot.reply, ring.members()[owners[i]].id);
  Finish(slot);
}

}  // namespace shoal::proxy
