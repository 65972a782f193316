// Keyspace traversal commands fanned out over the ring (fanout.h): SCAN, KEYS, RANDOMKEY, DBSIZE.
// Replies and error wording follow Redis 7.0.
//
// SCAN walks the ring member by member (proxy/command/scan_args.h: the cursor, and why a key
// present for the whole scan is returned at least once). Each member is asked with ScanRequest
// (node side: ShardWorker "Keyspace"); of its keys, the proxy keeps those for which the position
// being walked is one of the key's "readers": the N - W + 1 smallest member indexes of its
// preference list (W: the connection's write consistency), so that, as with an R + W > N read,
// at least one reader of every acknowledged key holds it, even when another replica missed the
// write or restarted empty. A key is returned once per reader (twice with N = 3 and QUORUM
// writes, once with ALL), which SCAN allows. A member that cannot answer (down, timing out,
// warming, syncing) is replaced by every other member in turn for its position. Members that are
// no key's reader are skipped.
//
// KEYS runs the same traversal to its end and answers every key once. RANDOMKEY asks a random
// member from a random cursor for a few entries and answers one of its live keys (nil when every
// member is empty). DBSIZE is an estimate: the live values every member holds, summed and divided
// by min(N, members) (exact while every replica holds every key; a replica that missed writes, or
// one down, lowers it).

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/hash/key_hash.h"
#include "proxy/command/args.h"
#include "proxy/command/command_table.h"
#include "proxy/command/scan_args.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {

constexpr uint64_t kPlaceholderRequestId = 1;  // patched per link (NodeLink::Send)
// Entries a KEYS step asks a node to examine.
constexpr uint32_t kKeysStep = 1000;
// Node requests one SCAN call may make while it has found fewer keys than COUNT.
constexpr int kScanRequestsPerCall = 8;
constexpr uint32_t kMaxCount = 100'000;

std::vector<uint8_t> BuildScanRequest(uint64_t node_cursor, uint32_t count,
                                      std::string_view pattern, std::string_view type) {
  FrameBuilder builder(256 + pattern.size());
  auto& b = builder.Start();
  auto pat = pattern.empty()
                 ? flatbuffers::Offset<flatbuffers::Vector<uint8_t>>()
                 : b.CreateVector(reinterpret_cast<const uint8_t*>(pattern.data()), pattern.size());
  auto ty = type.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(type);
  auto req = wire::CreateScanRequest(b, node_cursor, count, pat, ty);
  auto frame = builder.Finish(kPlaceholderRequestId, wire::Message::ScanRequest, req.Union());
  return std::vector<uint8_t>(frame.begin(), frame.end());
}

// The ring walk shared by SCAN and KEYS (see the file comment and ScanCursor).
class RingWalk {
 public:
  // `readers`: how many replicas of each key the walk reads (N - W + 1; clamped to [1, N]).
  RingWalk(const Worker& worker, ScanCursor at, int readers)
      : ring_(worker.ring()),
        n_(std::min<int>(static_cast<int>(worker.config().replicas),
                         static_cast<int>(worker.ring().members().size()))),
        readers_(std::clamp(readers, 1, std::max(n_, 1))),
        members_(static_cast<uint32_t>(worker.ring().members().size())),
        at_(at) {
    // Members that are a reader of some preference list: the positions to walk.
    first_.assign(members_, false);
    int owners[Ring::kMaxReplicas];
    for (uint64_t position : ring_.TokenPositions()) {
      const int k = Readers(position, owners);
      for (int i = 0; i < k; ++i) first_[owners[i]] = true;
    }
    if (at_.substitute > members_ || at_.substitute == at_.position + 1) at_.substitute = 0;
    Settle();
  }

  bool done() const { return at_.position >= members_; }
  const ScanCursor& at() const { return at_; }
  // The member to ask next.
  int target() const {
    return static_cast<int>(at_.substitute == 0 ? at_.position : at_.substitute - 1);
  }
  // Whether `key` belongs to the position being walked (the position is one of its readers).
  bool Keeps(std::string_view key) const {
    int owners[Ring::kMaxReplicas];
    const int k = Readers(KeyHash(key), owners);
    return std::find(owners, owners + k, static_cast<int>(at_.position)) != owners + k;
  }
  // The target answered, with its next cursor (0: its traversal ended).
  void Answered(uint64_t node_cursor) {
    if (node_cursor != 0) {
      at_.node_cursor = node_cursor;
    } else if (at_.substitute == 0) {
      NextPosition();
    } else {
      NextSubstitute();
    }
  }
  // The target could not answer: the position is read from its substitutes (every other member,
  // in index order), each from its start.
  void Failed() { NextSubstitute(); }

 private:
  // The readers of the keys at ring position `hash`, into `owners` (the preference list's
  // smallest member indexes); returns how many.
  int Readers(uint64_t hash, int* owners) const {
    const int k = ring_.PreferenceList(hash, n_, owners);
    for (int i = 1; i < k; ++i) {  // insertion sort: k <= Ring::kMaxReplicas
      for (int j = i; j > 0 && owners[j - 1] > owners[j]; --j) std::swap(owners[j - 1], owners[j]);
    }
    return std::min(k, readers_);
  }

  void NextPosition() {
    at_ = ScanCursor{at_.position + 1, 0, 0};
    Settle();
  }
  void NextSubstitute() {
    at_.node_cursor = 0;
    uint32_t member = at_.substitute;  // the member after the current substitute (or member 0)
    if (member == at_.position) ++member;
    if (member >= members_) return NextPosition();
    at_.substitute = member + 1;
  }
  void Settle() {
    while (at_.position < members_ && !first_[at_.position])
      at_ = ScanCursor{at_.position + 1, 0, 0};
    if (at_.position >= members_) at_ = ScanCursor{members_, 0, 0};
  }

  const Ring& ring_;
  const int n_;
  const int readers_;
  const uint32_t members_;
  ScanCursor at_;
  std::vector<bool> first_;
};

// One SCAN call, or a whole KEYS traversal.
class ScanHandler final : public FanoutHandler {
 public:
  ScanHandler(ClientConnection& client, ReplySlot& slot, const Worker& worker, bool keys,
              ScanCursor at, int readers, uint32_t count, std::string pattern, std::string type)
      : client_(client),
        slot_(slot),
        keys_mode_(keys),
        walk_(worker, at, readers),
        count_(count),
        step_(keys ? kKeysStep : count),
        pattern_(std::move(pattern)),
        type_(std::move(type)) {}

  void Next(Worker& worker, std::unique_ptr<FanoutHandler> self) {
    if (walk_.done() ||
        (!keys_mode_ && (found_.size() >= count_ || requests_ >= kScanRequestsPerCall))) {
      return Reply();
    }
    ++requests_;
    const std::vector<uint8_t> frame =
        BuildScanRequest(walk_.at().node_cursor, step_, pattern_, type_);
    const FanoutRequest request{walk_.target(), frame};
    worker.Fanout(std::move(self), {&request, 1});
  }

  void OnReply(size_t, const wire::Envelope* envelope) override {
    if (envelope != nullptr) {
      if (const auto* r = envelope->message_as_ScanResponse()) {
        if (r->keys() != nullptr) {
          for (const wire::ScanKey* k : *r->keys()) {
            if (k->key() == nullptr) continue;
            std::string_view key(reinterpret_cast<const char*>(k->key()->data()), k->key()->size());
            if (walk_.Keeps(key)) found_.emplace_back(key);
          }
        }
        walk_.Answered(r->cursor());
        return;
      }
      if (const auto* e = envelope->message_as_Error();
          e != nullptr && e->code() == wire::ErrorCode::TooLarge && step_ > 1) {
        step_ = std::max<uint32_t>(1, step_ / 4);  // the same place again, fewer entries
        return;
      }
    }
    walk_.Failed();
  }

  void OnDone(Worker& worker, std::unique_ptr<FanoutHandler> self) override {
    Next(worker, std::move(self));
  }

 private:
  void Reply() {
    // A key comes once from each of its readers walked (and again from a substitute): KEYS
    // returns it once, and so does one SCAN call (calls do not know each other's keys).
    std::unordered_set<std::string_view> seen;
    std::vector<std::string_view> unique;
    for (const std::string& k : found_) {
      if (seen.insert(k).second) unique.push_back(k);
    }
    std::string out;
    if (!keys_mode_) {
      resp::AppendArray(out, 2);
      resp::AppendBulk(out, std::to_string(walk_.done() ? 0 : walk_.at().Encode()));
    }
    resp::AppendArray(out, static_cast<int64_t>(unique.size()));
    for (std::string_view k : unique) resp::AppendBulk(out, k);
    client_.EndFanout(slot_, out);
  }

  ClientConnection& client_;
  ReplySlot& slot_;
  const bool keys_mode_;
  RingWalk walk_;
  const uint32_t count_;
  uint32_t step_;
  const std::string pattern_;
  const std::string type_;
  int requests_ = 0;
  std::vector<std::string> found_;
};

class DbSizeHandler final : public FanoutHandler {
 public:
  DbSizeHandler(ClientConnection& client, ReplySlot& slot, int divisor)
      : client_(client), slot_(slot), divisor_(divisor) {}
  void OnReply(size_t, const wire::Envelope* envelope) override {
    if (envelope == nullptr) return;
    if (const auto* r = envelope->message_as_KeyCountResponse()) live_ += r->keys();
  }
  void OnDone(Worker&, std::unique_ptr<FanoutHandler>) override {
    std::string out;
    resp::AppendInteger(out, static_cast<int64_t>((live_ + divisor_ / 2) / divisor_));
    client_.EndFanout(slot_, out);
  }

 private:
  ClientConnection& client_;
  ReplySlot& slot_;
  const uint64_t divisor_;
  uint64_t live_ = 0;
};

class RandomKeyHandler final : public FanoutHandler {
 public:
  static constexpr int kMaxRequests = 64;
  RandomKeyHandler(ClientConnection& client, ReplySlot& slot, uint32_t members)
      : client_(client), slot_(slot), members_(members), rng_(std::random_device{}()) {
    member_ = static_cast<uint32_t>(rng_() % members_);
    cursor_ = rng_() & ((uint64_t{1} << ScanCursor::kNodeCursorBits) - 1);
  }

  void Next(Worker& worker, std::unique_ptr<FanoutHandler> self) {
    if (!key_.empty() || tried_members_ >= members_ || requests_ >= kMaxRequests) {
      std::string out;
      if (key_.empty()) {
        resp::Writer(out, slot_.protocol).Null();
      } else {
        resp::AppendBulk(out, key_);
      }
      client_.EndFanout(slot_, out);
      return;
    }
    ++requests_;
    const std::vector<uint8_t> frame = BuildScanRequest(cursor_, 64, {}, {});
    const FanoutRequest request{static_cast<int>(member_), frame};
    worker.Fanout(std::move(self), {&request, 1});
  }

  void OnReply(size_t, const wire::Envelope* envelope) override {
    const wire::ScanResponse* r =
        envelope != nullptr ? envelope->message_as_ScanResponse() : nullptr;
    if (r == nullptr) return NextMember();
    if (r->keys() != nullptr && r->keys()->size() > 0) {
      const wire::ScanKey* k = r->keys()->Get(static_cast<uint32_t>(rng_() % r->keys()->size()));
      if (k->key() != nullptr) {
        key_.assign(reinterpret_cast<const char*>(k->key()->data()), k->key()->size());
        return;
      }
    }
    if (r->cursor() != 0) {
      cursor_ = r->cursor();
    } else if (!wrapped_) {
      wrapped_ = true;  // from the node's start once, to cover what the random start skipped
      cursor_ = 0;
    } else {
      NextMember();
    }
  }

  void OnDone(Worker& worker, std::unique_ptr<FanoutHandler> self) override {
    Next(worker, std::move(self));
  }

 private:
  void NextMember() {
    ++tried_members_;
    member_ = (member_ + 1) % members_;
    cursor_ = 0;
    wrapped_ = true;
  }

  ClientConnection& client_;
  ReplySlot& slot_;
  const uint32_t members_;
  std::mt19937_64 rng_;
  uint32_t member_ = 0;
  uint64_t cursor_ = 0;
  uint32_t tried_members_ = 0;
  int requests_ = 0;
  bool wrapped_ = false;
  std::string key_;
};

}  // namespace

// The replicas of each key a traversal reads: N - W + 1, so that one of them holds every key
// acknowledged at the connection's write consistency (see the file comment).
int ClientConnection::ScanReaders() const {
  const int members = static_cast<int>(worker_.ring().members().size());
  const int n = std::max(1, std::min(static_cast<int>(worker_.config().replicas), members));
  return n - RequiredReplicas(write_level_, n) + 1;
}

void ClientConnection::CmdScan(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kScan);
  ScanArgs parsed;
  std::string err = ParseScanArgs(args.subspan(1), &parsed);
  if (!err.empty()) return ReplyError(slot, err);
  const ScanCursor at = ScanCursor::Decode(parsed.cursor);
  const uint32_t count = static_cast<uint32_t>(std::min<int64_t>(parsed.count, kMaxCount));
  auto handler =
      std::make_unique<ScanHandler>(*this, slot, worker_, false, at, ScanReaders(), count,
                                    std::string(parsed.pattern), std::string(parsed.type));
  ScanHandler* raw = handler.get();
  BeginFanout();
  raw->Next(worker_, std::move(handler));
}

void ClientConnection::CmdKeys(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kKeys);
  const std::string pattern = args[1] == "*" ? std::string() : std::string(args[1]);
  auto handler = std::make_unique<ScanHandler>(*this, slot, worker_, true, ScanCursor{},
                                               ScanReaders(), kKeysStep, pattern, std::string());
  ScanHandler* raw = handler.get();
  BeginFanout();
  raw->Next(worker_, std::move(handler));
}

void ClientConnection::CmdRandomKey(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kRandomKey);
  const uint32_t members = static_cast<uint32_t>(worker_.ring().members().size());
  auto handler = std::make_unique<RandomKeyHandler>(*this, slot, members);
  RandomKeyHandler* raw = handler.get();
  BeginFanout();
  raw->Next(worker_, std::move(handler));
}

void ClientConnection::CmdDbSize(Args args) {
  ReplySlot& slot = NewSlot(CommandId::kDbSize);
  const int members = static_cast<int>(worker_.ring().members().size());
  const int divisor = std::max(1, std::min(static_cast<int>(worker_.config().replicas), members));
  FrameBuilder builder(128);
  auto& b = builder.Start();
  auto req = wire::CreateKeyCountRequest(b);
  const auto frame =
      builder.Finish(kPlaceholderRequestId, wire::Message::KeyCountRequest, req.Union());
  std::vector<FanoutRequest> requests;
  for (int m = 0; m < members; ++m) requests.push_back({m, frame});
  BeginFanout();
  worker_.Fanout(std::make_unique<DbSizeHandler>(*this, slot, divisor), requests);
}

}  // namespace shoal::proxy
