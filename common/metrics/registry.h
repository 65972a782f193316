#pragma once

// Registry: the one place a process's metrics are declared and read.
//
// A metric family (a Prometheus name, help text, kind and label names) is declared by the first
// Attach or AddCallback that names it. Its series are identified by their label values; a series
// is the SUM of every cell attached to it (one cell per writer thread, see cells.h) plus whatever
// its family's callbacks emit for it. Nothing is summed until somebody reads: Collect() (the
// admin endpoint's /metrics, as prometheus-cpp's Collectable), Text(), Total() and Value() (INFO).
//
// Ownership and threads. The registry never owns a cell: whoever attaches one (`owner`, any
// address identifying it) keeps it alive until Detach(owner) returns. Every method is
// thread-safe (one mutex, never taken on a hot path: cells are updated without it). Callbacks run
// on the reading thread with that mutex held: they must not call the registry, and whatever they
// read must be safe to read from any thread.
//
// Names follow Prometheus' conventions (docs/operations.md): the shoal_ prefix, base units
// (seconds, bytes), _total on counters, labels for dimensions and never for keys or values.
// Declaring the same name twice with a different kind, help or label names is a programming
// error: the process aborts with the name.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics/cells.h"

namespace shoal::metrics {

enum class Kind { kCounter, kGauge, kHistogram };

// (name, value) pairs, in the family's label order.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry final : public prometheus::Collectable {
 public:
  // What a callback emits into: one call per series it reports (label values in the family's
  // label order; summed with the series' cells, if any).
  using Emit = std::function<void(const std::vector<std::string>& label_values, double value)>;
  using Callback = std::function<void(const Emit&)>;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  void AttachCounter(std::string_view name, std::string_view help, const Labels& labels,
                     const Counter& cell, const void* owner);
  void AttachGauge(std::string_view name, std::string_view help, const Labels& labels,
                   const Gauge& cell, const void* owner);
  void AttachHistogram(std::string_view name, std::string_view help, const Labels& labels,
                       const Histogram& cell, const void* owner);
  // Values computed when read (a store's size, a spool's pending hints): counters and gauges.
  void AddCallback(Kind kind, std::string_view name, std::string_view help,
                   std::vector<std::string> label_names, Callback fn, const void* owner);
  // Forgets every cell and callback attached with `owner`; its families stay declared (a
  // family with no series is not exported).
  void Detach(const void* owner);

  // prometheus::Collectable: every family with at least one series, in declaration order.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Collect() in Prometheus' text exposition format (version 0.0.4).
  std::string Text() const;
  // Sum over every series of a counter or gauge family (0 when not declared or empty); for a
  // histogram, its observation count.
  double Total(std::string_view name) const;
  // One series' value (0 when absent).
  double Value(std::string_view name, const std::vector<std::string>& label_values) const;

 private:
  struct Cell {
    std::vector<std::string> label_values;
    const void* cell;
    const void* owner;
  };
  struct Hook {
    Callback fn;
    const void* owner;
  };
  struct Family {
    Kind kind;
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;  // histograms
    std::vector<Cell> cells;
    std::vector<Hook> hooks;
  };
  // One series' summed value.
  struct Sum {
    double value = 0;
    std::vector<uint64_t> buckets;  // histograms: per bucket (not cumulative), +Inf last
    double sum = 0;
  };

  Family& Declare(Kind kind, std::string_view name, std::string_view help,
                  std::vector<std::string> label_names, std::span<const double> bounds);
  void AttachCell(Kind kind, std::string_view name, std::string_view help, const Labels& labels,
                  const void* cell, std::span<const double> bounds, const void* owner);
  // Called with mu_ held.
  std::map<std::vector<std::string>, Sum> SumSeries(const Family& f) const;
  const Family* Find(std::string_view name) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;  // declaration order
};

}  // namespace shoal::metrics
