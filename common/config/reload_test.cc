#include "common/config/reload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal {
namespace {

// One binary's declarations, bound to a struct, as the binaries do.
struct Fields {
  std::string level = "info";
  int64_t timeout_ms = 1000;
  uint64_t memory = 1 << 20;
  std::string password;
};

void Declare(Options& options, Fields* f) {
  options.AddString("log-level", &f->level, "");
  options.AddInt("timeout-ms", &f->timeout_ms, "");
  options.AddSize("max-memory", &f->memory, "");
  options.AddString("requirepass", &f->password, "");
  options.MarkSecret("requirepass");
}

const std::set<std::string, std::less<>> kReloadable = {"log-level", "timeout-ms"};

class ReloadTest : public ::testing::Test {
 protected:
  ReloadTest() : running_("t", ""), fresh_("t", "") {
    Declare(running_, &running_fields_);
    Declare(fresh_, &fresh_fields_);
  }
  Options running_;
  Options fresh_;
  Fields running_fields_;
  Fields fresh_fields_;
};

TEST_F(ReloadTest, NothingChanged) {
  const ReloadPlan plan = PlanReload(running_, fresh_, kReloadable);
  EXPECT_TRUE(plan.applied.empty());
  EXPECT_TRUE(plan.needs_restart.empty());
}

TEST_F(ReloadTest, SplitsChangesIntoAppliedAndNeedingARestart) {
  ASSERT_TRUE(fresh_.LoadYamlString("log_level: debug\nmax_memory: 2mb\nrequirepass: x\n").ok());
  auto plan = Reload(running_, fresh_, Status::Ok(), kReloadable);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->applied, std::vector<std::string>{"log-level"});
  // The secret's change is seen (compared unmasked), and left alone like any restart key.
  EXPECT_EQ(plan->needs_restart, (std::vector<std::string>{"max-memory", "requirepass"}));
  EXPECT_TRUE(plan->Applies("log-level"));
  EXPECT_FALSE(plan->Applies("max-memory"));
  // The applied key is now the running value; the others are not.
  EXPECT_EQ(running_fields_.level, "debug");
  EXPECT_EQ(running_fields_.memory, 1u << 20);
  EXPECT_EQ(running_fields_.password, "");
}

TEST_F(ReloadTest, AnInvalidConfigurationChangesNothing) {
  ASSERT_TRUE(fresh_.LoadYamlString("log_level: debug\ntimeout_ms: 5\n").ok());
  auto plan = Reload(running_, fresh_, Status::InvalidArgument("--timeout-ms: too small"),
                     kReloadable);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), "--timeout-ms: too small");
  EXPECT_EQ(running_fields_.level, "info");
  EXPECT_EQ(running_fields_.timeout_ms, 1000);
}

}  // namespace
}  // namespace shoal
