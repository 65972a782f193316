// shoal-proxy: the Redis-protocol sidecar. See README.md and docs/ for behaviour.

#include <event2/thread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "common/admin/admin_routes.h"
#include "common/admin/build_info.h"
#include "common/clock/clock.h"
#include "common/config/options.h"
#include "common/log/log.h"
#include "common/ring/ring.h"
#include "proxy/server/listeners.h"
#include "proxy/server/member_follower.h"
#include "proxy/server/proxy_admin.h"
#include "proxy/server/proxy_config.h"
#include "proxy/server/proxy_reload.h"
#include "proxy/server/shared_state.h"
#include "proxy/server/worker.h"

using namespace shoal;
using namespace shoal::proxy;

int main(int argc, char** argv) {
  ProxyConfig config;
  Options options("shoal-proxy", "Redis-protocol sidecar proxy for a Shoal cluster");
  config.RegisterOptions(options);
  Status s = options.Parse(argc, argv);
  if (options.help_requested()) {
    std::fputs(options.Usage().c_str(), stdout);
    return 0;
  }
  if (s.ok() && !options.positional().empty()) {
    s = Status::InvalidArgument("unexpected argument '" + options.positional()[0] + "'");
  }
  if (s.ok()) s = config.Finish();
  if (!s.ok()) {
    std::fprintf(stderr, "shoal-proxy: %s\n(see --help)\n", s.message().c_str());
    return 2;
  }
  if (options.check_config_requested()) {
    std::printf("configuration ok\n");
    return 0;
  }
  if (Status ls = InitLogging("shoal-proxy", config.log_level, config.log_format); !ls.ok()) {
    std::fprintf(stderr, "shoal-proxy: %s\n", ls.message().c_str());
    return 2;
  }

  // Signals are handled by this thread only (sigwait); workers inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  evthread_use_pthreads();

  auto shared = std::make_unique<SharedState>(config, SystemClock::Get());
  // Membership: the static --nodes ring, or the cluster's member table fetched from a seed (the
  // proxy does not serve before it has one) and followed by MemberFollower.
  std::unique_ptr<MemberFollower> follower;
  if (config.seed_list.empty()) {
    auto ring = Ring::Build(config.members, static_cast<int>(config.tokens_per_node));
    if (!ring.ok()) {
      std::fprintf(stderr, "shoal-proxy: %s\n", ring.status().message().c_str());
      return 2;
    }
    if (Status ps = shared->directory.Publish(*ring); !ps.ok()) {
      std::fprintf(stderr, "shoal-proxy: %s\n", ps.message().c_str());
      return 1;
    }
  } else {
    FollowerOptions fo;
    fo.seeds = config.seed_list;
    fo.cluster = config.cluster;
    fo.sender_id = config.id;
    fo.secret = config.cluster_secret;
    fo.tokens_per_node = static_cast<int>(config.tokens_per_node);
    fo.refresh_ms = config.members_refresh_ms;
    fo.timeout_ms = std::max<int64_t>(config.timeout_ms, 1000);
    follower = std::make_unique<MemberFollower>(fo, shared->directory);
    Status fs = follower->FetchOnce();
    for (int attempt = 1; !fs.ok() && attempt < 60; ++attempt) {
      if (attempt == 1) spdlog::warn("waiting for a seed to answer: {}", fs.message());
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      fs = follower->FetchOnce();
    }
    if (!fs.ok()) {
      std::fprintf(stderr, "shoal-proxy: no seed gave the member table in 30 s: %s\n",
                   fs.message().c_str());
      return 1;
    }
    shared->follower = follower.get();
    follower->Start();
  }
  shared->start_ms = SystemClock::Get().MonotonicMs();
  const int threads = static_cast<int>(config.threads);
  for (int i = 0; i < threads; ++i) {
    shared->worker_stats.push_back(std::make_unique<WorkerStats>());
    AttachWorkerStats(shared->metrics, *shared->worker_stats.back());
  }

  // Listeners: one SO_REUSEPORT TCP socket per worker; the Unix socket is shared.
  std::vector<std::vector<int>> worker_fds(threads);
  std::vector<int> all_fds;
  if (!config.listen.empty()) {
    int port_for_rest = 0;
    for (int i = 0; i < threads; ++i) {
      std::string addr = config.listen;
      if (i > 0 && port_for_rest != 0) {
        // With port 0 the first bind picked a port; the others join it.
        auto hp = ParseHostPort(config.listen);
        hp->port = static_cast<uint16_t>(port_for_rest);
        addr = hp->ToString();
      }
      auto fd = ListenTcp(addr);
      if (!fd.ok()) {
        std::fprintf(stderr, "shoal-proxy: %s\n", fd.status().message().c_str());
        return 1;
      }
      if (i == 0) port_for_rest = BoundPort(*fd);
      worker_fds[i].push_back(*fd);
      all_fds.push_back(*fd);
    }
    shared->tcp_port = port_for_rest;
  }
  if (!config.unix_path.empty()) {
    auto fd = ListenUnix(config.unix_path);
    if (!fd.ok()) {
      std::fprintf(stderr, "shoal-proxy: %s\n", fd.status().message().c_str());
      return 1;
    }
    for (auto& fds : worker_fds) fds.push_back(*fd);
    all_fds.push_back(*fd);
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(i, *shared, worker_fds[i]));
    workers.back()->Start();
  }
  // The admin endpoint runs on its own threads (civetweb), started once the workers exist.
  AttachBuildInfo(shared->metrics);
  AttachProxyMetrics(*shared);
  admin::AdminServer admin_server;
  AddProxyAdminRoutes(admin_server, *shared, options, [&workers] {
    for (const auto& w : workers) {
      if (!w->Ready()) return false;
    }
    return true;
  });
  if (auto admin = admin::StartAdmin(admin_server, config.admin, ProxyConfig::kDefaultAdmin);
      !admin.ok()) {
    std::fprintf(stderr, "shoal-proxy: %s\n", admin.status().message().c_str());
    for (auto& w : workers) w->Stop();
    for (auto& w : workers) w->Join();
    return 1;
  }
  spdlog::info("shoal-proxy {} listening on {}{}{} with {} workers; {} nodes, N={}, R={}, W={}",
               config.id, config.listen,
               config.unix_path.empty() ? "" : " and unix:", config.unix_path, threads,
               shared->directory.view()->ring->members().size(), config.replicas,
               ConsistencyName(config.read_level), ConsistencyName(config.write_level));

  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      // Re-reads --config (flags still on top); an invalid file changes nothing (logged).
      (void)ReloadProxyConfig(argc, argv, options, *shared);
      continue;
    }
    spdlog::info("shutting down ({})", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  admin_server.Stop();  // its handlers read the workers' state
  if (follower != nullptr) follower->Stop();
  for (auto& w : workers) w->Stop();
  for (auto& w : workers) w->Join();
  workers.clear();
  for (int fd : all_fds) ::close(fd);
  if (!config.unix_path.empty()) ::unlink(config.unix_path.c_str());
  spdlog::info("stopped");
  return 0;
}
