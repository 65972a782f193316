#include "common/membership/phi_detector.h"

#include <gtest/gtest.h>

#include <random>

namespace shoal {
namespace {

PhiOptions Options() {
  PhiOptions o;
  o.threshold = 8;
  o.first_interval_ms = 1000;
  o.min_std_dev_ms = 100;
  o.acceptable_pause_ms = 0;
  o.max_samples = 100;
  return o;
}

// The first silence (in ms after the last heartbeat) at which the detector suspects the member.
int64_t SuspectedAfter(const PhiAccrualDetector& d, int64_t last) {
  for (int64_t t = last;; t += 10) {
    if (d.Suspected(t)) return t - last;
  }
}

TEST(PhiAccrualTest, NothingIsSuspectedBeforeTheFirstHeartbeat) {
  PhiAccrualDetector d(Options());
  EXPECT_EQ(d.Phi(1'000'000), 0);
  EXPECT_FALSE(d.Suspected(1'000'000));
}

TEST(PhiAccrualTest, SteadyHeartbeatsKeepPhiLowAndSilenceRaisesIt) {
  PhiAccrualDetector d(Options());
  int64_t t = 0;
  for (int i = 0; i < 50; ++i, t += 1000) d.Heartbeat(t);
  const int64_t last = t - 1000;
  EXPECT_NEAR(d.mean_ms(), 1000, 10);
  // Just after a heartbeat and at the expected next one, phi is low.
  EXPECT_LT(d.Phi(last + 100), 0.1);
  EXPECT_LT(d.Phi(last + 1000), 1.0);
  // Phi only grows with silence.
  double previous = 0;
  for (int64_t s = 0; s <= 5000; s += 100) {
    const double phi = d.Phi(last + s);
    EXPECT_GE(phi, previous) << s;
    previous = phi;
  }
  // Steady 1 s heartbeats with a 100 ms deviation floor: suspected a little after 1.5 s of
  // silence (mean + 5.6 deviations), not before 1.3 s.
  const int64_t after = SuspectedAfter(d, last);
  EXPECT_GT(after, 1300);
  EXPECT_LT(after, 1800);
}

TEST(PhiAccrualTest, JitterMakesTheDetectorMorePatient) {
  PhiAccrualDetector steady(Options()), jittery(Options());
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> jitter(-400, 400);
  int64_t ts = 0, tj = 0;
  for (int i = 0; i < 100; ++i) {
    steady.Heartbeat(ts);
    jittery.Heartbeat(tj);
    ts += 1000;
    tj += 1000 + jitter(rng);
  }
  const int64_t last_s = ts - 1000;
  EXPECT_GT(jittery.std_dev_ms(), 150);
  // A heartbeat 1.7 s late is suspicious after steady ones, normal after jittery ones.
  EXPECT_TRUE(steady.Suspected(last_s + 1700));
  const int64_t jittery_after = SuspectedAfter(jittery, jittery.last_heartbeat_ms());
  EXPECT_GT(jittery_after, 1700);
  EXPECT_GT(jittery_after, SuspectedAfter(steady, last_s));
  // But silence still ends in suspicion.
  EXPECT_LT(jittery_after, 4000);
}

TEST(PhiAccrualTest, AcceptablePauseDelaysSuspicion) {
  PhiOptions o = Options();
  o.acceptable_pause_ms = 2000;
  PhiAccrualDetector patient(o), strict(Options());
  for (int64_t t = 0; t < 20'000; t += 1000) {
    patient.Heartbeat(t);
    strict.Heartbeat(t);
  }
  EXPECT_TRUE(strict.Suspected(19'000 + 2500));
  EXPECT_FALSE(patient.Suspected(19'000 + 2500));
  EXPECT_TRUE(patient.Suspected(19'000 + 4000));
}

TEST(PhiAccrualTest, FirstHeartbeatIsJudgedAgainstTheExpectedInterval) {
  PhiAccrualDetector d(Options());
  d.Heartbeat(5000);
  EXPECT_FALSE(d.Suspected(5000 + 1000));
  EXPECT_TRUE(d.Suspected(5000 + 10'000));
}

TEST(PhiAccrualTest, AnOutageIsSampledOnlyUpToTheSuspicionDelay) {
  PhiAccrualDetector d(Options());
  for (int64_t t = 0; t <= 20'000; t += 1000) d.Heartbeat(t);
  const double delay = d.SuspicionDelayMs();
  EXPECT_NEAR(delay, 1522, 30);  // mean + 5.2 deviations (of the 100 ms floor)
  // 60 s of silence: suspected; then it comes back.
  EXPECT_TRUE(d.Suspected(80'000));
  const double sum_before = d.mean_ms() * d.samples();
  d.Heartbeat(80'000);
  EXPECT_NEAR(d.mean_ms() * d.samples() - sum_before, delay, 1.0);
  EXPECT_FALSE(d.Suspected(80'500));
  // The next failure is noticed almost as fast as the first would have been (not after 60 s).
  d.Heartbeat(81'000);
  EXPECT_TRUE(d.Suspected(81'000 + 2500));
}

TEST(PhiAccrualTest, AdaptsToHeartbeatsSlowerThanExpected) {
  PhiAccrualDetector d(Options());  // expects 1 s
  int64_t t = 0;
  for (int i = 0; i < 40; ++i, t += 3000) d.Heartbeat(t);
  const int64_t last = t - 3000;
  EXPECT_NEAR(d.mean_ms(), 3000, 200);
  EXPECT_FALSE(d.Suspected(last + 3200));
  EXPECT_TRUE(d.Suspected(last + 10'000));
}

TEST(PhiAccrualTest, ResetForgetsHistory) {
  PhiAccrualDetector d(Options());
  for (int64_t t = 0; t <= 5000; t += 1000) d.Heartbeat(t);
  d.Reset();
  EXPECT_FALSE(d.started());
  EXPECT_EQ(d.Phi(100'000), 0);
}

TEST(PhiAccrualTest, WindowKeepsTheLastSamples) {
  PhiOptions o = Options();
  o.max_samples = 10;
  PhiAccrualDetector d(o);
  int64_t t = 0;
  for (int i = 0; i < 30; ++i, t += 5000) d.Heartbeat(t);  // slow at first
  for (int i = 0; i < 30; ++i, t += 500) d.Heartbeat(t);   // then fast
  EXPECT_EQ(d.samples(), 10);
  EXPECT_NEAR(d.mean_ms(), 500, 1);
}

TEST(PhiAccrualTest, ClockGoingBackwardsIsIgnored) {
  PhiAccrualDetector d(Options());
  d.Heartbeat(10'000);
  d.Heartbeat(11'000);
  d.Heartbeat(9'000);
  EXPECT_EQ(d.last_heartbeat_ms(), 11'000);
  EXPECT_EQ(d.Phi(10'000), 0);
}

TEST(PhiAccrualTest, ExpectCountsSilenceOnlyFromWhenAnAnswerIsOwed) {
  PhiAccrualDetector d(Options());
  for (int64_t t = 0; t <= 20'000; t += 1000) d.Heartbeat(t);
  // Idle for a minute (nothing asked), then a request at 80 s: not suspected for the idle time.
  EXPECT_TRUE(d.Suspected(80'000));
  d.Expect(80'000);
  EXPECT_EQ(d.last_heartbeat_ms(), 80'000);
  EXPECT_FALSE(d.Suspected(80'500));
  EXPECT_TRUE(d.Suspected(80'000 + 2500));
  // The answer samples the wait (200 ms), not the minute.
  const double sum_before = d.mean_ms() * d.samples();
  d.Heartbeat(80'200);
  EXPECT_NEAR(d.mean_ms() * d.samples() - sum_before, 200, 1.0);
  // Never moves the mark back.
  d.Expect(70'000);
  EXPECT_EQ(d.last_heartbeat_ms(), 80'200);
}

TEST(PhiAccrualTest, ExpectBeforeAnyHeartbeatStartsTheClock) {
  PhiAccrualDetector d(Options());
  d.Expect(5000);
  EXPECT_TRUE(d.started());
  EXPECT_FALSE(d.Suspected(5000 + 1000));
  EXPECT_TRUE(d.Suspected(5000 + 10'000));  // a member that never answers is suspected
}

TEST(PhiAccrualTest, ForIntervalScalesWithTheGossipInterval) {
  const PhiOptions o = PhiOptions::ForInterval(200, 8);
  EXPECT_EQ(o.first_interval_ms, 200);
  EXPECT_EQ(o.min_std_dev_ms, 100);
  EXPECT_EQ(o.acceptable_pause_ms, 400);
  EXPECT_EQ(o.threshold, 8);
}

}  // namespace
}  // namespace shoal
