#include "common/metrics/registry.h"

#include <prometheus/check_names.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace shoal::metrics {

namespace {

[[noreturn]] void Die(std::string_view name, const char* why) {
  std::fprintf(stderr, "metrics: family '%.*s': %s\n", static_cast<int>(name.size()), name.data(),
               why);
  std::abort();
}

prometheus::MetricType TypeOf(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return prometheus::MetricType::Counter;
    case Kind::kGauge:
      return prometheus::MetricType::Gauge;
    case Kind::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

}  // namespace

Registry::Family& Registry::Declare(Kind kind, std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names,
                                    std::span<const double> bounds) {
  for (auto& f : families_) {
    if (f->name != name) continue;
    if (f->kind != kind) Die(name, "declared twice with different kinds");
    if (f->help != help) Die(name, "declared twice with different help texts");
    if (f->label_names != label_names) Die(name, "declared twice with different labels");
    if (!std::equal(f->bounds.begin(), f->bounds.end(), bounds.begin(), bounds.end())) {
      Die(name, "declared twice with different buckets");
    }
    return *f;
  }
  if (!prometheus::CheckMetricName(std::string(name))) Die(name, "not a valid metric name");
  for (const std::string& l : label_names) {
    if (!prometheus::CheckLabelName(l) || l == "le") Die(name, "invalid label name");
  }
  auto f = std::make_unique<Family>();
  f->kind = kind;
  f->name = std::string(name);
  f->help = std::string(help);
  f->label_names = std::move(label_names);
  f->bounds.assign(bounds.begin(), bounds.end());
  families_.push_back(std::move(f));
  return *families_.back();
}

void Registry::AttachCell(Kind kind, std::string_view name, std::string_view help,
                          const Labels& labels, const void* cell, std::span<const double> bounds,
                          const void* owner) {
  std::vector<std::string> names, values;
  for (const auto& [n, v] : labels) {
    names.push_back(n);
    values.push_back(v);
  }
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = Declare(kind, name, help, std::move(names), bounds);
  f.cells.push_back(Cell{std::move(values), cell, owner});
}

void Registry::AttachCounter(std::string_view name, std::string_view help, const Labels& labels,
                             const Counter& cell, const void* owner) {
  AttachCell(Kind::kCounter, name, help, labels, &cell, {}, owner);
}

void Registry::AttachGauge(std::string_view name, std::string_view help, const Labels& labels,
                           const Gauge& cell, const void* owner) {
  AttachCell(Kind::kGauge, name, help, labels, &cell, {}, owner);
}

void Registry::AttachHistogram(std::string_view name, std::string_view help, const Labels& labels,
                               const Histogram& cell, const void* owner) {
  AttachCell(Kind::kHistogram, name, help, labels, &cell, cell.bounds(), owner);
}

void Registry::AddCallback(Kind kind, std::string_view name, std::string_view help,
                           std::vector<std::string> label_names, Callback fn, const void* owner) {
  if (kind == Kind::kHistogram) Die(name, "histograms cannot be callbacks");
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = Declare(kind, name, help, std::move(label_names), {});
  f.hooks.push_back(Hook{std::move(fn), owner});
}

void Registry::Detach(const void* owner) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& f : families_) {
    std::erase_if(f->cells, [owner](const Cell& c) { return c.owner == owner; });
    std::erase_if(f->hooks, [owner](const Hook& h) { return h.owner == owner; });
  }
}

std::map<std::vector<std::string>, Registry::Sum> Registry::SumSeries(const Family& f) const {
  std::map<std::vector<std::string>, Sum> series;
  for (const Cell& c : f.cells) {
    Sum& s = series[c.label_values];
    switch (f.kind) {
      case Kind::kCounter:
        s.value += static_cast<double>(static_cast<const Counter*>(c.cell)->Value());
        break;
      case Kind::kGauge:
        s.value += static_cast<double>(static_cast<const Gauge*>(c.cell)->Value());
        break;
      case Kind::kHistogram: {
        const auto* h = static_cast<const Histogram*>(c.cell);
        s.buckets.resize(f.bounds.size() + 1, 0);
        for (size_t i = 0; i <= f.bounds.size(); ++i) s.buckets[i] += h->BucketCount(i);
        s.sum += h->Sum();
        break;
      }
    }
  }
  for (const Hook& h : f.hooks) {
    h.fn([&](const std::vector<std::string>& values, double v) {
      if (values.size() != f.label_names.size()) Die(f.name, "callback emitted wrong labels");
      series[values].value += v;
    });
  }
  return series;
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<prometheus::MetricFamily> out;
  for (const auto& f : families_) {
    auto series = SumSeries(*f);
    if (series.empty()) continue;
    prometheus::MetricFamily mf;
    mf.name = f->name;
    mf.help = f->help;
    mf.type = TypeOf(f->kind);
    for (const auto& [values, sum] : series) {
      prometheus::ClientMetric m;
      for (size_t i = 0; i < values.size(); ++i) m.label.push_back({f->label_names[i], values[i]});
      switch (f->kind) {
        case Kind::kCounter:
          m.counter.value = sum.value;
          break;
        case Kind::kGauge:
          m.gauge.value = sum.value;
          break;
        case Kind::kHistogram: {
          uint64_t cumulative = 0;
          for (size_t i = 0; i < f->bounds.size(); ++i) {
            cumulative += sum.buckets[i];
            m.histogram.bucket.push_back({cumulative, f->bounds[i]});
          }
          cumulative += sum.buckets[f->bounds.size()];
          m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
          m.histogram.sample_count = cumulative;
          m.histogram.sample_sum = sum.sum;
          break;
        }
      }
      mf.metric.push_back(std::move(m));
    }
    out.push_back(std::move(mf));
  }
  return out;
}

std::string Registry::Text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect());
  return out.str();
}

const Registry::Family* Registry::Find(std::string_view name) const {
  for (const auto& f : families_) {
    if (f->name == name) return f.get();
  }
  return nullptr;
}

double Registry::Total(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Family* f = Find(name);
  if (f == nullptr) return 0;
  double total = 0;
  for (const auto& [values, sum] : SumSeries(*f)) {
    if (f->kind != Kind::kHistogram) {
      total += sum.value;
    } else {
      for (uint64_t n : sum.buckets) total += static_cast<double>(n);
    }
  }
  return total;
}

double Registry::Value(std::string_view name, const std::vector<std::string>& label_values) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Family* f = Find(name);
  if (f == nullptr) return 0;
  auto series = SumSeries(*f);
  auto it = series.find(label_values);
  if (it == series.end()) return 0;
  if (f->kind != Kind::kHistogram) return it->second.value;
  double n = 0;
  for (uint64_t b : it->second.buckets) n += static_cast<double>(b);
  return n;
}

}  // namespace shoal::metrics
