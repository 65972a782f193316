#pragma once

// Command-line flags and YAML configuration for one binary.
//
// Each option is declared once, with a name, a target variable holding its default, and help.
// Parse() reads `--config FILE` first (a flat YAML map; keys are option names, with '-' or '_'),
// then applies every flag on top, so a flag overrides the file and the file overrides defaults.
// Flags are `--name value` or `--name=value`; a bool flag alone means true.
//
//   Options opts("shoal-node", "Shoal storage node");
//   opts.AddString("listen", &cfg.listen, "HOST:PORT of the node protocol");
//   opts.AddSize("max-memory", &cfg.max_memory, "memory limit, e.g. 64mb, 2gb");
//   Status s = opts.Parse(argc, argv);   // on --help, s is ok() and help_requested() is true

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.h"

namespace shoal {

// "64mb", "2gb", "512k", "1024", "1.5g" (binary multiples: k=1024). Case-insensitive.
StatusOr<uint64_t> ParseSize(std::string_view text);

// "HOST:PORT" or "[v6]:PORT"; port 0..65535.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};
StatusOr<HostPort> ParseHostPort(std::string_view text);

class Options {
 public:
  Options(std::string program, std::string description)
      : program_(std::move(program)), description_(std::move(description)) {}

  void AddString(std::string name, std::string* target, std::string help);
  void AddInt(std::string name, int64_t* target, std::string help);
  void AddSize(std::string name, uint64_t* target, std::string help);
  void AddBool(std::string name, bool* target, std::string help);

  // Parses `--config FILE` (if given) and then all flags. Positional (non-flag) arguments are
  // collected into positional(). Errors name the offending flag or key.
  Status Parse(int argc, const char* const* argv);

  // Applies a YAML file's keys (used by Parse; exposed for tests).
  Status LoadYamlFile(const std::string& path);
  Status LoadYamlString(const std::string& text, const std::string& source = "config");
  // Sets one option from its textual value. Thread-safe against Values() (both lock), so that a
  // reload may change a value an admin thread is showing.
  Status Set(std::string_view name, std::string_view value, std::string_view source);

  // An option whose value Values() masks (a password); the flag and its help are unchanged.
  void MarkSecret(std::string_view name);
  // Every option's current value as text (name, value), in declaration order, with the secret
  // ones masked ("<set>" when not empty): the effective configuration an admin endpoint shows.
  // `masked` false shows the secrets too (for comparing two configurations, never for output).
  std::vector<std::pair<std::string, std::string>> Values(bool masked = true) const;
  bool IsSecret(std::string_view name) const;
  // The --config FILE given to Parse ("" when none): what a reload re-reads.
  const std::string& config_path() const { return config_path_; }

  bool help_requested() const { return help_requested_; }
  bool check_config_requested() const { return check_config_; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Usage() const;

 private:
  struct Option {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<Status(std::string_view)> set;
    std::function<std::string()> get;
    bool secret = false;
  };
  Option* Find(std::string_view name);
  const Option* Find(std::string_view name) const;

  std::string program_;
  std::string description_;
  std::vector<Option> options_;
  std::vector<std::string> positional_;
  std::string config_path_;
  bool help_requested_ = false;
  bool check_config_ = false;
  mutable std::mutex mu_;  // the targets' values, between Set() and Values()
};

}  // namespace shoal
