#include "tools/shoalctl/commands.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "common/admin/admin_routes.h"
#include "common/admin/admin_server.h"
#include "common/clock/clock.h"
#include "common/membership/gossip_wire.h"

namespace shoal::tools {

namespace {

// Sends the frame last finished in the client's builder and waits for its response. Prints the
// error and returns null on failure (including an Error reply).
const wire::Envelope* Call(CommandContext& ctx, uint64_t id, std::span<const uint8_t> frame) {
  Status s = ctx.client.Send(frame, ctx.timeout_ms);
  if (!s.ok()) {
    std::fprintf(stderr, "shoalctl: %s\n", s.message().c_str());
    return nullptr;
  }
  auto env = ctx.client.Await(id, ctx.timeout_ms);
  if (!env.ok()) {
    std::fprintf(stderr, "shoalctl: %s\n", env.status().message().c_str());
    return nullptr;
  }
  if (const auto* err = (*env)->message_as_Error()) {
    std::fprintf(stderr, "shoalctl: %s\n", DescribeError(*err).c_str());
    return nullptr;
  }
  return *env;
}

// A JSON value for an Info reading: integers as numbers, anything else as a string.
std::string JsonValue(std::string_view value) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (!value.empty() && ec == std::errc() && ptr == value.data() + value.size()) {
    return std::string(value);
  }
  uint64_t u = 0;
  auto [uptr, uec] = std::from_chars(value.data(), value.data() + value.size(), u);
  if (!value.empty() && uec == std::errc() && uptr == value.data() + value.size()) {
    return std::string(value);
  }
  return admin::JsonString(value);
}

int Unexpected(const char* what) {
  std::fprintf(stderr, "shoalctl: unexpected reply to %s\n", what);
  return 1;
}

}  // namespace

int RunGet(CommandContext& ctx, const std::string& key) {
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  auto get = wire::CreateGet(b, Bytes(b, key), true);
  const uint64_t id = ctx.client.NextRequestId();
  const wire::Envelope* env = Call(ctx, id, fb.Finish(id, wire::Message::Get, get.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_GetResponse();
  if (resp == nullptr) return Unexpected("get");
  if (!resp->found() || resp->tombstone()) {
    std::puts("(nil)");
    return 0;
  }
  const std::string_view value = AsView(resp->value());
  std::fwrite(value.data(), 1, value.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int RunSet(CommandContext& ctx, const std::string& key, const std::string& value, int64_t ttl_ms) {
  const int64_t expire_at_ms = ttl_ms > 0 ? SystemClock::Get().NowMs() + ttl_ms : 0;
  const wire::Version version(ctx.hlc.Now(), ctx.writer_id);
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  auto put = wire::CreatePut(b, Bytes(b, key), Bytes(b, value), &version,
                             static_cast<uint64_t>(expire_at_ms));
  const uint64_t id = ctx.client.NextRequestId();
  const wire::Envelope* env = Call(ctx, id, fb.Finish(id, wire::Message::Put, put.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_PutResponse();
  if (resp == nullptr) return Unexpected("set");
  if (!resp->applied()) {
    std::fprintf(stderr, "shoalctl: not applied: the node holds a newer version of the key\n");
    return 1;
  }
  std::puts("OK");
  return 0;
}

int RunDel(CommandContext& ctx, const std::string& key) {
  const wire::Version version(ctx.hlc.Now(), ctx.writer_id);
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  auto put = wire::CreatePut(b, Bytes(b, key), 0, &version, 0, /*tombstone=*/true);
  const uint64_t id = ctx.client.NextRequestId();
  const wire::Envelope* env = Call(ctx, id, fb.Finish(id, wire::Message::Put, put.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_PutResponse();
  if (resp == nullptr) return Unexpected("del");
  // Like redis-cli: the number of live keys removed.
  std::printf("(integer) %d\n", resp->applied() && resp->previous_found() ? 1 : 0);
  return 0;
}

int RunInfo(CommandContext& ctx, bool json) {
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  auto info = wire::CreateInfo(b);
  const uint64_t id = ctx.client.NextRequestId();
  const wire::Envelope* env = Call(ctx, id, fb.Finish(id, wire::Message::Info, info.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_InfoResponse();
  if (resp == nullptr) return Unexpected("info");
  std::string out;
  if (resp->entries() != nullptr) {
    for (const auto* e : *resp->entries()) {
      const std::string_view name = e->name() ? e->name()->string_view() : "";
      const std::string_view value = e->value() ? e->value()->string_view() : "";
      if (json) {
        out += (out.empty() ? "{" : ",") + admin::JsonString(name) + ":" + JsonValue(value);
      } else {
        out.append(name).append(": ").append(value).append("\n");
      }
    }
  }
  if (json) out = (out.empty() ? "{" : out) + "}\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

int RunRepair(CommandContext& ctx, bool json) {
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  auto repair = wire::CreateRepair(b);
  const uint64_t id = ctx.client.NextRequestId();
  const wire::Envelope* env = Call(ctx, id, fb.Finish(id, wire::Message::Repair, repair.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_RepairResponse();
  if (resp == nullptr) return Unexpected("repair");
  const std::string error = resp->error() != nullptr ? resp->error()->str() : std::string();
  if (!resp->ok()) {
    std::fprintf(stderr, "shoalctl: repair: %s\n", error.empty() ? "no round ran" : error.c_str());
    return 1;
  }
  if (json) {
    std::printf("{\"peers\":%u,\"keys_repaired\":%llu,\"bytes_repaired\":%llu,\"error\":%s}\n",
                resp->peers(), static_cast<unsigned long long>(resp->keys_repaired()),
                static_cast<unsigned long long>(resp->bytes_repaired()),
                admin::JsonString(error).c_str());
  } else {
    std::printf("peers: %u\nkeys_repaired: %llu\nbytes_repaired: %llu\n", resp->peers(),
                static_cast<unsigned long long>(resp->keys_repaired()),
                static_cast<unsigned long long>(resp->bytes_repaired()));
  }
  if (!error.empty()) {
    std::fprintf(stderr, "shoalctl: repair: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

int RunMembers(CommandContext& ctx, bool json) {
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  auto req = wire::CreateMembersRequest(b);
  const uint64_t id = ctx.client.NextRequestId();
  const wire::Envelope* env =
      Call(ctx, id, fb.Finish(id, wire::Message::MembersRequest, req.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_MembersResponse();
  if (resp == nullptr) return Unexpected("members");
  const MembersListing listing = DecodeMembersResponse(*resp);
  if (json) {
    std::printf("%s\n", admin::MembersListingJson(listing).c_str());
    return 0;
  }
  std::printf("node: %s\nmembership: %s\n", listing.node_id.c_str(),
              listing.gossip ? "gossip (--seeds)" : "static (--nodes)");
  std::printf("%-20s %-24s %-12s %-8s %8s %12s %10s %14s\n", "ID", "ADDRESS", "ZONE", "STATE",
              "PHI", "INCARNATION", "HEARTBEAT", "LAST_HEARD_MS");
  for (const MemberView& v : listing.entries) {
    std::printf("%-20s %-24s %-12s %-8s %8.2f %12llu %10llu %14lld\n", v.record.id.c_str(),
                v.record.address.c_str(), v.record.zone.empty() ? "-" : v.record.zone.c_str(),
                MemberStateName(v.state), std::min(v.phi, 99999.0),
                static_cast<unsigned long long>(v.record.incarnation),
                static_cast<unsigned long long>(v.record.heartbeat),
                static_cast<long long>(v.last_heard_ms));
  }
  return 0;
}

int RunMemberCommand(CommandContext& ctx, std::string_view action, const std::string& id,
                     bool json) {
  FrameBuilder& fb = ctx.client.builder();
  auto& b = fb.Start();
  const auto which =
      action == "remove" ? wire::MemberAction::Remove : wire::MemberAction::Decommission;
  const auto id_offset =
      id.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(id);
  auto req = wire::CreateMemberCommand(b, which, id_offset);
  const uint64_t request = ctx.client.NextRequestId();
  const wire::Envelope* env =
      Call(ctx, request, fb.Finish(request, wire::Message::MemberCommand, req.Union()));
  if (env == nullptr) return 1;
  const auto* resp = env->message_as_MemberCommandResponse();
  if (resp == nullptr) return Unexpected(std::string(action).c_str());
  const char* message = resp->message() != nullptr ? resp->message()->c_str() : "OK";
  if (json) {
    std::printf("{\"message\":%s}\n", admin::JsonString(message).c_str());
  } else {
    std::printf("%s\n", message);
  }
  return 0;
}

}  // namespace shoal::tools
