#include "common/admin/cpu_profile.h"

#include <gperftools/profiler.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>

namespace shoal::admin {

namespace {

std::mutex profiling;  // held for a whole profile: one at a time

std::mutex cancel_mu;
std::condition_variable cancel_cv;
bool cancelled = false;

}  // namespace

void CancelCpuProfiles() {
  std::lock_guard<std::mutex> lock(cancel_mu);
  cancelled = true;
  cancel_cv.notify_all();
}

StatusOr<std::string> CaptureCpuProfile(int seconds) {
  if (seconds < 1 || seconds > kMaxProfileSeconds) {
    return Status::InvalidArgument("seconds must be 1 to " + std::to_string(kMaxProfileSeconds));
  }
  std::unique_lock<std::mutex> lock(profiling, std::try_to_lock);
  if (!lock.owns_lock()) return Status::Unavailable("a CPU profile is being taken already");
  const char* dir = std::getenv("TMPDIR");
  std::string path =
      std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/shoal-cpu-profile-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) return Status::Unavailable("cannot create a temporary file for the profile");
  ::close(fd);
  // ProfilerStart refuses while another profile runs (e.g. one started through CPUPROFILE).
  if (ProfilerStart(path.c_str()) == 0) {
    ::unlink(path.c_str());
    return Status::Unavailable("the CPU profiler did not start (is CPUPROFILE set?)");
  }
  {
    std::unique_lock<std::mutex> wait(cancel_mu);
    cancel_cv.wait_for(wait, std::chrono::seconds(seconds), [] { return cancelled; });
  }
  ProfilerStop();  // flushes and closes the file
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path.c_str());
  if (bytes.empty()) return Status::Unavailable("the CPU profiler wrote nothing");
  return bytes;
}

}  // namespace shoal::admin
