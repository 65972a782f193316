// KeyOperation's conditional writes (KeyPlan::conditional: APPEND, SETRANGE, GETSET;
// docs/data-model.md "Concurrent read-modify-writes"): the write carries if_version_at_most = the
// version it builds on, refusals make it read again and recompute, and concurrent APPENDs through
// different proxies, delivered to the replicas in any order, all survive exactly once.

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/typed/typed_value.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// A replica as the node store applies a string Put: the greater version wins; with
// if_version_at_most, a held version above it refuses (condition failed). `down`: every request
// fails; `not_ready` (restarted empty, syncing): reads and conditional puts answer NotReady (its
// condition cannot be judged on an empty store), other puts are applied and answered with
// not_ready set.
struct Replica {
  EntryState state;
  std::string value;
  bool down = false;
  bool not_ready = false;

  GetReply Get(const NodeRequest& req) const {
    GetReply r;
    r.state = state;
    if (req.want_value && state.found && !state.tombstone) r.value = value;
    return r;
  }
  PutReply Put(const NodeRequest& req) {
    PutReply r;
    if (state.found && req.version <= state.version) {
      r.current = r.current_expiry_version = state.version;
      return r;  // stale
    }
    if (req.conditional && state.found && state.version > req.if_version_at_most) {
      r.condition_failed = true;
      r.current = r.current_expiry_version = state.version;
      return r;
    }
    r.previous_found = state.found && !state.tombstone;
    r.previous_version = state.version;
    state.found = true;
    state.tombstone = req.tombstone;
    state.version = state.expiry_version = req.version;
    value.assign(req.value.data(), req.value.size());
    r.applied = true;
    r.current = r.current_expiry_version = req.version;
    return r;
  }
  // Whole-state merge (anti-entropy, read-repair, start-up sync): the greater version wins.
  void Merge(const Replica& from) {
    if (from.state.found && (!state.found || from.state.version > state.version)) {
      state = from.state;
      value = from.value;
    }
  }
};

// Anti-entropy between two replicas: each takes the other's state if it is newer.
void AntiEntropy(std::vector<Replica>& replicas, int a, int b) {
  replicas[a].Merge(replicas[b]);
  replicas[b].Merge(replicas[a]);
}

// The state every replica converges to (the greatest version held).
const Replica& Newest(const std::vector<Replica>& replicas) {
  const Replica* newest = &replicas[0];
  for (const Replica& r : replicas) {
    if (r.state.found && (!newest->state.found || r.state.version > newest->state.version)) {
      newest = &r;
    }
  }
  return *newest;
}

KeyPlan Append(std::string_view suffix) {
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.n = 3;
  p.required = 2;
  p.want_value = true;
  p.keep_expiry = true;
  p.conditional = true;
  p.transform = ValueTransform::kAppend;
  p.value = suffix;
  return p;
}

// One proxy's operation and the requests it has sent that are not answered yet.
struct Client {
  explicit Client(uint64_t writer) : hlc(clock, 60'000), writer(writer) {}
  FakeClock clock{kNow};
  HybridLogicalClock hlc;
  uint64_t writer;
  KeyOperation op;
  std::vector<NodeRequest> in_flight;
  std::vector<std::string> values;  // owned copies of the Put values in flight
  bool put_unanswered = false;      // a replica failed (or answered NotReady to) one of its puts

  void Start(const KeyPlan& plan) {
    put_unanswered = false;
    op.Start(plan, hlc, writer, kNow);
    Collect();
  }
  void Collect() {
    for (NodeRequest r : op.requests()) {
      values.emplace_back(r.value);
      in_flight.push_back(r);
    }
    op.ClearRequests();
  }
};

// Delivers request `i` of client `c` to its replica and feeds the reply back.
void Deliver(Client& c, size_t i, std::vector<Replica>& replicas, bool fail = false) {
  const NodeRequest req = c.in_flight[i];
  const std::string value = c.values[i];
  c.in_flight.erase(c.in_flight.begin() + static_cast<long>(i));
  c.values.erase(c.values.begin() + static_cast<long>(i));
  Replica& replica = replicas[req.replica];
  if (req.type == NodeRequest::Type::kPut && (fail || replica.down || replica.not_ready)) {
    c.put_unanswered = true;
  }
  if (fail || replica.down) {
    c.op.OnFailure(req.tag, kNow);
  } else if (replica.not_ready && (req.type == NodeRequest::Type::kGet || req.conditional)) {
    c.op.OnNotReady(req.tag, kNow);
  } else if (req.type == NodeRequest::Type::kGet) {
    c.op.OnGet(req.tag, replica.Get(req), kNow);
  } else {
    NodeRequest put = req;
    put.value = value;
    PutReply reply = replica.Put(put);
    reply.not_ready = replica.not_ready;
    c.op.OnPut(req.tag, reply, kNow);
  }
  c.Collect();
}

std::vector<Replica> Holding(const std::string& value, Version v) {
  Replica r;
  r.state.found = true;
  r.state.version = r.state.expiry_version = v;
  r.value = value;
  return {r, r, r};
}

Version V(int64_t ms, uint64_t writer) { return Version{HlcFromParts(ms, 0), writer}; }

// Delivers every request of `c` addressed to `replica`, oldest first.
void DeliverTo(Client& c, int replica, std::vector<Replica>& replicas) {
  for (size_t i = 0; i < c.in_flight.size();) {
    if (c.in_flight[i].replica == replica) {
      Deliver(c, i, replicas);
    } else {
      ++i;
    }
  }
}

void DeliverAll(Client& c, std::vector<Replica>& replicas) {
  while (!c.in_flight.empty()) Deliver(c, 0, replicas);
}

// Runs one APPEND of `c` to its end, no other writer at work; the value it answered ("" unless
// acknowledged).
std::string AppendAlone(Client& c, std::string_view suffix, std::vector<Replica>& replicas) {
  c.Start(Append(suffix));
  DeliverAll(c, replicas);
  EXPECT_TRUE(c.op.answered());
  if (!c.op.answer().performed) return "";
  return std::string(c.op.answer().value);
}

// Delivers `c`'s first request of `type` to `replica` (which must be in flight).
void DeliverOne(Client& c, NodeRequest::Type type, int replica, std::vector<Replica>& replicas) {
  for (size_t i = 0; i < c.in_flight.size(); ++i) {
    if (c.in_flight[i].replica == replica && c.in_flight[i].type == type) {
      Deliver(c, i, replicas);
      return;
    }
  }
  ADD_FAILURE() << "no request of that type to replica " << replica;
}

// x and y APPEND to "a" at once; y's put reaches replica 1 first, x's puts reach replicas 0 and 2
// first: x is applied by a quorum, y by replica 1 alone (its retry's reads are left in flight).
void SplitQuorum(Client& x, Client& y, std::vector<Replica>& replicas) {
  x.Start(Append("x"));
  y.Start(Append("y"));
  for (int r = 0; r < 3; ++r) {
    DeliverOne(x, NodeRequest::Type::kGet, r, replicas);
    DeliverOne(y, NodeRequest::Type::kGet, r, replicas);
  }
  DeliverOne(y, NodeRequest::Type::kPut, 1, replicas);
  DeliverOne(x, NodeRequest::Type::kPut, 0, replicas);
  DeliverOne(x, NodeRequest::Type::kPut, 2, replicas);
  DeliverOne(x, NodeRequest::Type::kPut, 1, replicas);
  DeliverOne(y, NodeRequest::Type::kPut, 0, replicas);
  DeliverOne(y, NodeRequest::Type::kPut, 2, replicas);
}

TEST(ConditionalWrite, CarriesTheVersionItBuildsOn) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(1);
  EXPECT_EQ(AppendAlone(x, "b", replicas), "ab");
  EXPECT_EQ(replicas[0].value, "ab");
}

TEST(ConditionalWrite, PutsCarryIfVersionAtMost) {
  const Version base = V(kNow - 1000, 5);
  std::vector<Replica> replicas = Holding("a", base);
  Client x(1);
  x.Start(Append("b"));
  // Answer the three reads only.
  while (x.in_flight.size() > 0 && x.in_flight[0].type == NodeRequest::Type::kGet) {
    Deliver(x, 0, replicas);
  }
  ASSERT_EQ(x.in_flight.size(), 3u);
  for (const NodeRequest& p : x.in_flight) {
    EXPECT_EQ(p.type, NodeRequest::Type::kPut);
    EXPECT_TRUE(p.conditional);
    EXPECT_EQ(p.if_version_at_most, base);
    EXPECT_GT(p.version, base);
  }
}

TEST(ConditionalWrite, RefusedByAConcurrentAppendRetriesOnItsValue) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(1), l(2);
  x.Start(Append("x"));
  l.Start(Append("l"));
  DeliverAll(x, replicas);  // x's reads, then its puts (answered once all three replied)
  ASSERT_TRUE(x.op.answered());
  for (int r = 0; r < 3; ++r) DeliverTo(l, r, replicas);  // l read "a", refused, read "ax"
  DeliverAll(l, replicas);
  ASSERT_TRUE(l.op.answered());
  EXPECT_TRUE(l.op.answer().performed);
  EXPECT_EQ(l.op.answer().value, "axl");
  EXPECT_EQ(l.op.stale_retries(), 0);
  for (const Replica& r : replicas) EXPECT_EQ(r.value, "axl");
}

TEST(ConditionalWrite, ASplitOfRefusedWritesWithAReplicaDownIsNeverBuiltOn) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(1), l(2);
  x.Start(Append("x"));
  l.Start(Append("l"));
  // Both read "a" from replicas 0 and 1 (replica 2's reads stay in flight).
  for (Client* c : {&x, &l}) {
    for (int r = 0; r < 2; ++r) {
      for (size_t i = 0; i < c->in_flight.size(); ++i) {
        if (c->in_flight[i].replica == r && c->in_flight[i].type == NodeRequest::Type::kGet) {
          Deliver(*c, i, replicas);
          break;
        }
      }
    }
  }
  // x's put reaches replica 0 first, l's replica 1: each refused at the other; replica 2 fails.
  auto put_to = [](Client& c, int r) {
    for (size_t i = 0; i < c.in_flight.size(); ++i) {
      if (c.in_flight[i].replica == r && c.in_flight[i].type == NodeRequest::Type::kPut) return i;
    }
    return c.in_flight.size();
  };
  Deliver(x, put_to(x, 0), replicas);
  Deliver(l, put_to(l, 1), replicas);
  Deliver(x, put_to(x, 1), replicas);
  Deliver(l, put_to(l, 0), replicas);
  EXPECT_EQ(replicas[0].value, "ax");
  EXPECT_EQ(replicas[1].value, "al");
  // Replica 2 is down: every request to it fails.
  for (Client* c : {&x, &l}) {
    for (size_t i = 0; i < c->in_flight.size();) {
      if (c->in_flight[i].replica == 2) {
        Deliver(*c, i, replicas, /*fail=*/true);
      } else {
        ++i;
      }
    }
  }
  ASSERT_FALSE(x.op.answered());
  ASSERT_FALSE(l.op.answered());
  // Each retries: no version is on two replicas, so each builds again on "a", applied only where
  // "a" or its own refused write is held: never on the other's refused write. With replica 2
  // down neither can reach two replicas: both give up (TRYAGAIN) rather than append to the
  // other's refused value (which would apply one suffix twice once both succeed).
  for (Client* c : {&x, &l}) {
    while (!c->in_flight.empty()) {
      const bool fail = c->in_flight[0].replica == 2;
      Deliver(*c, 0, replicas, fail);
    }
    ASSERT_TRUE(c->op.answered());
    EXPECT_EQ(c->op.answer().failure, KeyAnswer::Failure::kConflict);
  }
  EXPECT_EQ(replicas[0].value, "ax");
  EXPECT_EQ(replicas[1].value, "al");
  // A GET's read-repair makes one of them the state two replicas hold; the next APPEND builds
  // on it.
  replicas[2] = replicas[1];
  Client m(3);
  EXPECT_EQ(AppendAlone(m, "m", replicas), "alm");
}

// The key is deleted (tombstone T on every replica); x reads it, then a DEL reaches replica 2
// alone (T2, above T, below x's write). l reads T on two replicas and T2 on the third. x's write
// is applied by replicas 0 and 1 and refused by 2 (T2, older than x's write: no re-stamp): x is
// acknowledged. l must build on T, the state a quorum holds: built on T2 (the newest tombstone,
// held by one replica), its write was applied by replica 2 after x's round was decided, at a
// version above x's, and anti-entropy then spread it over x's acknowledged APPEND.
TEST(ConditionalWrite, ANewerTombstoneOnOneReplicaIsNotBuiltOn) {
  const Version t = V(kNow - 1000, 5);
  std::vector<Replica> replicas = Holding("", t);
  for (Replica& r : replicas) r.state.tombstone = true;
  Client x(1), l(2);
  ASSERT_TRUE(l.hlc.Update(HlcFromParts(kNow + 100, 0)).ok());  // l's clock is ahead
  x.Start(Append("x"));
  for (int i = 0; i < 3; ++i) Deliver(x, 0, replicas);  // x reads T everywhere
  replicas[2].state.version = replicas[2].state.expiry_version = V(kNow - 500, 7);  // DEL on 2
  l.Start(Append("l"));
  for (int r : {2, 0, 1}) DeliverOne(l, NodeRequest::Type::kGet, r, replicas);  // T2, T, T
  DeliverAll(x, replicas);
  ASSERT_TRUE(x.op.answered());
  ASSERT_TRUE(x.op.answer().performed);
  EXPECT_EQ(x.op.answer().value, "x");
  DeliverTo(l, 2, replicas);  // l's put to replica 2 first
  AntiEntropy(replicas, 2, 0);
  AntiEntropy(replicas, 2, 1);
  DeliverAll(l, replicas);
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) AntiEntropy(replicas, a, b);
  }
  const std::string final_value = Newest(replicas).value;
  EXPECT_NE(final_value.find('x'), std::string::npos)
      << "x's acknowledged APPEND lost: " << final_value;
}

// x's refused attempt reaches a quorum by a whole-state path (a read-repair, anti-entropy), which
// takes the newest version and not the condition: it may have replaced an acknowledged write, or
// been built on. x neither acknowledges it nor appends again ("axx"): TRYAGAIN.
TEST(ConditionalWrite, ItsOwnRefusedWriteSpreadToAQuorumIsNotAcknowledged) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(1);
  x.Start(Append("x"));
  for (int i = 0; i < 3; ++i) Deliver(x, 0, replicas);  // reads
  ASSERT_EQ(x.in_flight.size(), 3u);
  // Replica 0 applies; 1 and 2 hold another write (refuse).
  const Version other = V(kNow + 5000, 9);
  Deliver(x, 0, replicas);
  for (int r : {1, 2}) {
    replicas[r].state.version = replicas[r].state.expiry_version = other;
    replicas[r].value = "zz";
  }
  Deliver(x, 0, replicas);
  Deliver(x, 0, replicas);
  ASSERT_FALSE(x.op.answered());  // reading again
  // Meanwhile a read-repair spread x's refused "ax" to replica 1.
  replicas[1] = replicas[0];
  const Version attempt = replicas[0].state.version;
  DeliverAll(x, replicas);
  ASSERT_TRUE(x.op.answered());
  EXPECT_FALSE(x.op.answer().performed);
  EXPECT_EQ(x.op.answer().failure, KeyAnswer::Failure::kConflict);
  for (int r : {0, 1}) {  // nothing written again
    EXPECT_EQ(replicas[r].value, "ax");
    EXPECT_EQ(replicas[r].state.version, attempt);
  }
  EXPECT_EQ(replicas[2].value, "zz");
}

// y's refused write on replica 1 is newer than x's (same clock, greater writer id). Were x
// acknowledged at its first version, the next anti-entropy exchange would replace it everywhere
// with y's refused "ay" before y's retry overwrites it: an acknowledged APPEND lost. x is
// acknowledged only once no replica that answered holds a newer version: it writes its value
// again (re-stamped above "ay", applied only where its own write is held) first.
TEST(ConditionalWrite, IsAcknowledgedOnlyAboveARefusedWriteHeldElsewhere) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(1), y(2);
  SplitQuorum(x, y, replicas);
  ASSERT_GT(replicas[1].state.version, replicas[0].state.version);  // "ay" is newer
  DeliverAll(x, replicas);
  ASSERT_TRUE(x.op.answered());
  EXPECT_TRUE(x.op.answer().performed);
  EXPECT_EQ(x.op.answer().value, "ax");
  EXPECT_GT(x.op.write_version(), replicas[1].state.version);
  // Anti-entropy runs before y's retry reads.
  AntiEntropy(replicas, 0, 1);
  AntiEntropy(replicas, 1, 2);
  EXPECT_EQ(Newest(replicas).value, "ax");
  DeliverAll(y, replicas);
  ASSERT_TRUE(y.op.answered());
  EXPECT_TRUE(y.op.answer().performed);
  EXPECT_EQ(y.op.answer().value, "axy");
  for (const Replica& r : replicas) EXPECT_EQ(r.value, "axy");
}

// x is acknowledged by replicas 0 and 2 above y's refused "ay" on replica 1; then replica 2
// restarts empty. y's retry finds no version on two replicas: it must not write "ay" again above
// "ax" (anti-entropy would then spread it over the acknowledged "ax"); it reads again and gives
// up, and anti-entropy settles on "ax".
TEST(ConditionalWrite, ARetryNeverRaisesItsRefusedWriteAboveAnAcknowledgedOne) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(2), y(1);  // x's versions above y's: acknowledged at once
  SplitQuorum(x, y, replicas);
  DeliverAll(x, replicas);
  ASSERT_TRUE(x.op.answered());
  ASSERT_TRUE(x.op.answer().performed);
  EXPECT_EQ(replicas[1].value, "ay");
  replicas[2] = Replica{};
  replicas[2].down = true;  // restarted: empty, unreachable for now
  DeliverAll(y, replicas);
  ASSERT_TRUE(y.op.answered());
  EXPECT_EQ(y.op.answer().failure, KeyAnswer::Failure::kConflict);
  AntiEntropy(replicas, 0, 1);
  EXPECT_EQ(replicas[1].value, "ax");
  // Back (start-up sync), the next APPEND builds on "ax".
  replicas[2].down = false;
  replicas[2].Merge(replicas[0]);
  Client z(3);
  EXPECT_EQ(AppendAlone(z, "z", replicas), "axz");
}

TEST(ConditionalWrite, GivesUpWithAConflictAfterItsAttempts) {
  std::vector<Replica> replicas = Holding("a", V(kNow - 1000, 5));
  Client x(1);
  x.Start(Append("x"));
  int64_t t = kNow + 1000;
  while (!x.op.answered()) {
    ASSERT_FALSE(x.in_flight.empty());
    if (x.in_flight[0].type == NodeRequest::Type::kPut) {
      // Another writer always comes first.
      for (Replica& r : replicas) {
        r.state.version = r.state.expiry_version = V(++t, 9);
        r.value += "z";
      }
    }
    Deliver(x, 0, replicas);
  }
  EXPECT_EQ(x.op.answer().failure, KeyAnswer::Failure::kConflict);
  EXPECT_EQ(x.op.stale_retries(), KeyOperation::kMaxConflictAttempts - 1);
}

// A tombstone lingers on one replica (the others purged it, or a DEL reached it alone): the write
// builds on the state the quorum holds (nothing), so that replica refuses it (building on its
// tombstone is what ANewerTombstoneOnOneReplicaIsNotBuiltOn shows unsafe); anti-entropy or a
// read-repair brings it the acknowledged value.
TEST(ConditionalWrite, ALingeringTombstoneOnOneReplicaRefusesUntilRepaired) {
  const Version del = V(kNow - 1000, 5);
  std::vector<Replica> replicas(3);
  replicas[2].state.found = replicas[2].state.tombstone = true;
  replicas[2].state.version = replicas[2].state.expiry_version = del;
  Client x(1);
  x.Start(Append("x"));
  // The tombstone's reply comes first; the two absent replicas decide.
  DeliverTo(x, 2, replicas);
  DeliverAll(x, replicas);
  ASSERT_TRUE(x.op.answered());
  EXPECT_TRUE(x.op.answer().performed);
  EXPECT_EQ(replicas[0].value, "x");
  EXPECT_EQ(replicas[1].value, "x");
  EXPECT_TRUE(replicas[2].state.tombstone);
  AntiEntropy(replicas, 0, 2);
  EXPECT_EQ(replicas[2].value, "x");
}

// Concurrent APPENDs through three proxies (3 x 4), every request delivered in a random order;
// optionally anti-entropy exchanges between any two replicas at any moment (`anti_entropy`) and
// one replica restarted empty (`restart`: unreachable for a while, then answering reads and
// conditional puts NotReady until its start-up sync has pulled its peers' states).
struct AppendRun {
  std::string final_value;  // what the replicas converge to (the newest version)
  // Acknowledged suffixes, and whether every replica answered each one's write rounds.
  std::vector<std::pair<std::string, bool>> acknowledged;
  int conflicts = 0;  // TRYAGAIN
};

AppendRun RunAppends(uint32_t seed, bool anti_entropy, bool restart) {
  std::mt19937 rng(seed);
  std::vector<Replica> replicas = Holding("", V(kNow - 1000, 5));
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<int> next(3, 0);  // appends issued per client
  AppendRun run;
  for (int c = 0; c < 3; ++c) {
    clients.push_back(std::make_unique<Client>(100 + c));
    clients[c]->clock.Set(kNow + c);
  }
  auto start = [&](int c) {
    clients[c]->Start(
        Append(std::string(1, static_cast<char>('p' + c)) + std::to_string(next[c]++)));
  };
  for (int c = 0; c < 3; ++c) start(c);
  const int restarted = restart ? static_cast<int>(rng() % 3) : -1;
  const int down_at = restart ? static_cast<int>(rng() % 60) : -1;
  const int ready_at = down_at + 5 + static_cast<int>(rng() % 40);
  const int synced_at = ready_at + static_cast<int>(rng() % 20);
  for (int step = 0; step < 100000; ++step) {
    if (step == down_at) {
      replicas[restarted] = Replica{};
      replicas[restarted].down = true;
    } else if (restart && step == ready_at) {
      replicas[restarted].down = false;
      replicas[restarted].not_ready = true;
    } else if (restart && step == synced_at) {
      for (int r = 0; r < 3; ++r) replicas[restarted].Merge(replicas[r]);
      replicas[restarted].not_ready = false;
    }
    if (anti_entropy && rng() % 8 == 0) {
      const int a = static_cast<int>(rng() % 3), b = static_cast<int>(rng() % 3);
      if (!replicas[a].down && !replicas[b].down) AntiEntropy(replicas, a, b);
    }
    std::vector<int> busy;
    for (int c = 0; c < 3; ++c) {
      if (!clients[c]->in_flight.empty()) busy.push_back(c);
    }
    if (busy.empty()) break;
    const int c = busy[rng() % busy.size()];
    Client& cl = *clients[c];
    Deliver(cl, rng() % cl.in_flight.size(), replicas);
    if (cl.op.answered() && cl.in_flight.empty()) {
      if (cl.op.answer().performed) {
        run.acknowledged.emplace_back(
            std::string(1, static_cast<char>('p' + c)) + std::to_string(next[c] - 1),
            !cl.put_unanswered);
      } else {
        EXPECT_EQ(cl.op.answer().failure, KeyAnswer::Failure::kConflict) << seed;
        ++run.conflicts;
      }
      if (next[c] < 4) start(c);
    }
  }
  for (Replica& r : replicas) r.down = r.not_ready = false;
  run.final_value = Newest(replicas).value;
  return run;
}

size_t Occurrences(const std::string& value, const std::string& s) {
  size_t count = 0;
  for (size_t pos = value.find(s); pos != std::string::npos; pos = value.find(s, pos + 1)) {
    ++count;
  }
  return count;
}

TEST(ConditionalWrite, RandomInterleavingsKeepEveryAcknowledgedAppendOnce) {
  int conflicts = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    const AppendRun run = RunAppends(seed, /*anti_entropy=*/false, /*restart=*/false);
    for (const auto& [suffix, all_answered] : run.acknowledged) {
      EXPECT_TRUE(all_answered);
      EXPECT_EQ(Occurrences(run.final_value, suffix), 1u)
          << "seed " << seed << " " << suffix << " in " << run.final_value;
    }
    conflicts += run.conflicts;
  }
  // Three writers on one key, every delivery order: some give up (TRYAGAIN: a three-way split of
  // refused writes is left for anti-entropy or a read-repair to settle, and a write applied by a
  // quorum while a replica held a newer one is only acknowledged once re-stamped above it);
  // measured 916 of 3600 (538 when a
  // retry still wrote again on the state its refused attempt had built on: unsafe, see above).
  printf("%d of 3600 gave up\n", conflicts);
  EXPECT_LT(conflicts, 3600 * 3 / 10);
}

// With anti-entropy spreading the newest state (refused attempts included) at any moment and a
// replica restarted empty: every acknowledged APPEND whose write rounds every replica answered is
// in the converged value exactly once; none is there twice. An acknowledged APPEND whose round
// a replica did not answer (down, warming up) can still be lost: that replica may take, after
// the round, a concurrent write built on the same state with a newer version, which anti-entropy
// spreads before its writer's retry overwrites it (docs/replication.md). Counted, not excluded.
TEST(ConditionalWrite, AntiEntropyAndARestartedReplicaLoseNoAcknowledgedAppend) {
  int acknowledged = 0, unconfirmed = 0, unconfirmed_lost = 0;
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    const AppendRun run = RunAppends(seed, /*anti_entropy=*/true, /*restart=*/true);
    for (const auto& [suffix, all_answered] : run.acknowledged) {
      const size_t count = Occurrences(run.final_value, suffix);
      EXPECT_LE(count, 1u) << "seed " << seed << " " << suffix << " in " << run.final_value;
      if (all_answered) {
        EXPECT_EQ(count, 1u) << "seed " << seed << " " << suffix << " in " << run.final_value;
      } else {
        ++unconfirmed;
        unconfirmed_lost += count == 0 ? 1 : 0;
      }
    }
    acknowledged += static_cast<int>(run.acknowledged.size());
  }
  printf("acknowledged %d of 4800; %d with a replica that did not answer, %d of those lost\n",
         acknowledged, unconfirmed, unconfirmed_lost);
  EXPECT_GT(acknowledged, 4800 / 2);
}

// RENAME's delete of its source: written at the version derived from the state it read, so a
// newer write of the source refuses it (stale) and is kept; never re-stamped above it.
TEST(FixedVersionWrite, IsSentAtItsVersionAndLosesToANewerWrite) {
  const Version read = V(kNow - 1000, 5);
  std::vector<Replica> replicas = Holding("moved", read);
  // A SET of the source after the RENAME read it reached replicas 1 and 2.
  for (int r : {1, 2}) {
    replicas[r].state.version = replicas[r].state.expiry_version = V(kNow - 10, 6);
    replicas[r].value = "newer";
  }
  Client x(1);
  KeyPlan p;
  p.mode = KeyMode::kWrite;
  p.n = 3;
  p.required = 2;
  p.tombstone = true;
  p.fixed_version = typed::DerivedVersion(read, read);
  x.Start(p);
  ASSERT_EQ(x.in_flight.size(), 3u);
  for (const NodeRequest& r : x.in_flight) EXPECT_EQ(r.version, p.fixed_version);
  DeliverAll(x, replicas);
  ASSERT_TRUE(x.op.answered());
  EXPECT_TRUE(x.op.answer().performed);
  EXPECT_EQ(x.op.stale_retries(), 0);  // not re-stamped over the newer write
  EXPECT_TRUE(replicas[0].state.tombstone);
  EXPECT_EQ(replicas[1].value, "newer");
  EXPECT_EQ(replicas[2].value, "newer");
}

}  // namespace
}  // namespace shoal::proxy
