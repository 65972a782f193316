#include "common/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "common/metrics/lazy_cells.h"

namespace shoal::metrics {
namespace {

#define TEST_METRICS(X)                                                  \
  X(Counter, requests, "shoal_test_requests_total", "requests received") \
  X(Gauge, connections, "shoal_test_connections", "open connections")

struct TestStats {
  TEST_METRICS(SHOAL_METRIC_FIELD)
};

void AttachTestStats(Registry& registry, const TestStats& stats, const Labels& labels) {
  const void* owner = &stats;
  TEST_METRICS(SHOAL_METRIC_ATTACH)
}

TEST(RegistryTest, SumsEveryThreadsCellsOfASeries) {
  Registry registry;
  TestStats a, b;
  AttachTestStats(registry, a, {});
  AttachTestStats(registry, b, {});
  a.requests.Inc(3);
  b.requests.Inc();
  a.connections.Add(2);
  b.connections.Add(5);
  b.connections.Add(-1);
  EXPECT_EQ(registry.Total("shoal_test_requests_total"), 4);
  EXPECT_EQ(registry.Total("shoal_test_connections"), 6);
  EXPECT_EQ(registry.Total("shoal_test_unknown"), 0);
  auto families = registry.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "shoal_test_requests_total");
  EXPECT_EQ(families[0].type, prometheus::MetricType::Counter);
  ASSERT_EQ(families[0].metric.size(), 1u);  // one series: the cells are summed
  EXPECT_EQ(families[0].metric[0].counter.value, 4);
  EXPECT_EQ(families[1].metric[0].gauge.value, 6);
}

TEST(RegistryTest, LabelValuesAreSeries) {
  Registry registry;
  TestStats n1, n2a, n2b;
  AttachTestStats(registry, n1, {{"node", "n1"}});
  AttachTestStats(registry, n2a, {{"node", "n2"}});
  AttachTestStats(registry, n2b, {{"node", "n2"}});
  n1.requests.Inc(1);
  n2a.requests.Inc(10);
  n2b.requests.Inc(100);
  EXPECT_EQ(registry.Value("shoal_test_requests_total", {"n1"}), 1);
  EXPECT_EQ(registry.Value("shoal_test_requests_total", {"n2"}), 110);
  EXPECT_EQ(registry.Value("shoal_test_requests_total", {"n3"}), 0);
  EXPECT_EQ(registry.Total("shoal_test_requests_total"), 111);
  const std::string text = registry.Text();
  EXPECT_NE(text.find("# TYPE shoal_test_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("shoal_test_requests_total{node=\"n2\"} 110\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP shoal_test_connections open connections\n"), std::string::npos);
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithInf) {
  static constexpr double kBounds[] = {0.001, 0.01, 0.1};
  Registry registry;
  Histogram h1(kBounds), h2(kBounds);
  registry.AttachHistogram("shoal_test_latency_seconds", "latency", {{"class", "read"}}, h1, &h1);
  registry.AttachHistogram("shoal_test_latency_seconds", "latency", {{"class", "read"}}, h2, &h2);
  h1.Observe(0.0005);  // le 0.001
  h1.Observe(0.001);   // le 0.001 (bounds are inclusive)
  h2.Observe(0.05);    // le 0.1
  h2.Observe(3);       // +Inf only
  auto families = registry.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].type, prometheus::MetricType::Histogram);
  const auto& hist = families[0].metric[0].histogram;
  ASSERT_EQ(hist.bucket.size(), 4u);
  EXPECT_EQ(hist.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(hist.bucket[1].cumulative_count, 2u);
  EXPECT_EQ(hist.bucket[2].cumulative_count, 3u);
  EXPECT_EQ(hist.bucket[3].cumulative_count, 4u);
  EXPECT_TRUE(std::isinf(hist.bucket[3].upper_bound));
  EXPECT_EQ(hist.sample_count, 4u);
  EXPECT_DOUBLE_EQ(hist.sample_sum, 0.0005 + 0.001 + 0.05 + 3);
  EXPECT_EQ(registry.Total("shoal_test_latency_seconds"), 4);
  const std::string text = registry.Text();
  EXPECT_NE(text.find("shoal_test_latency_seconds_bucket{class=\"read\",le=\"+Inf\"} 4"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("shoal_test_latency_seconds_count{class=\"read\"} 4"), std::string::npos);
}

TEST(RegistryTest, CallbacksAreReadWhenCollectedAndAddToCells) {
  Registry registry;
  TestStats stats;
  AttachTestStats(registry, stats, {});
  int64_t pending = 7;
  registry.AddCallback(
      Kind::kGauge, "shoal_test_pending", "pending things", {},
      [&](const Registry::Emit& emit) { emit({}, static_cast<double>(pending)); }, &pending);
  registry.AddCallback(
      Kind::kCounter, "shoal_test_requests_total", "requests received", {},
      [](const Registry::Emit& emit) { emit({}, 1000); }, &pending);
  stats.requests.Inc(2);
  EXPECT_EQ(registry.Total("shoal_test_pending"), 7);
  pending = 9;
  EXPECT_EQ(registry.Total("shoal_test_pending"), 9);
  EXPECT_EQ(registry.Total("shoal_test_requests_total"), 1002);
}

TEST(RegistryTest, DetachForgetsAnOwnersCellsAndCallbacks) {
  Registry registry;
  TestStats a, b;
  AttachTestStats(registry, a, {});
  AttachTestStats(registry, b, {});
  registry.AddCallback(
      Kind::kGauge, "shoal_test_pending", "pending things", {},
      [](const Registry::Emit& emit) { emit({}, 1); }, &b);
  a.requests.Inc(1);
  b.requests.Inc(2);
  registry.Detach(&b);
  EXPECT_EQ(registry.Total("shoal_test_requests_total"), 1);
  for (const auto& f : registry.Collect()) EXPECT_NE(f.name, "shoal_test_pending");
  registry.Detach(&a);
  EXPECT_TRUE(registry.Collect().empty());
  // A family can be attached to again after its cells left.
  AttachTestStats(registry, a, {});
  EXPECT_EQ(registry.Total("shoal_test_requests_total"), 1);
}

TEST(RegistryTest, ConcurrentWritersAreSummedExactlyOnceTheyStop) {
  Registry registry;
  TestStats a, b;
  AttachTestStats(registry, a, {});
  AttachTestStats(registry, b, {});
  constexpr int kIncrements = 200000;
  auto work = [](TestStats* s) {
    for (int i = 0; i < kIncrements; ++i) s->requests.Inc();
  };
  std::thread ta(work, &a), tb(work, &b);
  double last = 0;
  for (int i = 0; i < 100; ++i) {  // scrapes while they count: never decreasing
    const double now = registry.Total("shoal_test_requests_total");
    EXPECT_GE(now, last);
    last = now;
  }
  ta.join();
  tb.join();
  EXPECT_EQ(registry.Total("shoal_test_requests_total"), 2.0 * kIncrements);
}

TEST(LazyCellsTest, ExportsOnlyTheSeriesUsedAndDetachesOnDestruction) {
  Registry registry;
  {
    LazyCells<Counter> by_type(registry, "shoal_test_typed_total", "typed", 8, [](size_t i) {
      return Labels{{"type", "t" + std::to_string(i)}};
    });
    EXPECT_TRUE(registry.Collect().empty());  // nothing used yet
    by_type[3].Inc();
    by_type[3].Inc(2);
    by_type[5].Inc();
    EXPECT_EQ(registry.Value("shoal_test_typed_total", {"t3"}), 3);
    EXPECT_EQ(registry.Value("shoal_test_typed_total", {"t5"}), 1);
    auto families = registry.Collect();
    ASSERT_EQ(families.size(), 1u);
    EXPECT_EQ(families[0].metric.size(), 2u);
    static constexpr double kBounds[] = {1, 2};
    LazyCells<Histogram> latency(
        registry, "shoal_test_seconds", "latency", 2,
        [](size_t i) {
          return Labels{{"class", i == 0 ? "read" : "write"}};
        },
        kBounds);
    latency[1].Observe(1.5);
    EXPECT_EQ(registry.Value("shoal_test_seconds", {"write"}), 1);
  }
  EXPECT_TRUE(registry.Collect().empty());
}

TEST(RegistryDeathTest, ConflictingDeclarationsAbort) {
  Registry registry;
  Counter c;
  Gauge g;
  registry.AttachCounter("shoal_test_x_total", "x", {}, c, &c);
  EXPECT_DEATH(registry.AttachGauge("shoal_test_x_total", "x", {}, g, &g), "different kinds");
  EXPECT_DEATH(registry.AttachCounter("shoal_test_x_total", "x", {{"node", "a"}}, c, &c),
               "different labels");
  EXPECT_DEATH(registry.AttachCounter("shoal test", "x", {}, c, &c), "not a valid metric name");
}

}  // namespace
}  // namespace shoal::metrics
