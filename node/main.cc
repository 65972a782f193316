// shoal-node: a Shoal storage node. Parses flags and the YAML config, starts the NodeServer (one
// libuv loop thread per shard) and waits on the main thread's loop for SIGTERM or SIGINT, which
// stop the server cleanly (exit code 0).
//
// Exit codes: 0 after a clean shutdown, --help or a valid --check-config; 2 for a bad flag or
// configuration value; 1 when the node cannot start (port in use, data directory not writable).

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "common/clock/clock.h"
#include "common/config/options.h"
#include "common/log/log.h"
#include "node/server/hlc_file.h"
#include "node/server/node_config.h"
#include "node/server/node_info.h"
#include "node/server/node_server.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitStartFailure = 1;

constexpr uint64_t kHlcPersistIntervalMs = 1000;

struct SignalState {
  shoal::node::NodeServer* server;
  std::string hlc_path;
  uint64_t persisted_hlc = 0;
  uv_signal_t term;
  uv_signal_t interrupt;
  uv_timer_t hlc_timer;
};

// Writes the clock's high-water mark when it moved (see node/server/hlc_file.h).
void PersistHlc(SignalState& state) {
  const uint64_t hlc = shoal::node::NodeMaxHlc(state.server->context());
  if (hlc == state.persisted_hlc) return;
  const shoal::Status s = shoal::node::WriteHlcFile(state.hlc_path, hlc);
  if (!s.ok()) {
    spdlog::warn("cannot persist the clock: {}", s.message());
    return;
  }
  state.persisted_hlc = hlc;
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

void OnHlcTimer(uv_timer_t* handle) { PersistHlc(*static_cast<SignalState*>(handle->data)); }

void OnSignal(uv_signal_t* handle, int signum) {
  auto* state = static_cast<SignalState*>(handle->data);
  spdlog::info("shutting down ({})", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  state->server->Stop();
  PersistHlc(*state);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->term), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->interrupt), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->hlc_timer), nullptr);
}

// Creates the HLC timer and the SIGTERM/SIGINT handlers on `loop` and starts them.
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
  if (int rc = uv_timer_start(&state.hlc_timer, OnHlcTimer, kHlcPersistIntervalMs,
                              kHlcPersistIntervalMs);
      rc != 0) {
    return failed("uv_timer_start", rc);
  }
  if (int rc = uv_signal_start(&state.term, OnSignal, SIGTERM); rc != 0) {
    return failed("uv_signal_start SIGTERM", rc);
  }
  if (int rc = uv_signal_start(&state.interrupt, OnSignal, SIGINT); rc != 0) {
    return failed("uv_signal_start SIGINT", rc);
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
  TuneMalloc(static_cast<int>(config.threads));
  s = shoal::InitLogging("shoal-node", config.log_level);
  if (!s.ok()) {
    std::fprintf(stderr, "shoal-node: %s\n", s.message().c_str());
    return kExitUsage;
  }

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
  uv_loop_t loop{};
  if (int rc = uv_loop_init(&loop); rc != 0) {
    spdlog::critical("cannot create the main event loop: {}", uv_strerror(rc));
    return kExitStartFailure;
  }
  shoal::node::NodeServer server(config, shoal::SystemClock::Get());
  server.RaiseClock(*persisted);
  SignalState state{&server, hlc_path, *persisted, {}, {}, {}};
  s = InitMainLoopHandles(&loop, state);
  if (s.ok()) s = server.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    CloseMainLoop(&loop);
    return kExitStartFailure;
  }
  spdlog::info("node '{}' (cluster '{}') listening on {}:{} with {} shards, max memory {} bytes",
               config.id, config.cluster, config.listen_address.host, server.port(), config.threads,
               config.max_memory);
  spdlog::info("cluster authentication: {}", config.cluster_secret.empty()
                                                 ? "off (no --cluster-secret-file)"
                                                 : "on (peers must prove the cluster secret)");

  uv_run(&loop, UV_RUN_DEFAULT);
  server.Stop();  // no-op after a signal; covers a loop that ended some other way
  CloseMainLoop(&loop);
  spdlog::info("stopped");
  return 0;
}
