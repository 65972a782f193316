#pragma once

// Offload: hands slow work (a synced RocksDB write for the hint spool, later) from a shard's
// loop thread to a helper thread, and delivers each completion back on the loop thread, so that
// the loop never blocks on it.
//
//   Offload offload;
//   offload.Open(&loop);                               // loop thread
//   offload.Submit([&] { status = db->Write(sync); },  // helper thread
//                  [&] { Reply(conn, status); });      // loop thread, after the work
//   ...
//   offload.Close();                                   // loop thread: waits for running work
//
// Work runs in submission order on one helper thread; completions are delivered in the same
// order, batched per wake-up (one uv_async). Thread rules: Open, Submit, Close and in_flight on
// the loop thread; the work functions on the helper thread only.

#include <uv.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shoal::node {

class Offload {
 public:
  using Work = std::function<void()>;
  using Done = std::function<void()>;

  Offload() = default;
  ~Offload();  // must be closed (or never opened)
  Offload(const Offload&) = delete;
  Offload& operator=(const Offload&) = delete;

  // Binds to the loop and starts the helper thread. Returns a libuv error code (0 = ok).
  int Open(uv_loop_t* loop);
  // Queues `work` for the helper thread; `done` runs on the loop thread once it has.
  void Submit(Work work, Done done);
  // Stops the helper after the work already queued has run, delivers no further completions,
  // and closes the uv_async (freed by the loop). The object must outlive that loop iteration.
  void Close();
  // Submitted, completion not yet delivered.
  size_t in_flight() const { return in_flight_; }

 private:
  struct Job {
    Work work;
    Done done;
  };
  static void OnWake(uv_async_t* handle);
  void HelperLoop();
  void DeliverCompleted();

  uv_async_t async_{};
  bool open_ = false;
  size_t in_flight_ = 0;  // loop thread
  std::thread helper_;

  std::mutex mu_;
  std::condition_variable work_ready_;
  std::deque<Job> queued_;        // guarded by mu_
  std::vector<Done> completed_;   // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  std::vector<Done> delivering_;  // loop thread
};

}  // namespace shoal::node
