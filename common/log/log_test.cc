#include "common/log/log.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace shoal {
namespace {

TEST(LogTest, SetsTheDefaultLoggerAndLevel) {
  ASSERT_TRUE(InitLogging("log-test", "warn").ok());
  EXPECT_EQ(spdlog::default_logger()->name(), "log-test");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  ASSERT_TRUE(InitLogging("log-test-2", "debug").ok());
  EXPECT_EQ(spdlog::default_logger()->name(), "log-test-2");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
}

TEST(LogTest, AcceptsEveryDocumentedLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_TRUE(InitLogging("log-test", level).ok()) << level;
  }
}

TEST(LogTest, RejectsAnUnknownLevel) {
  const Status s = InitLogging("log-test", "loud");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("loud"), std::string::npos) << s.ToString();
}

TEST(LogTest, CallingTwiceWithTheSameNameIsFine) {
  ASSERT_TRUE(InitLogging("log-test-again", "info").ok());
  // spdlog throws when a logger name is registered twice; a reload must not.
  const Status s = InitLogging("log-test-again", "error");
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::err);
}

}  // namespace
}  // namespace shoal
