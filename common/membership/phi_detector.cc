#include "common/membership/phi_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace shoal {

StatusOr<double> ParsePhiThreshold(const std::string& text) {
  char* end = nullptr;
  const double phi = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(phi > 0) || phi > 1000) {
    return Status::InvalidArgument(
        "--phi-threshold must be a number above 0 and at most 1000, got '" + text + "'");
  }
  return phi;
}

PhiOptions PhiOptions::ForInterval(int64_t interval_ms, double threshold) {
  PhiOptions o;
  o.threshold = threshold;
  o.first_interval_ms = std::max<int64_t>(1, interval_ms);
  o.min_std_dev_ms = std::max<int64_t>(1, interval_ms / 2);
  o.acceptable_pause_ms = 2 * interval_ms;
  return o;
}

void PhiAccrualDetector::Start(int64_t now_ms) {
  // Seed the history with the expected interval (as Akka does: two samples mean +- mean / 4),
  // so the first silence is judged against something.
  const double mean = static_cast<double>(options_.first_interval_ms);
  AddInterval(mean - mean / 4);
  AddInterval(mean + mean / 4);
  last_ms_ = now_ms;
}

void PhiAccrualDetector::Heartbeat(int64_t now_ms) {
  if (last_ms_ < 0) return Start(now_ms);
  if (now_ms < last_ms_) return;  // a clock that went backwards: keep the later mark
  AddInterval(std::min(static_cast<double>(now_ms - last_ms_), SuspicionDelayMs()));
  last_ms_ = now_ms;
}

void PhiAccrualDetector::Expect(int64_t now_ms) {
  if (last_ms_ < 0) return Start(now_ms);
  last_ms_ = std::max(last_ms_, now_ms);
}

void PhiAccrualDetector::AddInterval(double interval_ms) {
  const float sample = static_cast<float>(interval_ms);
  if (static_cast<int>(intervals_.size()) < std::max(1, options_.max_samples)) {
    intervals_.push_back(sample);
  } else {
    const double old = intervals_[oldest_];
    sum_ -= old;
    sum_sq_ -= old * old;
    intervals_[oldest_] = sample;
    oldest_ = (oldest_ + 1) % intervals_.size();
  }
  sum_ += sample;
  sum_sq_ += static_cast<double>(sample) * sample;
}

double PhiAccrualDetector::mean_ms() const {
  return intervals_.empty() ? 0.0 : sum_ / static_cast<double>(intervals_.size());
}

double PhiAccrualDetector::std_dev_ms() const {
  if (intervals_.empty()) return 0.0;
  const double n = static_cast<double>(intervals_.size());
  const double mean = sum_ / n;
  return std::sqrt(std::max(0.0, sum_sq_ / n - mean * mean));
}

namespace {

// Akka's logistic approximation of the normal distribution's tail (error < 0.0002): phi of a
// silence `y` standard deviations past the mean.
double PhiOfDeviations(double y) {
  const double e = std::exp(-y * (1.5976 + 0.070566 * y * y));
  const double phi = y > 0 ? -std::log10(e / (1.0 + e)) : -std::log10(1.0 - 1.0 / (1.0 + e));
  if (!std::isfinite(phi)) return 1e9;  // e underflowed: certainly late
  return std::max(0.0, phi);
}

}  // namespace

PhiAccrualDetector::PhiAccrualDetector(const PhiOptions& options) : options_(options) {
  // PhiOfDeviations rises with y: bisect for the threshold once.
  double lo = -10, hi = 100;
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    (PhiOfDeviations(mid) > options_.threshold ? hi : lo) = mid;
  }
  threshold_deviations_ = hi;
}

double PhiAccrualDetector::SuspicionDelayMs() const {
  const double std_dev = std::max(std_dev_ms(), static_cast<double>(options_.min_std_dev_ms));
  return mean_ms() + static_cast<double>(options_.acceptable_pause_ms) +
         threshold_deviations_ * std_dev;
}

double PhiAccrualDetector::Phi(int64_t now_ms) const {
  if (last_ms_ < 0 || now_ms <= last_ms_) return 0.0;
  const double elapsed = static_cast<double>(now_ms - last_ms_);
  const double mean = mean_ms() + static_cast<double>(options_.acceptable_pause_ms);
  const double std_dev = std::max(std_dev_ms(), static_cast<double>(options_.min_std_dev_ms));
  return PhiOfDeviations((elapsed - mean) / std_dev);
}

void PhiAccrualDetector::Reset() {
  intervals_.clear();
  oldest_ = 0;
  sum_ = 0;
  sum_sq_ = 0;
  last_ms_ = -1;
}

}  // namespace shoal
