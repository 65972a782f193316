// shoal-node: a Shoal storage node. Parses flags and the YAML config, starts the NodeServer (one
// libuv loop thread per shard) and waits on the main thread's loop for SIGTERM or SIGINT, which
// stop the server cleanly (exit code 0).
//
// Exit codes: 0 after a clean shutdown, --help or a valid --check-config; 2 for a bad flag or
// configuration value; 1 when the node cannot start (port in use, data directory not writable).

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

#include "common/admin/admin_routes.h"
#include "common/admin/build_info.h"
#include "common/clock/clock.h"
#include "common/config/options.h"
#include "common/log/log.h"
#include "node/gossip/gossip_service.h"
#include "node/gossip/rebalancer.h"
#include "node/server/clock_ceiling.h"
#include "node/server/hlc_file.h"
#include "node/server/node_admin.h"
#include "node/server/node_config.h"
#include "node/server/node_info.h"
#include "node/server/node_reload.h"
#include "node/server/node_server.h"
#include "node/sync/restart_sync.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitStartFailure = 1;

// How often the main thread checks whether the clock ceiling needs raising (a write above it
// wakes the main thread at once; see node/server/clock_ceiling.h).
constexpr uint64_t kCeilingCheckIntervalMs = 250;

struct SignalState {
  shoal::node::NodeServer* server;
  shoal::admin::AdminServer* admin = nullptr;  // stopped before the server (it reads it)
  std::string hlc_path;
  uv_signal_t term;
  uv_signal_t interrupt;
  uv_timer_t hlc_timer;
  uv_async_t ceiling_wake;
  bool stopped = false;
  int64_t next_failure_log_ms = 0;
  // Descriptors held in reserve for writing the clock file (a temporary file and the directory),
  // so that a node out of descriptors (connections) can still persist its ceiling: released just
  // before the write and taken again after it.
  int reserved_fds[2] = {-1, -1};
  // SIGHUP re-reads the configuration (node_reload.h) with the command line the node started with.
  uv_signal_t hangup{};
  int argc = 0;
  const char* const* argv = nullptr;
  shoal::Options* options = nullptr;
};

void TakeReservedFds(SignalState& state) {
  for (int& fd : state.reserved_fds) {
    if (fd < 0) fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
}

void ReleaseReservedFds(SignalState& state) {
  for (int& fd : state.reserved_fds) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

// Keeps the persisted clock ceiling ahead of every version the node may acknowledge, and lets
// the shards run the writes that waited for it (node/server/clock_ceiling.h).
void MaintainCeiling(SignalState& state) {
  if (state.stopped) return;
  shoal::node::ClockCeiling& ceiling = state.server->ceiling();
  const int64_t now = shoal::SystemClock::Get().NowMs();
  const uint64_t target = ceiling.Target(now, shoal::node::NodeMaxHlc(state.server->context()));
  if (target == 0) return;
  ReleaseReservedFds(state);
  const shoal::Status s = shoal::node::WriteHlcFile(state.hlc_path, target);
  TakeReservedFds(state);
  if (!s.ok()) {
    // Writes above the old ceiling keep waiting; retried on the next tick.
    if (now >= state.next_failure_log_ms) {
      spdlog::error("cannot persist the clock ceiling (writes ahead of it wait): {}", s.message());
      state.next_failure_log_ms = now + 10'000;
    }
    return;
  }
  ceiling.SetDurable(target);
  state.server->NotifyCeilingRaised();
}

// At a clean stop: the exact high-water mark (below the ceiling), so that the next start
// reports it rather than the ceiling.
void PersistFinalHlc(SignalState& state) {
  const uint64_t hlc = state.server->final_max_hlc();
  const shoal::Status s = shoal::node::WriteHlcFile(state.hlc_path, hlc);
  if (!s.ok()) spdlog::warn("cannot persist the clock: {}", s.message());
}

// Every connection takes a file descriptor: use as many as the hard limit allows (the soft limit
// is often 1024). Failing to raise it is not fatal.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot raise the open file limit from {}: {}", before, std::strerror(errno));
  }
}

// glibc's defaults suit a cache badly: its mmap threshold grows with every large block freed
// (so 200 KB-3 MB values end up in the heap, where freed space is fragmented and rarely returned),
// and each thread may get arenas of its own. Values of 128 KiB and more get their own mapping
// (returned on free), free heap tops are trimmed past 1 MiB, and the arenas are capped. Must run
// before any thread starts.
void TuneMalloc(int shards) {
  constexpr int kMmapThreshold = 128 * 1024;  // setting it also stops the dynamic adjustment
  constexpr int kTrimThreshold = 1 << 20;
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 ||
      mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1 || mallopt(M_ARENA_MAX, shards + 2) != 1) {
    spdlog::warn("cannot tune malloc (mallopt failed)");
  }
}

void OnHlcTimer(uv_timer_t* handle) { MaintainCeiling(*static_cast<SignalState*>(handle->data)); }

void OnCeilingWake(uv_async_t* handle) {
  MaintainCeiling(*static_cast<SignalState*>(handle->data));
}

void OnSignal(uv_signal_t* handle, int signum) {
  auto* state = static_cast<SignalState*>(handle->data);
  spdlog::info("shutting down ({})", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  if (state->admin != nullptr) state->admin->Stop();
  state->server->Stop();
  state->stopped = true;
  ReleaseReservedFds(*state);
  PersistFinalHlc(*state);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->term), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->interrupt), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->hangup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->hlc_timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->ceiling_wake), nullptr);
}

void OnHangup(uv_signal_t* handle, int) {
  auto* state = static_cast<SignalState*>(handle->data);
  if (state->stopped) return;
  // An invalid file changes nothing: the outcome is logged either way.
  (void)shoal::node::ReloadNodeConfig(state->argc, state->argv, *state->options,
                                      state->server->mutable_context());
}

// Creates the HLC timer and the SIGTERM/SIGINT/SIGHUP handlers on `loop` and starts them.
shoal::Status InitMainLoopHandles(uv_loop_t* loop, SignalState& state) {
  auto failed = [](const char* what, int rc) {
    return shoal::Status::Internal(std::string(what) + ": " + uv_strerror(rc));
  };
  if (int rc = uv_timer_init(loop, &state.hlc_timer); rc != 0) return failed("uv_timer_init", rc);
  state.hlc_timer.data = &state;
  if (int rc = uv_signal_init(loop, &state.term); rc != 0) return failed("uv_signal_init", rc);
  state.term.data = &state;
  if (int rc = uv_signal_init(loop, &state.interrupt); rc != 0) {
    return failed("uv_signal_init", rc);
  }
  state.interrupt.data = &state;
  if (int rc = uv_async_init(loop, &state.ceiling_wake, OnCeilingWake); rc != 0) {
    return failed("uv_async_init", rc);
  }
  state.ceiling_wake.data = &state;
  state.server->ceiling().BindWake(&state.ceiling_wake);
  if (int rc = uv_timer_start(&state.hlc_timer, OnHlcTimer, kCeilingCheckIntervalMs,
                              kCeilingCheckIntervalMs);
      rc != 0) {
    return failed("uv_timer_start", rc);
  }
  if (int rc = uv_signal_start(&state.term, OnSignal, SIGTERM); rc != 0) {
    return failed("uv_signal_start SIGTERM", rc);
  }
  if (int rc = uv_signal_start(&state.interrupt, OnSignal, SIGINT); rc != 0) {
    return failed("uv_signal_start SIGINT", rc);
  }
  if (int rc = uv_signal_init(loop, &state.hangup); rc != 0) return failed("uv_signal_init", rc);
  state.hangup.data = &state;
  if (int rc = uv_signal_start(&state.hangup, OnHangup, SIGHUP); rc != 0) {
    return failed("uv_signal_start SIGHUP", rc);
  }
  return shoal::Status::Ok();
}

// Closes whatever is still open on `loop`, runs the close callbacks and releases the loop.
void CloseMainLoop(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  if (int rc = uv_loop_close(loop); rc != 0) {
    spdlog::warn("main event loop not closed cleanly: {}", uv_strerror(rc));
  }
}

// Starts the node's gossip (--seeds), waits until the member set has settled (or a while, when
// no peer answers: the node then starts with the members it knows, itself at least), and sets
// config.ring and config.self from the member table.
//
// `joining` (a new node, or one whose join did not finish): it starts JOINING, unless no member
// is in the ring yet (a cluster being created: NORMAL at once); its own ring then counts it
// (the rebalancer pulls its ranges and turns it NORMAL). *still_joining says which;
// *ring_members are the members the rebalancer starts from (this node included).
//
// The node's own ring (config.ring: hints, anti-entropy, the start-up sync; the NodeContext's
// MemberRing, which then follows the member table) is every member not REMOVED, JOINING ones
// included: those of a cluster being created turn NORMAL a round later, and a hint or a summary
// for a joining node is good to have.
shoal::Status StartGossip(shoal::node::NodeConfig& config,
                          std::unique_ptr<shoal::node::GossipService>& gossip, bool joining,
                          bool* still_joining, std::vector<shoal::RingMember>* ring_members) {
  shoal::MemberRecord self;
  self.id = config.id;
  self.address = config.advertise_address;
  self.zone = config.zone;
  self.state = joining ? shoal::MemberState::kJoining : shoal::MemberState::kNormal;
  self.incarnation = 1;
  self.tokens = static_cast<uint32_t>(config.tokens_per_node);
  shoal::node::GossipOptions options;
  options.cluster = config.cluster;
  options.secret = config.cluster_secret;
  options.seeds = config.seed_list;
  options.interval_ms = config.gossip_interval_ms;
  options.phi_threshold = config.phi_threshold_value;
  options.dead_after_ms = config.dead_after_ms;
  gossip = std::make_unique<shoal::node::GossipService>(self, options, shoal::SystemClock::Get());
  gossip->Start();
  const int64_t settle_ms = std::clamp<int64_t>(10 * config.gossip_interval_ms, 2000, 10'000);
  if (!gossip->WaitSettled(settle_ms)) {
    spdlog::warn(
        "gossip: no settled member set after {} ms (no seed answered yet?): starting with the "
        "members known so far",
        settle_ms);
  }
  std::vector<shoal::RingMember> members = gossip->RingMembers();
  *still_joining = false;
  if (joining && members.empty()) {
    spdlog::info("gossip: no member serves yet: this node is NORMAL at once");
    if (auto st = gossip->SetSelfState(shoal::MemberState::kNormal); !st.ok()) return st;
    members = gossip->RingMembers();
  } else if (joining) {
    *still_joining = true;
    members.push_back({config.id, config.advertise_address, config.zone});
    std::sort(members.begin(), members.end(),
              [](const shoal::RingMember& a, const shoal::RingMember& b) { return a.id < b.id; });
  }
  *ring_members = members;
  auto ring = shoal::Ring::Build(shoal::MembersOf(gossip->Listing(), shoal::NotRemovedState),
                                 static_cast<int>(config.tokens_per_node));
  if (!ring.ok()) return shoal::Status::Internal("gossip: " + ring.status().message());
  config.ring = *ring;
  config.self = config.ring->IndexOf(config.id);
  if (config.self < 0) return shoal::Status::Internal("gossip: this node is not in its own ring");
  std::string ids;
  for (const auto& m : config.ring->members()) ids += (ids.empty() ? "" : ",") + m.id;
  spdlog::info("gossip: starting with ring members {} (seeds {})", ids, config.seeds);
  return shoal::Status::Ok();
}

// Gossip metrics (docs/operations.md): each member's phi and state as this node sees them, and
// the exchanges, removals and hand-offs counted so far.
void AttachGossipMetrics(shoal::metrics::Registry& registry, shoal::node::GossipService& gossip,
                         shoal::node::Rebalancer& rebalancer) {
  using shoal::metrics::Kind;
  using shoal::metrics::Registry;
  registry.AddCallback(
      Kind::kGauge, "shoal_gossip_member_phi",
      "This node's phi-accrual suspicion of each member (0 for itself; DOWN above "
      "--phi-threshold).",
      {"member"},
      [&gossip](const Registry::Emit& emit) {
        for (const auto& v : gossip.Listing().entries) emit({v.record.id}, v.phi);
      },
      &gossip);
  registry.AddCallback(
      Kind::kGauge, "shoal_gossip_member_state",
      "1 for each member's state as this node sees it (JOINING, NORMAL, LEAVING, DOWN, REMOVED).",
      {"member", "state"},
      [&gossip](const Registry::Emit& emit) {
        for (const auto& v : gossip.Listing().entries) {
          emit({v.record.id, shoal::MemberStateName(v.state)}, 1);
        }
      },
      &gossip);
  const shoal::metrics::Labels labels;
  {
    const auto& stats = gossip.stats();
    const void* owner = &gossip;
    SHOAL_GOSSIP_METRICS(SHOAL_METRIC_ATTACH)
  }
  const void* owner = &rebalancer;
  {
    const auto& stats = rebalancer.stats();
    SHOAL_REBALANCE_METRICS(SHOAL_METRIC_ATTACH)
  }
  const auto& stats = rebalancer.hint_counters();
  SHOAL_HINT_SPOOL_METRICS(SHOAL_METRIC_ATTACH)
}

}  // namespace

int main(int argc, char** argv) {
  shoal::node::NodeConfig config;
  shoal::Options options("shoal-node", "Shoal storage node");
  shoal::node::RegisterNodeOptions(options, &config);
  shoal::Status s = options.Parse(argc, argv);
  if (!s.ok()) {
    std::fprintf(stderr, "shoal-node: %s\n(see shoal-node --help)\n", s.message().c_str());
    return kExitUsage;
  }
  if (options.help_requested()) {
    std::fputs(options.Usage().c_str(), stdout);
    return 0;
  }
  if (!options.positional().empty()) {
    std::fprintf(stderr, "shoal-node: unexpected argument '%s'\n(see shoal-node --help)\n",
                 options.positional().front().c_str());
    return kExitUsage;
  }
  s = shoal::node::ValidateNodeConfig(&config);
  if (!s.ok()) {
    std::fprintf(stderr, "shoal-node: %s\n(see shoal-node --help)\n", s.message().c_str());
    return kExitUsage;
  }
  s = shoal::node::LoadNodeSecret(&config);
  if (!s.ok()) {
    std::fprintf(stderr, "shoal-node: %s\n", s.message().c_str());
    return kExitUsage;
  }
  if (options.check_config_requested()) {
    std::printf("configuration OK\n");
    return 0;
  }
  s = shoal::InitLogging("shoal-node", config.log_level, config.log_format);
  if (!s.ok()) {
    std::fprintf(stderr, "shoal-node: %s\n", s.message().c_str());
    return kExitUsage;
  }
  TuneMalloc(static_cast<int>(config.threads));  // after InitLogging: its warning is in the format

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::critical("cannot create data directory '{}': {}", config.data_dir, ec.message());
    return kExitStartFailure;
  }
  RaiseFileLimit();
  // A peer that disconnects while we write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  const std::string hlc_path = shoal::node::HlcFilePath(config.data_dir);
  // A data directory that holds the clock file belongs to a node that served before: it warms
  // up (its store restarts empty). A new one is a new node. With --seeds, a node that did not
  // finish joining (the marker file is still there) is a new node again: it joins from the start.
  const std::string join_marker = config.data_dir + "/joining";
  const bool join_unfinished = std::filesystem::exists(join_marker, ec);
  const bool served_before = std::filesystem::exists(hlc_path, ec) && !join_unfinished;
  auto persisted = shoal::node::ReadHlcFile(hlc_path);
  if (!persisted.ok()) {
    spdlog::critical("{}", persisted.status().message());
    return kExitStartFailure;
  }

  // The main loop and its handles exist before the server accepts anything: a signal that
  // arrives during start-up is queued by the handler and acted on once the loop runs, and no
  // connection can take the file descriptors the loop needs.
  // libuv aborts if its first loop cannot make the pipe it needs for signals (after taking an
  // fd for epoll): check that three descriptors are free.
  int probe[3] = {-1, -1, -1};
  const bool fds_free = pipe(probe) == 0 && (probe[2] = dup(probe[0])) >= 0;
  const int probe_errno = errno;
  for (int fd : probe) {
    if (fd >= 0) close(fd);
  }
  if (!fds_free) {
    errno = probe_errno;
    spdlog::critical("cannot create the main event loop: {}", std::strerror(errno));
    return kExitStartFailure;
  }
  // With --seeds, gossip finds the members first: the node's ring (hints, anti-entropy, the
  // start-up sync) is the ring they form once gossip has settled.
  std::unique_ptr<shoal::node::GossipService> gossip;
  bool joining = false;
  std::vector<shoal::RingMember> rebalance_from;
  if (!config.seed_list.empty()) {
    s = StartGossip(config, gossip, !served_before, &joining, &rebalance_from);
    if (!s.ok()) {
      spdlog::critical("{}", s.message());
      return kExitStartFailure;
    }
  }
  if (joining) {
    // Removed by the rebalancer once the join is done.
    std::ofstream(join_marker) << "joining\n";
  } else if (join_unfinished) {
    std::filesystem::remove(join_marker, ec);
  }
  uv_loop_t loop{};
  if (int rc = uv_loop_init(&loop); rc != 0) {
    spdlog::critical("cannot create the main event loop: {}", uv_strerror(rc));
    return kExitStartFailure;
  }
  shoal::node::NodeServer server(config, shoal::SystemClock::Get());
  // FLUSHALL's marker survives restarts: nothing older is accepted, even before a peer is heard.
  s = server.mutable_context().flush_mark.Load();
  if (!s.ok()) {
    spdlog::critical("{}", s.message());
    CloseMainLoop(&loop);
    return kExitStartFailure;
  }
  server.mutable_context().gossip = gossip.get();
  if (gossip != nullptr) {
    // The node's repair members follow the member table from now on (node/server/member_ring.h).
    gossip->SetMembersObserver(
        [members = server.context().members](const std::vector<shoal::RingMember>& now) {
          members->Update(now);
        });
  }
  // Key hand-offs when the ring changes, and decommission (started once the node listens).
  std::unique_ptr<shoal::node::Rebalancer> rebalancer;
  if (gossip != nullptr) {
    rebalancer = std::make_unique<shoal::node::Rebalancer>(
        server.mutable_context(), *gossip, config.listen_address.host, rebalance_from,
        config.gossip_interval_ms, join_marker);
    server.mutable_context().rebalancer = rebalancer.get();
    AttachGossipMetrics(server.mutable_context().metrics, *gossip, *rebalancer);
  }
  server.Restore(std::max(*persisted, server.mutable_context().flush_mark.Get().hlc),
                 served_before ? config.warmup_ms : 0);
  // The first ceiling is durable before anything is served.
  const uint64_t first_ceiling =
      server.ceiling().Target(shoal::SystemClock::Get().NowMs(), *persisted);
  s = shoal::node::WriteHlcFile(hlc_path, first_ceiling);
  if (!s.ok()) {
    spdlog::critical("cannot persist the clock ceiling: {}", s.message());
    CloseMainLoop(&loop);
    return kExitStartFailure;
  }
  server.ceiling().SetDurable(first_ceiling);
  if (served_before && config.warmup_ms > 0) {
    spdlog::info(
        "restarted on a data directory that served before: Get and Touch answer "
        "NotReady for {} ms (--warmup-ms)",
        config.warmup_ms);
  }
  // With membership, the node starts empty among peers that hold its keys: it pulls them before
  // answering reads (constructed before the shards serve: it marks the node syncing). Not a new
  // node joining by gossip (a data dir that never served): it owns no keys yet and pulls those it
  // gains itself (node/gossip/rebalancer.h), so it would only answer NotReady for nothing.
  const bool joining_by_gossip = gossip != nullptr && !served_before;
  std::unique_ptr<shoal::node::RestartSync> sync;
  if (config.ring != nullptr && config.sync_timeout_ms > 0 && !joining_by_gossip) {
    sync = std::make_unique<shoal::node::RestartSync>(
        server.mutable_context(), config.listen_address, config.sync_timeout_ms);
  }
  SignalState state{&server, nullptr, hlc_path, {}, {}, {}, {}};
  state.argc = argc;
  state.argv = argv;
  state.options = &options;
  TakeReservedFds(state);
  s = InitMainLoopHandles(&loop, state);
  if (s.ok()) s = server.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    CloseMainLoop(&loop);
    return kExitStartFailure;
  }
  if (sync != nullptr) sync->Start(server.port());
  if (rebalancer != nullptr) rebalancer->Start(server.port());
  // The admin endpoint (its own threads) once the shards and their metrics exist.
  shoal::AttachBuildInfo(server.mutable_context().metrics);
  shoal::admin::AdminServer admin;
  shoal::node::AddNodeAdminRoutes(admin, server.context(), options);
  if (auto started =
          shoal::admin::StartAdmin(admin, config.admin, shoal::node::NodeConfig::kDefaultAdmin);
      !started.ok()) {
    spdlog::critical("cannot start: {}", started.status().message());
    if (sync != nullptr) sync->RequestStop();
    server.Stop();
    if (sync != nullptr) sync->Join();
    CloseMainLoop(&loop);
    return kExitStartFailure;
  }
  state.admin = &admin;
  spdlog::info("node '{}' (cluster '{}') listening on {}:{} with {} shards, max memory {} bytes",
               config.id, config.cluster, config.listen_address.host, server.port(), config.threads,
               config.max_memory);
  spdlog::info("cluster authentication: {}", config.cluster_secret.empty()
                                                 ? "off (no --cluster-secret-file)"
                                                 : "on (peers must prove the cluster secret)");

  uv_run(&loop, UV_RUN_DEFAULT);
  admin.Stop();
  if (sync != nullptr) sync->RequestStop();
  server.Stop();  // no-op after a signal; covers a loop that ended some other way
  if (sync != nullptr) sync->Join();  // its calls to this node fail fast once it stopped
  if (rebalancer != nullptr) rebalancer->Stop();  // likewise
  if (gossip != nullptr) gossip->Stop();          // after the shards: they call it
  CloseMainLoop(&loop);
  spdlog::info("stopped");
  return 0;
}
