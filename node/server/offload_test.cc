#include "node/server/offload.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <thread>
#include <vector>

namespace shoal::node {
namespace {

// Runs `loop` until `done()` holds (the work is on the helper thread; the loop wakes on each
// batch of completions, so this never spins on a clock).
template <typename Pred>
void RunUntil(uv_loop_t* loop, Pred done) {
  while (!done()) uv_run(loop, UV_RUN_ONCE);
}

TEST(OffloadTest, WorkRunsOnTheHelperAndCompletesOnTheLoopThreadInOrder) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  Offload offload;
  ASSERT_EQ(offload.Open(&loop), 0);
  const std::thread::id loop_thread = std::this_thread::get_id();
  constexpr int kJobs = 100;
  std::vector<std::thread::id> work_threads(kJobs);
  std::vector<int> completed;
  for (int i = 0; i < kJobs; ++i) {
    offload.Submit([&, i] { work_threads[i] = std::this_thread::get_id(); },
                   [&, i] {
                     EXPECT_EQ(std::this_thread::get_id(), loop_thread);
                     completed.push_back(i);
                   });
  }
  EXPECT_EQ(offload.in_flight(), static_cast<size_t>(kJobs));
  RunUntil(&loop, [&] { return completed.size() == kJobs; });
  EXPECT_EQ(offload.in_flight(), 0u);
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(completed[i], i);
    EXPECT_NE(work_threads[i], loop_thread);
  }
  offload.Close();
  uv_run(&loop, UV_RUN_DEFAULT);  // runs the close callback; nothing else is left
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(OffloadTest, TheLoopKeepsRunningWhileWorkBlocks) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  Offload offload;
  ASSERT_EQ(offload.Open(&loop), 0);
  std::mutex gate;
  gate.lock();  // the work blocks until the loop thread opens the gate
  bool done = false;
  offload.Submit([&] { std::lock_guard<std::mutex> wait(gate); }, [&] { done = true; });
  // Another handle on the loop still runs while the work is blocked.
  uv_idle_t idle;
  uv_idle_init(&loop, &idle);
  int idle_runs = 0;
  idle.data = &idle_runs;
  uv_idle_start(&idle, [](uv_idle_t* h) { ++*static_cast<int*>(h->data); });
  while (idle_runs < 3) uv_run(&loop, UV_RUN_NOWAIT);
  EXPECT_FALSE(done);
  uv_idle_stop(&idle);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
  gate.unlock();
  RunUntil(&loop, [&] { return done; });
  offload.Close();
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(OffloadTest, CloseWaitsForQueuedWork) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  Offload offload;
  ASSERT_EQ(offload.Open(&loop), 0);
  int ran = 0;
  for (int i = 0; i < 10; ++i) offload.Submit([&] { ++ran; }, nullptr);
  offload.Close();
  EXPECT_EQ(ran, 10);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace shoal::node
