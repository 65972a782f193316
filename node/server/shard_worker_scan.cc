// ShardWorker's side of the keyspace commands (see "Keyspace" in shard_worker.h): KeyCountRequest
// (DBSIZE) and ScanRequest (SCAN, KEYS, RANDOMKEY). Split from shard_worker.cc to keep files small;
// same class, same thread rules (the worker's thread).

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include "common/text/glob.h"
#include "common/typed/typed_value.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

namespace {

constexpr uint64_t kStoreCursorMask = (uint64_t{1} << ShardWorker::kScanShardShift) - 1;
// Entries examined by one ScanRequest at most (COUNT is a hint, as in Redis).
constexpr uint32_t kMaxScanCount = 100'000;

// SCAN's TYPE matches Redis's type name of the value, case-insensitively.
bool TypeMatches(std::string_view wanted, typed::ValueType type) {
  const std::string_view name = typed::RedisTypeName(type);
  if (wanted.size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (static_cast<char>(tolower(static_cast<unsigned char>(wanted[i]))) != name[i]) return false;
  }
  return true;
}

}  // namespace

void ShardWorker::HandleKeyCount(Connection* c, const wire::Envelope& envelope) {
  // Emptied hashes and sets are held but are no keys (Redis deletes a key with its last field).
  uint64_t keys = 0, tombstones = 0;
  for (const ShardWorker* w : node_.workers) {
    const ShardStats& s = w->store().stats();
    const uint64_t held = static_cast<uint64_t>(std::max<int64_t>(s.keys.Value(), 0));
    const uint64_t dead = static_cast<uint64_t>(std::max<int64_t>(s.tombstones.Value(), 0));
    const uint64_t empty = static_cast<uint64_t>(std::max<int64_t>(s.empty_aggregates.Value(), 0));
    keys += held - std::min(held, dead + empty);
    tombstones += dead;
  }
  auto& b = builder_.Start();
  auto resp = wire::CreateKeyCountResponse(b, keys, tombstones);
  Reply(c, builder_.Finish(envelope.request_id(), wire::Message::KeyCountResponse, resp.Union()));
}

void ShardWorker::HandleScan(Connection* c, const wire::Envelope& envelope,
                             std::span<const uint8_t> frame) {
  const wire::ScanRequest* r = envelope.message_as_ScanRequest();
  // A shard number past the last wraps (RANDOMKEY starts from random bits; a client's garbage
  // cursor then still walks to the end).
  const uint32_t shard = static_cast<uint32_t>((r->cursor() >> kScanShardShift) % shards_);
  if (!Warm() && !c->peer_is_node) {
    // Restarted empty and not synced yet: its keys are not the keyspace (the proxy asks another
    // replica instead).
    stats_.not_ready_rejections.Inc();
    ReplyError(c, envelope.request_id(), wire::ErrorCode::NotReady,
               "node is warming up or syncing: its keys are not complete yet");
    return;
  }
  if (shard == index_) {
    Reply(c, ExecuteScan(envelope));
    return;
  }
  stats_.cross_shard_requests.Inc();
  ++c->remote_in_flight;
  c->remote_request_bytes += frame.size();
  outboxes_[shard].Append(ShardMessageKind::kRequest, index_, c->id, frame);
}

std::span<const uint8_t> ShardWorker::ExecuteScan(const wire::Envelope& envelope) {
  const wire::ScanRequest* r = envelope.message_as_ScanRequest();
  const uint32_t count = std::clamp<uint32_t>(r->count(), 1, kMaxScanCount);
  const std::string_view pattern =
      r->pattern() != nullptr
          ? std::string_view(reinterpret_cast<const char*>(r->pattern()->data()),
                             r->pattern()->size())
          : std::string_view();
  const std::string_view type = r->type() != nullptr ? r->type()->string_view() : "";
  // Redis's type names: a counter is a "string" (typed::RedisTypeName).
  struct Found {
    std::string_view key;
    typed::ValueType type;
  };
  std::vector<Found> keys;
  uint64_t bytes = 0;
  // Views into the store stay valid until the next write on this thread (none below).
  const uint64_t next = store_.Scan(r->cursor() & kStoreCursorMask, count, [&](const EntryView& e) {
    if (e.tombstone || e.empty_aggregate) return;  // an emptied hash or set is no key
    if (!type.empty() && !TypeMatches(type, e.value_type)) return;
    if (!pattern.empty() && !GlobMatch(pattern, e.key)) return;
    keys.push_back({e.key, e.value_type});
    bytes += e.key.size() + 16;
  });
  if (bytes > max_frame_bytes_ / 2) {
    return BuildErrorFrame(builder_, envelope.request_id(), wire::ErrorCode::TooLarge,
                           "the keys found exceed the frame limit: ask for a smaller count");
  }
  uint64_t cursor = 0;  // the end of this node's traversal
  if (next != 0) {
    cursor = (uint64_t{index_} << kScanShardShift) | (next & kStoreCursorMask);
  } else if (index_ + 1 < shards_) {
    cursor = uint64_t{index_ + 1} << kScanShardShift;
  }
  auto& b = builder_.Start();
  std::vector<flatbuffers::Offset<wire::ScanKey>> entries;
  entries.reserve(keys.size());
  for (const Found& k : keys) {
    auto bytes_offset =
        b.CreateVector(reinterpret_cast<const uint8_t*>(k.key.data()), k.key.size());
    entries.push_back(wire::CreateScanKey(b, bytes_offset, static_cast<wire::ValueType>(k.type)));
  }
  auto resp = wire::CreateScanResponse(b, cursor, b.CreateVector(entries));
  std::span<const uint8_t> out =
      builder_.Finish(envelope.request_id(), wire::Message::ScanResponse, resp.Union());
  NoteFrameBuilt(out);
  return out;
}

}  // namespace shoal::node
