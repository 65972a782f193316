#include "common/config/options.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace shoal {

namespace {

std::string Normalize(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

// <cctype> functions take an unsigned char value: a plain (signed) char above 0x7f is UB.
char LowerAscii(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool ParseBoolText(std::string_view v, bool* out) {
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), LowerAscii);
  if (s == "true" || s == "yes" || s == "on" || s == "1") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "no" || s == "off" || s == "0") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace

StatusOr<uint64_t> ParseSize(std::string_view text) {
  std::string s(text);
  s.erase(std::remove_if(s.begin(), s.end(), IsSpace), s.end());
  std::transform(s.begin(), s.end(), s.begin(), LowerAscii);
  if (s.empty()) return Status::InvalidArgument("empty size");
  size_t digits = 0;
  while (digits < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return Status::InvalidArgument("bad size '" + std::string(text) + "'");
  const std::string number = s.substr(0, digits);
  std::string unit = s.substr(digits);
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();  // "64mb" == "64m"; "100b" == "100"
  uint64_t mult = 0;
  for (const auto& [name, bytes] : {std::pair<std::string_view, uint64_t>{"", 1},
                                    {"k", 1ull << 10},
                                    {"m", 1ull << 20},
                                    {"g", 1ull << 30},
                                    {"t", 1ull << 40}}) {
    if (unit == name) mult = bytes;
  }
  if (mult == 0) return Status::InvalidArgument("bad size unit in '" + std::string(text) + "'");
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value) || value < 0) {
    return Status::InvalidArgument("bad size '" + std::string(text) + "'");
  }
  const double bytes = value * static_cast<double>(mult);
  if (bytes > 1.8e19) return Status::InvalidArgument("size too large '" + std::string(text) + "'");
  return static_cast<uint64_t>(bytes);
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

StatusOr<HostPort> ParseHostPort(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("expected HOST:PORT, got '" + std::string(text) + "'");
  }
  HostPort hp;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // "[]:80" has no host, and a bracket left over ("[::1:80", "a]:80") means a mangled address.
  if (host.empty() || host.find_first_of("[]") != std::string_view::npos) {
    return Status::InvalidArgument("bad host in '" + std::string(text) + "'");
  }
  hp.host = std::string(host);
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument("bad port in '" + std::string(text) + "'");
  }
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

void Options::AddString(std::string name, std::string* target, std::string help) {
  options_.push_back({std::move(name), std::move(help), *target, false,
                      [target](std::string_view v) {
                        *target = std::string(v);
                        return Status::Ok();
                      },
                      [target] { return *target; }});
}

void Options::AddInt(std::string name, int64_t* target, std::string help) {
  const std::string n = name;
  options_.push_back({std::move(name), std::move(help), std::to_string(*target), false,
                      [target, n](std::string_view v) {
                        int64_t value = 0;
                        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
                        if (ec != std::errc() || ptr != v.data() + v.size()) {
                          return Status::InvalidArgument("--" + n + " expects an integer, got '" +
                                                         std::string(v) + "'");
                        }
                        *target = value;
                        return Status::Ok();
                      },
                      [target] { return std::to_string(*target); }});
}

void Options::AddSize(std::string name, uint64_t* target, std::string help) {
  const std::string n = name;
  options_.push_back({std::move(name), std::move(help), std::to_string(*target), false,
                      [target, n](std::string_view v) {
                        auto size = ParseSize(v);
                        if (!size.ok()) {
                          return Status::InvalidArgument("--" + n + ": " + size.status().message());
                        }
                        *target = *size;
                        return Status::Ok();
                      },
                      [target] { return std::to_string(*target); }});
}

void Options::AddBool(std::string name, bool* target, std::string help) {
  const std::string n = name;
  options_.push_back({std::move(name), std::move(help), *target ? "true" : "false", true,
                      [target, n](std::string_view v) {
                        if (!ParseBoolText(v, target)) {
                          return Status::InvalidArgument(
                              "--" + n + " expects true or false, got '" + std::string(v) + "'");
                        }
                        return Status::Ok();
                      },
                      [target] { return std::string(*target ? "true" : "false"); }});
}

void Options::MarkSecret(std::string_view name) {
  if (Option* o = Find(name)) o->secret = true;
}

std::vector<std::pair<std::string, std::string>> Options::Values(bool masked) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& o : options_) {
    std::string value = o.get ? o.get() : "";
    if (masked && o.secret && !value.empty()) value = "<set>";
    out.emplace_back(o.name, std::move(value));
  }
  return out;
}

bool Options::IsSecret(std::string_view name) const {
  const Option* o = Find(name);
  return o != nullptr && o->secret;
}

const Options::Option* Options::Find(std::string_view name) const {
  const std::string n = Normalize(name);
  for (auto& o : options_) {
    if (o.name == n) return &o;
  }
  return nullptr;
}

Options::Option* Options::Find(std::string_view name) {
  return const_cast<Option*>(static_cast<const Options*>(this)->Find(name));
}

Status Options::Set(std::string_view name, std::string_view value, std::string_view source) {
  Option* o = Find(name);
  if (o == nullptr) {
    return Status::InvalidArgument(std::string(source) + ": unknown option '" + std::string(name) +
                                   "'");
  }
  std::lock_guard<std::mutex> lock(mu_);
  return o->set(value);
}

namespace {

// Sets the options of a YAML map of option: value. May throw YAML::Exception.
Status LoadYamlMap(Options& options, const YAML::Node& root, const std::string& source) {
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) {
      return Status::InvalidArgument(source +
                                     ": option names must be plain scalars, not lists or maps");
    }
    const std::string key = kv.first.Scalar();
    std::string value;
    if (kv.second.IsScalar()) {
      value = kv.second.Scalar();
    } else if (kv.second.IsSequence()) {
      // A list is joined with commas (e.g. nodes: [a=h:1, b=h:2]).
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) {
          return Status::InvalidArgument(source + ": '" + key + "' must be a list of scalars");
        }
        if (!value.empty()) value += ",";
        value += item.Scalar();
      }
    } else {
      return Status::InvalidArgument(source + ": '" + key + "' must be a scalar or a list");
    }
    Status s = options.Set(key, value, source);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status Options::LoadYamlString(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return Status::InvalidArgument(source + ": expected a map of option: value");
  // yaml-cpp throws on conversions (and on nodes it cannot walk); none may escape a config load.
  try {
    return LoadYamlMap(*this, root, source);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
}

Status Options::LoadYamlFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::IOError("cannot read config file '" + path + "'");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  return LoadYamlString(YAML::Dump(root), path);
}

Status Options::Parse(int argc, const char* const* argv) {
  // Pass 1: the config file, so that flags override it whatever their order.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config") {
      if (i + 1 >= argc) return Status::InvalidArgument("--config needs a FILE");
      config_path_ = argv[i + 1];
      Status s = LoadYamlFile(argv[i + 1]);
      if (!s.ok()) return s;
      ++i;
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path_ = std::string(arg.substr(9));
      Status s = LoadYamlFile(config_path_);
      if (!s.ok()) return s;
    }
  }
  // Pass 2: flags.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg == "--check-config") {
      check_config_ = true;
      continue;
    }
    if (arg == "--config") {
      ++i;
      continue;
    }
    if (arg.rfind("--config=", 0) == 0) continue;
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      positional_.emplace_back(arg);
      continue;
    }
    std::string_view body = arg.substr(2);
    std::string_view name = body;
    std::string_view value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    Option* o = Find(name);
    if (o == nullptr) return Status::InvalidArgument("unknown flag --" + std::string(name));
    if (!has_value) {
      if (o->is_bool && (i + 1 >= argc || !ParseBoolText(argv[i + 1], &has_value))) {
        value = "true";
      } else if (o->is_bool) {
        value = argv[++i];
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Status::InvalidArgument("flag --" + std::string(name) + " needs a value");
      }
    }
    Status s = o->set(value);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

std::string Options::Usage() const {
  std::string out =
      program_ + " - " + description_ + "\n\nOptions (each also a YAML key in --config FILE):\n";
  out += "  --config FILE        read options from a YAML file (flags override it)\n";
  out += "  --check-config       validate the configuration and exit\n";
  out += "  --help               show this help\n";
  for (const auto& o : options_) {
    std::string line = "  --" + o.name + (o.is_bool ? "" : " VALUE");
    if (line.size() < 22)
      line.resize(22, ' ');
    else
      line += " ";
    out += line + o.help;
    if (!o.default_text.empty()) out += " (default: " + o.default_text + ")";
    out += "\n";
  }
  return out;
}

}  // namespace shoal
