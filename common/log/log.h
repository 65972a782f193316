#pragma once

// Logging goes through spdlog (SPDLOG_* macros or spdlog::info etc.). InitLogging sets up the
// process logger: stderr, "[time] [level] [name] message". Keys and values never go in logs.

#include <string>

#include "common/status/status.h"

namespace shoal {

// level: trace, debug, info, warn, error, critical, off.
Status InitLogging(const std::string& program, const std::string& level);

}  // namespace shoal
