#include "proxy/upstream/link_detector.h"

#include <algorithm>

namespace shoal::proxy {

LinkDetector::LinkDetector(const LinkDetectorOptions& options)
    : options_(options),
      late_judgement_ms_(2 * options.ping_interval_ms),
      detector_(PhiOptions::ForInterval(options.ping_interval_ms, options.threshold)) {}

void LinkDetector::Sent(int64_t now_ms) {
  if (last_heard_ms_ < 0) last_heard_ms_ = now_ms;
  if (owed_) return;
  owed_ = true;
  detector_.Expect(now_ms);
}

bool LinkDetector::Answered(int64_t now_ms, bool still_owed) {
  detector_.Heartbeat(now_ms);
  owed_ = still_owed;
  ping_unanswered_ = false;
  last_heard_ms_ = now_ms;
  const bool ended = suspected_;
  suspected_ = false;
  return ended;
}

bool LinkDetector::PingDue(int64_t now_ms) const {
  return !ping_unanswered_ && last_heard_ms_ >= 0 &&
         now_ms - last_heard_ms_ >= options_.ping_interval_ms;
}

void LinkDetector::PingSent(int64_t now_ms) {
  ping_unanswered_ = true;
  Sent(now_ms);
}

bool LinkDetector::Judge(int64_t now_ms) {
  const bool late = last_judged_ms_ >= 0 && now_ms - last_judged_ms_ > late_judgement_ms_;
  last_judged_ms_ = now_ms;
  if (late || suspected_ || !owed_) return false;
  if (detector_.Phi(now_ms) <= options_.threshold) return false;
  suspected_ = true;
  return true;
}

double LinkDetector::Phi(int64_t now_ms) const { return owed_ ? detector_.Phi(now_ms) : 0.0; }

int64_t LinkDetector::SilentMs(int64_t now_ms) const {
  return owed_ ? std::max<int64_t>(0, now_ms - detector_.last_heartbeat_ms()) : 0;
}

}  // namespace shoal::proxy
