#pragma once

// LazyCells: one thread's cells of a labelled family, indexed by a small integer (a command id, a
// message type, a (command, consistency, result) combination), each attached to the registry
// the first time it is used. The first use of an index takes the registry's mutex once (never
// again for that index); later ones are a plain cell update. Series nobody used are not
// exported, so a family with many possible label combinations stays small.
//
// Owner thread only (like any cell). Destruction detaches the cells (the registry must outlive
// this object).

#include <deque>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/metrics/registry.h"

namespace shoal::metrics {

template <class Cell>
class LazyCells {
 public:
  using LabelsOf = std::function<Labels(size_t index)>;
  // Histograms: `bounds` in static storage (cells.h); ignored for counters and gauges.
  LazyCells(Registry& registry, std::string name, std::string help, size_t size, LabelsOf labels_of,
            std::span<const double> bounds = {})
      : registry_(registry),
        name_(std::move(name)),
        help_(std::move(help)),
        labels_of_(std::move(labels_of)),
        bounds_(bounds),
        cells_(size, nullptr) {}
  ~LazyCells() { registry_.Detach(this); }
  LazyCells(const LazyCells&) = delete;
  LazyCells& operator=(const LazyCells&) = delete;

  // The cell of `index` (< size), attached on first use.
  Cell& operator[](size_t index) {
    Cell* c = cells_[index];
    return c != nullptr ? *c : Create(index);
  }

 private:
  Cell& Create(size_t index) {
    Cell* c;
    if constexpr (std::is_same_v<Cell, Histogram>) {
      c = &storage_.emplace_back(bounds_);
      registry_.AttachHistogram(name_, help_, labels_of_(index), *c, this);
    } else if constexpr (std::is_same_v<Cell, Counter>) {
      c = &storage_.emplace_back();
      registry_.AttachCounter(name_, help_, labels_of_(index), *c, this);
    } else {
      c = &storage_.emplace_back();
      registry_.AttachGauge(name_, help_, labels_of_(index), *c, this);
    }
    cells_[index] = c;
    return *c;
  }

  Registry& registry_;
  const std::string name_;
  const std::string help_;
  const LabelsOf labels_of_;
  const std::span<const double> bounds_;
  std::vector<Cell*> cells_;
  std::deque<Cell> storage_;  // stable addresses
};

}  // namespace shoal::metrics
