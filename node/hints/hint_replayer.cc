#include "node/hints/hint_replayer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace shoal::node::hints {

HintReplayer::HintReplayer(HintSpool& spool, SessionFactory factory, const Clock& clock,
                           ReplayOptions options)
    : spool_(spool),
      factory_(std::move(factory)),
      clock_(clock),
      options_(options),
      rate_(options.rate_per_s),
      applied_rate_(options.rate_per_s),
      burst_(BurstFor(options.rate_per_s, options.max_batch)),
      tokens_(burst_),
      last_refill_ms_(clock.MonotonicMs()) {}

double HintReplayer::BurstFor(int64_t rate_per_s, size_t max_batch) {
  return std::clamp<double>(static_cast<double>(rate_per_s) / 10.0, 1.0,
                            static_cast<double>(std::max<size_t>(max_batch, 1)));
}

void HintReplayer::SetRate(int64_t rate_per_s) {
  rate_.store(std::max<int64_t>(rate_per_s, 1), std::memory_order_relaxed);
  Wake();
}

HintReplayer::~HintReplayer() { Stop(); }

void HintReplayer::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void HintReplayer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  targets_.clear();
}

void HintReplayer::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_.notify_one();
}

void HintReplayer::Run() {
  while (true) {
    const int64_t wait_ms = RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (wait_ms > 0) {
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                     [this] { return stopping_ || woken_; });
    }
    woken_ = false;
    if (stopping_) return;
  }
}

void HintReplayer::Refill(int64_t now_ms) {
  // The time since the last refill earns tokens at the rate it ran at; a new rate applies after.
  if (now_ms > last_refill_ms_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_refill_ms_) *
                                             static_cast<double>(applied_rate_) / 1000.0);
    last_refill_ms_ = now_ms;
  }
  const int64_t rate = rate_.load(std::memory_order_relaxed);
  if (rate != applied_rate_) {
    applied_rate_ = rate;
    burst_ = BurstFor(rate, options_.max_batch);
    tokens_ = std::min(tokens_, burst_);
  }
}

void HintReplayer::Fail(TargetState& state, int64_t now_ms, const std::string& target,
                        const Status& why) {
  stats_.failures.Inc();
  state.session.reset();
  state.cursor.clear();
  state.backoff_ms = state.backoff_ms == 0
                         ? options_.backoff_min_ms
                         : std::min(options_.backoff_max_ms, state.backoff_ms * 2);
  state.next_attempt_ms = now_ms + state.backoff_ms;
  spdlog::debug("hints for {}: {} (retry in {} ms)", target, why.ToString(), state.backoff_ms);
}

int64_t HintReplayer::RunOnce() {
  int64_t now = clock_.MonotonicMs();
  Refill(now);
  if (now >= next_sweep_ms_) {
    next_sweep_ms_ = now + options_.sweep_interval_ms;
    auto swept = spool_.Sweep(spool_counters_);
    if (!swept.ok()) spdlog::warn("hint spool sweep: {}", swept.status().ToString());
  }

  const std::vector<std::string> pending = spool_.Targets();
  // Targets with nothing held any more: close their sessions, forget their backoff.
  for (auto it = targets_.begin(); it != targets_.end();) {
    it = std::binary_search(pending.begin(), pending.end(), it->first) ? std::next(it)
                                                                       : targets_.erase(it);
  }

  int64_t wait = options_.idle_wait_ms;
  for (const std::string& target : pending) {
    TargetState& state = targets_[target];
    if (now < state.next_attempt_ms) {
      wait = std::min(wait, state.next_attempt_ms - now);
      continue;
    }
    if (tokens_ < 1.0) {
      const double rate = static_cast<double>(std::max<int64_t>(applied_rate_, 1));
      wait = std::min(wait, static_cast<int64_t>(std::ceil((1.0 - tokens_) * 1000.0 / rate)));
      break;
    }
    if (state.session == nullptr) {
      auto session = factory_(target);
      if (!session.ok()) {
        Fail(state, now, target, session.status());
        wait = std::min(wait, state.backoff_ms);
        continue;
      }
      state.session = std::move(*session);
      stats_.sessions_opened.Inc();
    }
    const size_t n = std::min(options_.max_batch, static_cast<size_t>(tokens_));
    auto hints = spool_.Next(target, state.cursor, n, spool_counters_);
    if (!hints.ok()) {
      Fail(state, now, target, hints.status());
      wait = std::min(wait, state.backoff_ms);
      continue;
    }
    if (hints->empty()) {
      // The end of this round. Hints may have arrived behind the cursor (lower versions): if any
      // are held, start the next round from the first.
      if (!state.cursor.empty()) {
        state.cursor.clear();
        if (spool_.PendingFor(target) > 0) wait = 0;
      }
      continue;
    }
    std::vector<DeliveryOutcome> outcomes;
    if (Status s = state.session->Deliver(*hints, &outcomes);
        !s.ok() || outcomes.size() != hints->size()) {
      Fail(state, now, target, s.ok() ? Status::Internal("session answered short") : s);
      wait = std::min(wait, state.backoff_ms);
      continue;
    }
    tokens_ -= static_cast<double>(hints->size());
    std::string last_key = EncodeHintKey(hints->back());  // before the hints are moved from
    std::vector<Hint> delivered;
    bool retry = false;
    for (size_t i = 0; i < hints->size(); ++i) {
      switch (outcomes[i]) {
        case DeliveryOutcome::kDelivered:
          delivered.push_back(std::move((*hints)[i]));
          break;
        case DeliveryOutcome::kRejected:
          spdlog::warn("hint for {} refused for good by the target: dropped", target);
          if (Status s = spool_.Drop((*hints)[i], spool_counters_); !s.ok()) retry = true;
          break;
        case DeliveryOutcome::kRetry:
          retry = true;
          break;
      }
    }
    if (Status s = spool_.Remove(delivered, spool_counters_); !s.ok()) {
      Fail(state, now, target, s);
      wait = std::min(wait, state.backoff_ms);
      continue;
    }
    if (retry) {
      Fail(state, now, target, Status::Unavailable("the target asked to retry"));
      wait = std::min(wait, state.backoff_ms);
      continue;
    }
    state.backoff_ms = 0;
    state.cursor = std::move(last_key);
    wait = 0;
    now = clock_.MonotonicMs();
    Refill(now);
  }
  return std::max<int64_t>(wait, 0);
}

}  // namespace shoal::node::hints
