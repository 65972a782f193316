#pragma once

// RuntimeSettings: the proxy settings a configuration reload (SIGHUP, proxy_reload.h) changes
// while the proxy runs. Written by the main thread (Apply), read by every worker: each value is a
// relaxed atomic standing alone (no two are read as a pair), so a reload takes effect at each
// reader's next use:
//   timeout_ms          the deadline of every node request started after it (the tick that
//                       checks deadlines and the connect timeout keep their start-up values)
//   read/write_level    the default consistency of connections accepted after it (a connection
//                       keeps the levels it started with or set with SHOAL.CONSISTENCY)
//   sloppy_quorum       likewise, the default quorum mode of new connections
//   hinted_handoff      whether writes started after it may be hinted
//   max_pipeline        commands a connection may have unanswered before it is paused, from its
//                       next command (a paused connection resumes at half the new value)
//   max_keys_per_command  the most keys one command may name, from the next command
//   client_output_buffer_limit  reply bytes a connection may hold (0: none), from its next reply

#include <atomic>
#include <cstdint>

#include "proxy/quorum/consistency.h"
#include "proxy/server/proxy_config.h"

namespace shoal::proxy {

class RuntimeSettings {
 public:
  explicit RuntimeSettings(const ProxyConfig& config) { Apply(config); }
  RuntimeSettings(const RuntimeSettings&) = delete;
  RuntimeSettings& operator=(const RuntimeSettings&) = delete;

  // Main thread: takes the reloadable values of a validated configuration.
  void Apply(const ProxyConfig& config) {
    timeout_ms_.store(config.timeout_ms, std::memory_order_relaxed);
    read_level_.store(config.read_level, std::memory_order_relaxed);
    write_level_.store(config.write_level, std::memory_order_relaxed);
    sloppy_quorum_.store(config.sloppy_quorum, std::memory_order_relaxed);
    hinted_handoff_.store(config.hinted_handoff, std::memory_order_relaxed);
    max_pipeline_.store(config.max_pipeline, std::memory_order_relaxed);
    max_keys_per_command_.store(config.max_keys_per_command, std::memory_order_relaxed);
    client_output_buffer_limit_.store(config.client_output_buffer_limit, std::memory_order_relaxed);
  }

  int64_t timeout_ms() const { return timeout_ms_.load(std::memory_order_relaxed); }
  Consistency read_level() const { return read_level_.load(std::memory_order_relaxed); }
  Consistency write_level() const { return write_level_.load(std::memory_order_relaxed); }
  bool sloppy_quorum() const { return sloppy_quorum_.load(std::memory_order_relaxed); }
  bool hinted_handoff() const { return hinted_handoff_.load(std::memory_order_relaxed); }
  int64_t max_pipeline() const { return max_pipeline_.load(std::memory_order_relaxed); }
  int64_t max_keys_per_command() const {
    return max_keys_per_command_.load(std::memory_order_relaxed);
  }
  uint64_t client_output_buffer_limit() const {
    return client_output_buffer_limit_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> timeout_ms_{0};
  std::atomic<Consistency> read_level_{Consistency::kQuorum};
  std::atomic<Consistency> write_level_{Consistency::kQuorum};
  std::atomic<bool> sloppy_quorum_{false};
  std::atomic<bool> hinted_handoff_{true};
  std::atomic<int64_t> max_pipeline_{0};
  std::atomic<int64_t> max_keys_per_command_{0};
  std::atomic<uint64_t> client_output_buffer_limit_{0};
};

}  // namespace shoal::proxy
