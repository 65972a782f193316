#include "tools/sim/sim_schedule.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "common/hash/key_hash.h"
#include "tools/sim/sim_proxy.h"
#include "tools/sim/sim_replica.h"
#include "tools/sim/sim_world.h"

namespace shoal::sim {

namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kTimeoutMs = 60;
constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

std::string VersionText(const Version& v) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%" PRIu64 ".%" PRIu64 "/w%" PRIu64, HlcWallMs(v.hlc) % 1'000'000,
           HlcLogical(v.hlc), v.writer % 1000);
  return buf;
}

std::string EntryText(const ReplicaEntry& e) {
  if (!e.found) return "absent";
  char buf[256];
  snprintf(buf, sizeof(buf), "%s%s v=%s ev=%s exp=%" PRId64,
           e.tombstone ? "tombstone" : "value=", e.tombstone ? "" : e.value.c_str(),
           VersionText(e.version).c_str(), VersionText(e.EffectiveExpiryVersion()).c_str(),
           e.expire_at_ms == 0 ? 0 : e.expire_at_ms - kStartMs);
  return buf;
}

std::string StateText(const proxy::EntryState& s) {
  if (!s.found) return "absent";
  char buf[160];
  snprintf(buf, sizeof(buf), "%s v=%s ev=%s exp=%" PRId64, s.tombstone ? "tombstone" : "value",
           VersionText(s.version).c_str(), VersionText(s.effective_expiry_version()).c_str(),
           s.expire_at_ms == 0 ? 0 : s.expire_at_ms - kStartMs);
  return buf;
}

// Proxies' writer ids. TODO(sim): 64 random bits once the store keeps 64-bit writers (it
// truncates them to 32 today: the simulation's first finding, being fixed in node/store).
uint64_t WriterId(uint64_t random) { return (random & 0xffff'ffffull) | 1; }

// One ring per cluster size, built once (the ring is a pure function of its members).
RingPtr RingOf(int nodes) {
  static std::map<int, RingPtr> rings;
  auto it = rings.find(nodes);
  if (it != rings.end()) return it->second;
  std::vector<RingMember> members;
  for (int i = 0; i < nodes; ++i) {
    members.push_back(RingMember{"n" + std::to_string(i), "sim"});
  }
  RingPtr ring = Ring::Build(std::move(members), 64).value();
  rings[nodes] = ring;
  return ring;
}

class Schedule final : public SimNetwork {
 public:
  Schedule(uint64_t seed, const SimOptions& options)
      : seed_(seed), options_(options), rng_(seed), queue_(kStartMs) {}

  SimResult Run();

 private:
  struct WriteRecord {
    bool tombstone = false;
    std::string value;
    int64_t expire_at_ms = 0;
  };
  struct Acked {
    Version version;
    uint64_t invoked_tick;
    uint64_t acked_tick;
    bool tombstone;
  };
  struct Client {
    int proxy = 0;
    int remaining = 0;
    int sequence = 0;
  };

  void SendToReplica(int proxy, int replica, std::vector<uint8_t> frame) override;
  void Deliver(int proxy, int replica, const std::vector<uint8_t>& frame);
  void NextCommand(int client);
  void OnOutcome(int client, const Command& command, uint64_t invoked_tick, const Outcome& outcome);
  std::string CheckPair(const std::string& key, const Version& version,
                        const Version& expiry_version, bool tombstone, std::string_view value,
                        bool check_value, int64_t expire_at_ms, const WriteRecord** record,
                        int64_t* expiry);
  void PlanFaults();
  void Drain() {
    while (!result_.ok ? false : queue_.RunNext()) {
    }
  }

  // The oracle.
  bool Guaranteed() const { return ever_unavailable_.size() <= 1; }
  void CheckState(int node, const std::string& key, const ReplicaEntry& entry);
  void CheckAllStates();
  int64_t LatestNodeClock() const {
    int64_t latest = 0;
    for (const auto& node : nodes_) latest = std::max(latest, node->NowMs());
    return latest;
  }
  void FinalReads();
  void FullRepairAndConverge();

  void Trace(const char* format, ...) __attribute__((format(printf, 2, 3)));
  void Fail(const char* format, ...) __attribute__((format(printf, 2, 3)));

  const uint64_t seed_;
  const SimOptions options_;
  Rng rng_;
  EventQueue queue_;
  RingPtr ring_;
  std::vector<std::unique_ptr<SimReplica>> nodes_;
  std::vector<std::unique_ptr<SimProxy>> proxies_;
  std::vector<Client> clients_;
  std::vector<std::string> keys_;
  double loss_ = 0;
  double duplicate_ = 0;
  int64_t max_delay_ = 1;
  bool healed_ = false;
  uint64_t tick_ = 0;  // orders acknowledgements and invocations (several may share a ms)

  std::map<std::string, std::map<Version, WriteRecord>> writes_;  // value writes issued
  std::map<std::string, std::map<Version, int64_t>> touches_;     // expiry writes issued
  std::map<std::string, std::vector<Acked>> acked_;               // acknowledged SET / DEL
  std::set<int> ever_unavailable_;
  SimResult result_;
};

void Schedule::Trace(const char* format, ...) {
  if (!options_.trace) return;
  char buf[512];
  va_list args;
  va_start(args, format);
  vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "[t=%5" PRId64 "] ", queue_.now() - kStartMs);
  result_.trace += prefix;
  result_.trace += buf;
  result_.trace += '\n';
}

void Schedule::Fail(const char* format, ...) {
  if (!result_.ok) return;
  char buf[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  result_.ok = false;
  char prefix[96];
  snprintf(prefix, sizeof(prefix),
           "seed %" PRIu64 " (rerun: SHOAL_SIM_SEED=%" PRIu64 "), t=%" PRId64 ": ", seed_, seed_,
           queue_.now() - kStartMs);
  result_.failure = std::string(prefix) + buf;
  Trace("VIOLATION %s", buf);
}

void Schedule::SendToReplica(int proxy, int replica, std::vector<uint8_t> frame) {
  if (!healed_ && rng_.Chance(loss_)) {
    Trace("drop p%d->n%d", proxy, replica);
    return;
  }
  const int copies = !healed_ && rng_.Chance(duplicate_) ? 2 : 1;
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(frame));
  for (int i = 0; i < copies; ++i) {
    queue_.After(rng_.Range(1, max_delay_),
                 [this, proxy, replica, shared] { Deliver(proxy, replica, *shared); });
  }
}

void Schedule::Deliver(int proxy, int replica, const std::vector<uint8_t>& frame) {
  SimReplica& node = *nodes_[replica];
  if (!node.up) return;
  auto response = std::make_shared<std::vector<uint8_t>>(node.Handle(frame, queue_.now()));
  if (!healed_ && rng_.Chance(loss_)) {
    Trace("drop n%d->p%d", replica, proxy);
    return;
  }
  const int copies = !healed_ && rng_.Chance(duplicate_) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    queue_.After(rng_.Range(1, max_delay_), [this, proxy, replica, response] {
      proxies_[proxy]->OnResponse(replica, *response);
    });
  }
}

void Schedule::NextCommand(int c) {
  Client& client = clients_[c];
  if (client.remaining == 0 || !result_.ok) return;
  --client.remaining;
  SimProxy& proxy = *proxies_[client.proxy];
  const std::string key = keys_[rng_.Below(keys_.size())];
  auto value = [&] { return "c" + std::to_string(c) + "." + std::to_string(client.sequence++); };
  auto ms = [&](int64_t lo, int64_t hi) { return std::to_string(rng_.Range(lo, hi)); };
  auto at = [&](int64_t lo, int64_t hi) {
    return std::to_string(proxy.NowMs() + rng_.Range(lo, hi));
  };
  Command command;
  std::vector<std::string>& args = command.args;
  // The mix. Without touches: GET 35%, SET 50%, DEL 15%. With touches, PEXPIRE[AT] (future,
  // past), PERSIST and GETEX take 20% from SET and DEL. With conditionals, some SETs carry NX, XX,
  // GET or KEEPTTL, some DELs are GETDEL, some PEXPIREs carry NX, XX, GT or LT.
  const uint64_t dice = rng_.Below(100);
  const bool touches = options_.touches;
  if (dice < 35) {
    args = {"GET", key};
  } else if (dice < 65 || (!touches && dice < 85)) {
    args = {"SET", key, value()};
    const bool expiry = options_.ttls && rng_.Chance(0.25);
    if (expiry) {
      if (rng_.Chance(0.5)) {
        args.insert(args.end(), {"PX", ms(5, 300)});
      } else {
        args.insert(args.end(), {"PXAT", at(5, 300)});
      }
    }
    if (options_.conditionals && rng_.Chance(0.3)) {
      static const char* const kOptions[] = {"NX", "XX", "GET", "KEEPTTL"};
      const std::string option = kOptions[rng_.Below(std::size(kOptions))];
      if (option != "KEEPTTL" || !expiry) args.push_back(option);
    }
  } else if (dice < 80 || !touches) {
    args = {options_.conditionals && rng_.Chance(0.25) ? "GETDEL" : "DEL", key};
  } else if (dice < 87) {
    args = {"PEXPIRE", key, rng_.Chance(0.1) ? ms(-50, 0) : ms(5, 300)};  // <= 0: a delete
    if (options_.conditionals && rng_.Chance(0.3)) {
      static const char* const kConditions[] = {"NX", "XX", "GT", "LT"};
      args.push_back(kConditions[rng_.Below(std::size(kConditions))]);
    }
  } else if (dice < 90) {
    args = {"PEXPIREAT", key, at(5, 300)};
  } else if (dice < 95 && options_.conditionals) {
    args = {"GETEX", key};
    if (rng_.Chance(0.3)) {
      args.push_back("PERSIST");
    } else {
      args.insert(args.end(), {"PX", ms(5, 300)});
    }
  } else {
    args = {"PERSIST", key};
  }
  const uint64_t invoked = ++tick_;
  ++result_.commands;
  Trace("c%d p%d %s", c, client.proxy, command.Text().c_str());
  proxy.Execute(command, [this, c, command, invoked](const Outcome& outcome) {
    OnOutcome(c, command, invoked, outcome);
    queue_.After(rng_.Range(0, 3), [this, c] { NextCommand(c); });
  });
}

// A state shown by a reply or held by a replica must be the one its pair was written with: the
// value of the write that stamped `version`, the expiry of the write or Touch that stamped its
// expiry version. Returns "" or what is wrong; fills *record with the value write and *expiry with
// the expiry the pair was written with (when not null and the versions were stamped).
std::string Schedule::CheckPair(const std::string& key, const Version& version,
                                const Version& expiry_version, bool tombstone,
                                std::string_view value, bool check_value, int64_t expire_at_ms,
                                const WriteRecord** record, int64_t* expiry) {
  const auto& writes = writes_[key];
  auto w = writes.find(version);
  if (w == writes.end()) return "no value write stamped that version";
  int64_t expected_expiry = w->second.expire_at_ms;
  if (expiry_version != version) {
    auto t = touches_[key].find(expiry_version);
    if (t == touches_[key].end()) return "no Touch stamped that expiry version";
    expected_expiry = t->second;
  }
  if (record != nullptr) *record = &w->second;
  if (expiry != nullptr) *expiry = expected_expiry;
  if (tombstone) return "";
  if (w->second.tombstone) return "that version was written as a delete";
  if (check_value && w->second.value != value) {
    return "that version was written as " + w->second.value;
  }
  if (expire_at_ms != expected_expiry) {
    return "its expiry version set expiry " +
           std::to_string(expected_expiry == 0 ? 0 : expected_expiry - kStartMs);
  }
  return "";
}

void Schedule::OnOutcome(int c, const Command& command, uint64_t invoked, const Outcome& outcome) {
  const uint64_t now_tick = ++tick_;
  const std::string& key = command.args[1];
  if (options_.trace) {
    std::string text = outcome.ok ? "OK" : outcome.error;
    if (outcome.saw_state)
      text += " saw " + StateText(outcome.state) + (outcome.live ? "" : " (not live)");
    if (outcome.has_value) text += " value=" + outcome.value;
    if (outcome.wrote) {
      text += outcome.wrote_touch ? " touched at "
              : outcome.tombstone ? " deleted at "
                                  : " wrote at ";
      text += VersionText(outcome.written);
    }
    Trace("c%d %s -> %s", c, command.Text().c_str(), text.c_str());
  }
  if (!outcome.ok) return;
  ++result_.acknowledged;
  if (outcome.saw_state) {
    const proxy::EntryState& s = outcome.state;
    // One version, one state: a live state answered is the one its pair was written with.
    if (outcome.live) {
      const std::string wrong =
          CheckPair(key, s.version, s.effective_expiry_version(), false, outcome.value,
                    outcome.has_value, s.expire_at_ms, nullptr, nullptr);
      if (!wrong.empty()) {
        return Fail("%s answered %s%s%s: %s", command.Text().c_str(), StateText(s).c_str(),
                    outcome.has_value ? " value=" : "", outcome.value.c_str(), wrong.c_str());
      }
    }
    // No stale read: at least the newest write acknowledged before this command began.
    if (Guaranteed()) {
      for (const Acked& a : acked_[key]) {
        if (a.acked_tick < invoked && (!s.found || s.version < a.version)) {
          return Fail("%s saw %s, older than the %s acknowledged at %s before it began",
                      command.Text().c_str(), StateText(s).c_str(),
                      a.tombstone ? "delete" : "value write", VersionText(a.version).c_str());
        }
      }
    }
  }
  if (outcome.wrote && !outcome.wrote_touch) {
    // Real-time order: a write acknowledged before this one began must have a lower version,
    // or this acknowledged write can never be read (last writer wins by version).
    if (options_.check_real_time_order) {
      for (const Acked& a : acked_[key]) {
        if (a.acked_tick < invoked && !(a.version < outcome.written)) {
          return Fail(
              "%s acknowledged at version %s, not above the %s acknowledged at %s before "
              "it began: the acknowledged write is lost",
              command.Text().c_str(), VersionText(outcome.written).c_str(),
              a.tombstone ? "delete" : "value write", VersionText(a.version).c_str());
        }
      }
    }
    acked_[key].push_back(Acked{outcome.written, invoked, now_tick, outcome.tombstone});
  }
}

void Schedule::PlanFaults() {
  if (!options_.faults || rng_.Chance(0.3)) return;
  const int nodes = static_cast<int>(nodes_.size());
  std::vector<int> victims{static_cast<int>(rng_.Below(nodes))};
  if (rng_.Chance(0.15)) {
    const int other = static_cast<int>(rng_.Below(nodes));
    if (other != victims[0]) victims.push_back(other);
  }
  for (int victim : victims) {
    ever_unavailable_.insert(victim);
    const int episodes = static_cast<int>(rng_.Range(1, 3));
    for (int e = 0; e < episodes; ++e) {
      const int64_t at = rng_.Range(0, 250);
      const int64_t length = rng_.Range(1, 120);
      const bool empty = rng_.Chance(0.5);
      queue_.After(at, [this, victim, length, empty] {
        if (!nodes_[victim]->up) return;
        nodes_[victim]->up = false;
        Trace("n%d down%s", victim, empty ? " (will restart empty)" : "");
        queue_.After(length, [this, victim, empty] {
          if (empty) nodes_[victim]->RestartEmpty(kForever);  // NotReady until healed
          nodes_[victim]->up = true;
          Trace("n%d up%s", victim, empty ? " empty, reads NotReady" : "");
        });
      });
    }
  }
}

void Schedule::CheckState(int node, const std::string& key, const ReplicaEntry& e) {
  if (!e.found || !result_.ok) return;
  const WriteRecord* w = nullptr;
  int64_t expected_expiry = 0;
  const std::string wrong = CheckPair(key, e.version, e.EffectiveExpiryVersion(), e.tombstone,
                                      e.value, true, e.expire_at_ms, &w, &expected_expiry);
  if (!wrong.empty()) {
    return Fail("n%d holds %s = %s: %s", node, key.c_str(), EntryText(e).c_str(), wrong.c_str());
  }
  // A value is a tombstone of its version once expired on any node (repairs copy that).
  if (e.tombstone && !w->tombstone &&
      (expected_expiry == 0 || expected_expiry > LatestNodeClock())) {
    return Fail("n%d holds %s = %s, but that version is a live value %s (expiry %" PRId64 ")", node,
                key.c_str(), EntryText(e).c_str(), w->value.c_str(),
                expected_expiry == 0 ? 0 : expected_expiry - kStartMs);
  }
}

void Schedule::CheckAllStates() {
  for (size_t n = 0; n < nodes_.size() && result_.ok; ++n) {
    for (const std::string& key : keys_) {
      CheckState(static_cast<int>(n), key, nodes_[n]->Inspect(key, queue_.now()));
    }
  }
}

void Schedule::FinalReads() {
  for (const std::string& key : keys_) {
    if (!result_.ok) return;
    Command get;
    get.args = {"GET", key};
    bool answered = false;
    Outcome final_outcome;
    const uint64_t invoked = ++tick_;
    proxies_[0]->Execute(get, [&](const Outcome& o) {
      answered = true;
      final_outcome = o;
      OnOutcome(-1, get, invoked, o);  // the value and no-stale-read checks
    });
    Drain();
    if (!result_.ok) return;
    if (!answered) return Fail("final GET %s never answered", key.c_str());
    if (!Guaranteed()) continue;
    if (!final_outcome.ok) {
      return Fail("final GET %s at QUORUM failed with at most one node unavailable", key.c_str());
    }
  }
}

void Schedule::FullRepairAndConverge() {
  for (auto& node : nodes_) {
    node->up = true;
    node->EndWarmup();
  }
  for (const std::string& key : keys_) {
    int members[Ring::kMaxReplicas];
    const int n = ring_->PreferenceList(KeyHash(key), options_.replicas, members);
    ReplicaEntry best;
    for (int i = 0; i < n; ++i) {
      ReplicaEntry e = nodes_[members[i]]->Inspect(key, queue_.now());
      if (!e.found) continue;
      if (!best.found || std::pair(e.version, e.EffectiveExpiryVersion()) >
                             std::pair(best.version, best.EffectiveExpiryVersion())) {
        best = e;
      }
    }
    if (!best.found) continue;
    for (int i = 0; i < n; ++i) nodes_[members[i]]->WriteWhole(key, best, queue_.now());
    // Nodes' clocks differ by their offsets: a value may already be a tombstone of its version
    // on a node whose clock is ahead. That counts as the same state.
    int64_t latest_clock = 0;
    for (int i = 0; i < n; ++i) latest_clock = std::max(latest_clock, nodes_[members[i]]->NowMs());
    auto expired = [&](const ReplicaEntry& e) {
      return e.tombstone || (e.expire_at_ms != 0 && e.expire_at_ms <= latest_clock);
    };
    ReplicaEntry first = nodes_[members[0]]->Inspect(key, queue_.now());
    for (int i = 1; i < n && result_.ok; ++i) {
      ReplicaEntry other = nodes_[members[i]]->Inspect(key, queue_.now());
      bool same = first.found == other.found && first.version == other.version &&
                  first.EffectiveExpiryVersion() == other.EffectiveExpiryVersion();
      if (same && first.tombstone != other.tombstone) {
        same = expired(first) && expired(other);
      } else if (same && !first.tombstone) {
        same = first.value == other.value && first.expire_at_ms == other.expire_at_ms;
      }
      if (!same) {
        Fail("after full repair of %s (greatest state %s): n%d holds %s, n%d holds %s", key.c_str(),
             EntryText(best).c_str(), members[0], EntryText(first).c_str(), members[i],
             EntryText(other).c_str());
      }
    }
  }
  CheckAllStates();
}

SimResult Schedule::Run() {
  const int nodes = static_cast<int>(rng_.Range(options_.min_nodes, options_.max_nodes));
  ring_ = RingOf(nodes);
  for (int i = 0; i < nodes; ++i) {
    nodes_.push_back(std::make_unique<SimReplica>(i, rng_.Range(-20, 20), queue_.now()));
  }
  loss_ = rng_.Chance(0.3) ? 0.0 : static_cast<double>(rng_.Range(0, 20)) / 100.0;
  duplicate_ = static_cast<double>(rng_.Range(0, 10)) / 100.0;
  max_delay_ = rng_.Range(1, 20);
  for (int p = 0; p < options_.proxies; ++p) {
    const int64_t offset =
        rng_.Range(-options_.max_proxy_clock_offset_ms, options_.max_proxy_clock_offset_ms);
    proxies_.push_back(std::make_unique<SimProxy>(
        p, WriterId(rng_.Next()), offset, ring_, options_.replicas, kTimeoutMs, queue_, *this,
        [this](const Issued& issued) {
          if (issued.touch) {
            touches_[issued.key][issued.version] = issued.expire_at_ms;
          } else {
            writes_[issued.key][issued.version] =
                WriteRecord{issued.tombstone, issued.value, issued.expire_at_ms};
          }
        }));
    if (options_.trace) {
      proxies_.back()->set_trace([this](const std::string& line) { Trace("%s", line.c_str()); });
    }
    Trace("p%d clock offset %" PRId64 " ms", p, offset);
  }
  Trace("%d nodes, loss %.2f, duplicate %.2f, delay 1-%" PRId64 " ms", nodes, loss_, duplicate_,
        max_delay_);
  for (int k = 0; k < options_.keys; ++k) keys_.push_back("k" + std::to_string(k));
  for (int c = 0; c < options_.clients; ++c) {
    clients_.push_back(Client{c % options_.proxies, options_.commands_per_client, 0});
    queue_.After(rng_.Range(0, 5), [this, c] { NextCommand(c); });
  }
  PlanFaults();
  Drain();

  // Heal: the network stops losing and duplicating; stopped nodes come back (with what they
  // held); nodes restarted empty keep answering NotReady, so the final reads do not count them.
  healed_ = true;
  for (auto& node : nodes_) node->up = true;
  Trace("healed");
  CheckAllStates();
  FinalReads();
  if (result_.ok) FullRepairAndConverge();

  result_.events = queue_.executed();
  for (auto& p : proxies_) {
    result_.read_repairs += p->read_repairs();
    result_.stale_retries += p->stale_retries();
  }
  return result_;
}

}  // namespace

SimResult RunSchedule(uint64_t seed, const SimOptions& options) {
  Schedule schedule(seed, options);
  return schedule.Run();
}

}  // namespace shoal::sim
