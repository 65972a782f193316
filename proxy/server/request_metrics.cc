#include "proxy/server/request_metrics.h"

#include <array>
#include <cctype>
#include <string>

namespace shoal::proxy {

namespace {

constexpr size_t kResults = 3;  // ok, error, noquorum
constexpr size_t kLevels = 4;   // one, quorum, all, none
constexpr const char* kResultNames[kResults] = {"ok", "error", "noquorum"};
constexpr const char* kClassNames[3] = {"read", "write", "other"};

// CommandId -> spec (nullptr for ids with none).
const CommandSpec* SpecOf(uint8_t command) {
  static const auto table = [] {
    std::array<const CommandSpec*, 256> t{};
    for (const CommandSpec& spec : AllCommands()) t[static_cast<uint8_t>(spec.id)] = &spec;
    return t;
  }();
  return table[command];
}

bool IsKeyCommand(const CommandSpec* spec) { return spec != nullptr && spec->first_key > 0; }

metrics::Labels RequestLabels(size_t index) {
  const size_t result = index % kResults;
  const size_t level = (index / kResults) % kLevels;
  const uint8_t command = static_cast<uint8_t>(index / (kResults * kLevels));
  const CommandSpec* spec = SpecOf(command);
  const std::string name = spec != nullptr ? std::string(spec->name) : "unknown";
  const std::string consistency =
      level < 3 ? std::string(ConsistencyName(static_cast<Consistency>(level))) : "none";
  std::string lower = consistency;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return {{"command", name}, {"consistency", lower}, {"result", kResultNames[result]}};
}

}  // namespace

RequestMetrics::RequestMetrics(metrics::Registry& registry)
    : requests_(registry, "shoal_proxy_requests_total",
                "Client commands answered, by command, consistency level and result.",
                256 * kLevels * kResults, &RequestLabels),
      latency_(
          registry, "shoal_proxy_request_duration_seconds",
          "Time from a command's parsing to its final reply, by command class.", 3,
          [](size_t i) {
            return metrics::Labels{{"class", kClassNames[i]}};
          },
          metrics::kLatencySeconds) {}

uint8_t RequestMetrics::ConsistencyOf(CommandId command, Consistency read, Consistency write) {
  const CommandSpec* spec = SpecOf(static_cast<uint8_t>(command));
  if (!IsKeyCommand(spec)) return kNoConsistency;
  return static_cast<uint8_t>(spec->write ? write : read);
}

void RequestMetrics::Record(uint8_t command, uint8_t consistency, std::string_view reply,
                            double seconds) {
  size_t result = 0;
  if (!reply.empty() && reply[0] == '-') result = reply.starts_with("-NOQUORUM") ? 2 : 1;
  requests_[(static_cast<size_t>(command) * kLevels + consistency) * kResults + result].Inc();
  const CommandSpec* spec = SpecOf(command);
  const size_t cls = !IsKeyCommand(spec) ? 2 : (spec->write ? 1 : 0);
  latency_[cls].Observe(seconds);
}

}  // namespace shoal::proxy
