#include "proxy/upstream/link_detector.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

namespace shoal::proxy {
namespace {

constexpr int64_t kTickMs = 10;  // how often the owner judges in these tests

LinkDetectorOptions Options() {
  LinkDetectorOptions o;
  o.threshold = 8;
  o.ping_interval_ms = 100;
  return o;
}

// A link and a simulated node on a fake clock: the owner judges every tick and pings when due;
// the node answers each request (and ping) `latency()` ms after it was sent while it is alive.
struct SimulatedLink {
  LinkDetector detector{Options()};
  std::function<int64_t()> latency = [] { return int64_t{1}; };
  int64_t now = 0;
  bool alive = true;
  std::vector<int64_t> answers_due;  // times at which the node's answers arrive
  int64_t suspected_at = -1;

  void Request() {
    detector.Sent(now);
    if (alive) answers_due.push_back(now + latency());
  }
  // Advances to `until`, 1 ms at a time: answers arrive, the owner judges each tick and pings.
  void RunUntil(int64_t until) {
    for (; now < until; ++now) {
      for (size_t i = 0; i < answers_due.size();) {
        if (answers_due[i] <= now) {
          answers_due.erase(answers_due.begin() + static_cast<long>(i));
          detector.Answered(now, !answers_due.empty());
        } else {
          ++i;
        }
      }
      if (now % kTickMs != 0) continue;
      if (detector.PingDue(now)) {
        detector.PingSent(now);
        if (alive) answers_due.push_back(now + latency());
      }
      if (detector.Judge(now) && suspected_at < 0) suspected_at = now;
    }
  }
};

TEST(LinkDetectorTest, SteadyTrafficKeepsPhiLow) {
  SimulatedLink link;
  link.Request();
  link.RunUntil(1);
  // A request every 2 ms answered in 1 ms, for 10 s: never suspected, phi near 0.
  double worst = 0;
  while (link.now < 10'000) {
    link.Request();
    link.RunUntil(link.now + 2);
    worst = std::max(worst, link.detector.Phi(link.now));
  }
  EXPECT_EQ(link.suspected_at, -1);
  EXPECT_LT(worst, 0.5);
  EXPECT_LT(link.detector.detector().mean_ms(), 10);
}

TEST(LinkDetectorTest, AnIdleLinkIsPingedAndNeverSuspected) {
  SimulatedLink link;
  link.Request();
  link.RunUntil(10'000);
  EXPECT_EQ(link.suspected_at, -1);
  // Pinged about once per interval (plus the tick's granularity): ~90 answers in 10 s.
  EXPECT_GT(link.detector.detector().samples(), 60);
  EXPECT_LT(link.detector.detector().samples(), 110);
  // Nothing owed between a ping's answer and the next ping: phi is 0 then.
  EXPECT_FALSE(link.detector.owed());
  EXPECT_EQ(link.detector.Phi(link.now + 60'000), 0);
  EXPECT_EQ(link.detector.SilentMs(link.now + 60'000), 0);
}

TEST(LinkDetectorTest, PingsAreSentOnlyAfterSilenceAndOneAtATime) {
  LinkDetector d(Options());
  EXPECT_FALSE(d.PingDue(1000));  // nothing sent or heard yet: no connection to ping on
  d.Sent(0);
  d.Answered(5, false);
  EXPECT_FALSE(d.PingDue(50));
  EXPECT_TRUE(d.PingDue(105));
  d.PingSent(105);
  EXPECT_TRUE(d.owed());
  EXPECT_FALSE(d.PingDue(300));  // the first is unanswered
  d.Answered(306, false);
  EXPECT_FALSE(d.PingDue(310));
  EXPECT_TRUE(d.PingDue(406));
}

TEST(LinkDetectorTest, SilenceWhileOwedIsSuspectedAfterAboutFourAndAHalfIntervals) {
  SimulatedLink link;
  link.Request();
  link.RunUntil(5'000);  // pings answered: history of ~1 ms waits
  link.alive = false;
  const int64_t paused = link.now;
  while (link.now < paused + 3'000) {  // traffic keeps asking
    link.Request();
    link.RunUntil(link.now + 5);
  }
  ASSERT_GE(link.suspected_at, 0);
  // Mean wait ~1 ms + pause 200 ms + 5.2 x the 50 ms floor: ~460 ms after the last answer.
  EXPECT_GT(link.suspected_at - paused, 400);
  EXPECT_LT(link.suspected_at - paused, 560);
  EXPECT_TRUE(link.detector.suspected());
  EXPECT_GT(link.detector.Phi(link.now), 8);
  // Silent since its last answer, just after the pause began.
  EXPECT_NEAR(link.detector.SilentMs(link.now), link.now - paused, 10);
}

TEST(LinkDetectorTest, AnIdleNodeThatStopsIsSuspectedThroughItsPing) {
  SimulatedLink link;
  link.Request();
  link.RunUntil(5'000);
  link.alive = false;
  const int64_t paused = link.now;
  link.RunUntil(paused + 3'000);
  ASSERT_GE(link.suspected_at, 0);
  // Up to one ping interval (and a tick) before the unanswered ping, then ~460 ms.
  EXPECT_GT(link.suspected_at - paused, 400);
  EXPECT_LT(link.suspected_at - paused, 700);
}

TEST(LinkDetectorTest, JitterMakesItMorePatientButSilenceStillEndsInSuspicion) {
  SimulatedLink steady, jittery;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int64_t> latency(0, 300);
  // A loaded node answers everything (pings too) anywhere within 300 ms.
  jittery.latency = [&] { return latency(rng); };
  // One request every 300 ms.
  for (int64_t t = 0; t < 60'000; t += 300) {
    steady.Request();
    jittery.Request();
    steady.RunUntil(t + 300);
    jittery.RunUntil(t + 300);
  }
  EXPECT_EQ(steady.suspected_at, -1);
  EXPECT_EQ(jittery.suspected_at, -1);  // answers up to 300 ms late are no failure
  EXPECT_GT(jittery.detector.detector().std_dev_ms(), steady.detector.detector().std_dev_ms() + 10);
  for (SimulatedLink* link : {&steady, &jittery}) {
    link->alive = false;
    link->answers_due.clear();
    const int64_t paused = link->now;
    while (link->now < paused + 5'000) {
      link->Request();
      link->RunUntil(link->now + 5);
    }
    ASSERT_GE(link->suspected_at, 0);
    link->suspected_at -= paused;
  }
  EXPECT_GT(jittery.suspected_at, steady.suspected_at + 50);
  EXPECT_LT(jittery.suspected_at, 2'000);
}

TEST(LinkDetectorTest, TheNextAnswerEndsTheSuspicion) {
  SimulatedLink link;
  link.Request();
  link.RunUntil(2'000);
  link.alive = false;
  link.Request();
  link.RunUntil(3'000);
  ASSERT_TRUE(link.detector.suspected());
  // While suspected nothing new is pinged (its ping is unanswered) and it stays suspected.
  EXPECT_FALSE(link.detector.PingDue(link.now));
  link.RunUntil(10'000);
  EXPECT_TRUE(link.detector.suspected());
  // It answers again: usable at once, and judged as before (not suspected again).
  link.alive = true;
  EXPECT_TRUE(link.detector.Answered(link.now, false));
  EXPECT_FALSE(link.detector.suspected());
  EXPECT_EQ(link.detector.Phi(link.now), 0);
  link.suspected_at = -1;
  link.RunUntil(20'000);
  EXPECT_EQ(link.suspected_at, -1);
  // The 7 s outage was sampled only up to the suspicion delay: a new silence is noticed about as
  // fast as before, not after seconds.
  link.alive = false;
  const int64_t paused = link.now;
  link.RunUntil(paused + 3'000);
  ASSERT_GE(link.suspected_at, 0);
  EXPECT_LT(link.suspected_at - paused, 800);
}

TEST(LinkDetectorTest, ALateJudgementBlamesNothing) {
  LinkDetector d(Options());
  d.Sent(0);
  d.Answered(1, false);
  EXPECT_FALSE(d.Judge(10));
  d.Sent(20);  // a request, then the owner stalls for 2 s (its answer may be unread)
  EXPECT_FALSE(d.Judge(2'020));
  EXPECT_FALSE(d.suspected());
  // The next timely judgement does judge: still no answer, so it is suspected.
  EXPECT_TRUE(d.Judge(2'030));
  EXPECT_TRUE(d.suspected());
  EXPECT_FALSE(d.Judge(2'040));  // reported once
}

}  // namespace
}  // namespace shoal::proxy
