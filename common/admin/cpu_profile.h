#pragma once

// CPU profiles of the running process, in the format pprof reads (gperftools' profiler,
// Debian libgoogle-perftools-dev; read with `google-pprof BINARY FILE`). The admin endpoint serves
// them (GET /debug/pprof/profile?seconds=N), so a slow production process is profiled in place.
//
// The profiler samples every thread's CPU time (SIGPROF, 100 per second by default). One profile
// at a time per process: a second caller while one runs gets Unavailable. Any thread; blocks the
// caller for the duration.

#include <string>

#include "common/status/status.h"

namespace shoal::admin {

inline constexpr int kMaxProfileSeconds = 60;

// Profiles the process for `seconds` (1..kMaxProfileSeconds) and returns the profile's bytes.
// Errors: InvalidArgument (seconds out of range), Unavailable (a profile is running already, or
// the profiler could not start: its temporary file in $TMPDIR or /tmp cannot be made).
StatusOr<std::string> CaptureCpuProfile(int seconds);

// Ends the profiles running now and any later one at once (what was sampled so far is returned):
// the process is shutting down (AdminServer::Stop() calls it before waiting for its handlers).
void CancelCpuProfiles();

}  // namespace shoal::admin
