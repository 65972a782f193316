// shoalctl fill: a pipelined load generator (puts or gets) for tests and quick measurements.

#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "tools/shoalctl/commands.h"

namespace shoal::tools {

namespace {

constexpr size_t kSendBatchBytes = 256 * 1024;

struct FillTally {
  uint64_t errors = 0;
  uint64_t not_applied = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  std::string first_error;
};

void Tally(const wire::Envelope& env, FillTally& t) {
  switch (env.message_type()) {
    case wire::Message::PutResponse:
      if (!env.message_as_PutResponse()->applied()) ++t.not_applied;
      return;
    case wire::Message::GetResponse: {
      const auto* r = env.message_as_GetResponse();
      if (r->found() && !r->tombstone()) {
        ++t.hits;
      } else {
        ++t.misses;
      }
      return;
    }
    case wire::Message::Error:
      if (t.errors++ == 0) t.first_error = DescribeError(*env.message_as_Error());
      return;
    default:
      if (t.errors++ == 0) t.first_error = "unexpected reply type";
      return;
  }
}

}  // namespace

int RunFill(CommandContext& ctx, const FillOptions& opt) {
  std::string value(opt.value_size, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 26);
  const uint64_t window = std::max<uint64_t>(opt.pipeline, 1);
  const int64_t expire_at_ms = opt.ttl_ms > 0 ? SystemClock::Get().NowMs() + opt.ttl_ms : 0;

  FrameBuilder& fb = ctx.client.builder();
  std::vector<uint8_t> pending;
  char key[256];
  const size_t prefix_len = std::min(opt.key_prefix.size(), sizeof(key) - 24);
  std::memcpy(key, opt.key_prefix.data(), prefix_len);

  FillTally tally;
  uint64_t sent = 0, done = 0;
  const auto start = std::chrono::steady_clock::now();
  while (done < opt.count) {
    while (sent < opt.count && sent - done < window) {
      auto [end, ec] = std::to_chars(key + prefix_len, key + sizeof(key), sent);
      const std::string_view k(key, static_cast<size_t>(end - key));
      auto& b = fb.Start();
      const uint64_t id = ctx.client.NextRequestId();
      std::span<const uint8_t> frame;
      if (opt.gets) {
        frame = fb.Finish(id, wire::Message::Get, wire::CreateGet(b, Bytes(b, k)).Union());
      } else {
        const wire::Version version(ctx.hlc.Now(), ctx.writer_id);
        auto put = wire::CreatePut(b, Bytes(b, k), Bytes(b, value), &version,
                                   static_cast<uint64_t>(expire_at_ms));
        frame = fb.Finish(id, wire::Message::Put, put.Union());
      }
      pending.insert(pending.end(), frame.begin(), frame.end());
      ++sent;
      if (pending.size() >= kSendBatchBytes) {
        if (Status s = ctx.client.Send(pending, ctx.timeout_ms); !s.ok()) {
          std::fprintf(stderr, "shoalctl: %s\n", s.message().c_str());
          return 1;
        }
        pending.clear();
      }
    }
    if (!pending.empty()) {
      if (Status s = ctx.client.Send(pending, ctx.timeout_ms); !s.ok()) {
        std::fprintf(stderr, "shoalctl: %s\n", s.message().c_str());
        return 1;
      }
      pending.clear();
    }
    // Take responses until half the window is free again.
    do {
      auto env = ctx.client.Receive(ctx.timeout_ms);
      if (!env.ok()) {
        std::fprintf(stderr, "shoalctl: after %llu responses: %s\n",
                     static_cast<unsigned long long>(done), env.status().message().c_str());
        return 1;
      }
      Tally(**env, tally);
      ++done;
    } while (done < sent && sent - done > window / 2);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fill: %llu %s of %llu-byte values in %.3fs (%.0f ops/s)",
              static_cast<unsigned long long>(opt.count), opt.gets ? "gets" : "puts",
              static_cast<unsigned long long>(opt.value_size), secs,
              secs > 0 ? static_cast<double>(opt.count) / secs : 0.0);
  if (opt.gets) {
    std::printf(", %llu hits, %llu misses", static_cast<unsigned long long>(tally.hits),
                static_cast<unsigned long long>(tally.misses));
  }
  if (tally.not_applied > 0) {
    std::printf(", %llu not applied", static_cast<unsigned long long>(tally.not_applied));
  }
  std::printf("\n");
  if (tally.errors > 0) {
    std::fprintf(stderr, "shoalctl: %llu errors (first: %s)\n",
                 static_cast<unsigned long long>(tally.errors), tally.first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace shoal::tools
