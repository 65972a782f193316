#pragma once

// Logging goes through spdlog (SPDLOG_* macros or spdlog::info etc.). InitLogging sets up the
// process logger on stderr, in one of two formats:
//   text: "2026-12-04T05:00:00.123 [info] [shoal-node] message"        (for people)
//   json: {"time":"2026-12-04T05:00:00.123Z","level":"info","logger":"shoal-node","msg":"..."}
//         one object per line, the message JSON-escaped                 (for log pipelines)
// Keys and values never go in logs (a key may be personal data; only counts and ids do).

#include <string>

#include "common/status/status.h"

namespace shoal {

// level: trace, debug, info, warn, error, critical, off. format: text or json.
Status InitLogging(const std::string& program, const std::string& level,
                   const std::string& format = "text");

// Changes the level of the process logger at run time (any thread).
Status SetLogLevel(const std::string& level);
// The current level's name.
std::string LogLevelName();

}  // namespace shoal
