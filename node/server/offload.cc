#include "node/server/offload.h"

#include <cassert>

namespace shoal::node {

Offload::~Offload() { assert(!open_ && !helper_.joinable()); }

int Offload::Open(uv_loop_t* loop) {
  if (int rc = uv_async_init(loop, &async_, &Offload::OnWake); rc != 0) return rc;
  async_.data = this;
  open_ = true;
  helper_ = std::thread([this] { HelperLoop(); });
  return 0;
}

void Offload::Submit(Work work, Done done) {
  ++in_flight_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(Job{std::move(work), std::move(done)});
  }
  work_ready_.notify_one();
}

void Offload::HelperLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_ready_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
    if (queued_.empty()) return;  // stopping, and everything queued has run
    Job job = std::move(queued_.front());
    queued_.pop_front();
    lock.unlock();
    job.work();
    lock.lock();
    const bool was_empty = completed_.empty();
    completed_.push_back(std::move(job.done));
    // Under the lock, so that Close() cannot close the handle between the push and the send;
    // one wake-up per batch of completions.
    if (was_empty && !stopping_) uv_async_send(&async_);
  }
}

void Offload::OnWake(uv_async_t* handle) {
  static_cast<Offload*>(handle->data)->DeliverCompleted();
}

void Offload::DeliverCompleted() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivering_.swap(completed_);
  }
  for (Done& done : delivering_) {
    --in_flight_;
    if (done) done();
  }
  delivering_.clear();
}

void Offload::Close() {
  if (!open_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_one();
  helper_.join();
  open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

}  // namespace shoal::node
