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

TEST(LogTest, JsonFormatWritesOneEscapedObjectPerLine) {
  ASSERT_TRUE(InitLogging("log-json", "info", "json").ok());
  testing::internal::CaptureStderr();
  spdlog::info("a \"quoted\" word\nand a second line");
  spdlog::debug("not shown at info");
  spdlog::default_logger()->flush();
  const std::string out = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;  // one line
  EXPECT_EQ(out.rfind("{\"time\":\"", 0), 0u) << out;
  EXPECT_NE(out.find("Z\",\"level\":\"info\",\"logger\":\"log-json\",\"thread\":"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"msg\":\"a \\\"quoted\\\" word\\nand a second line\"}\n"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("not shown"), std::string::npos);
}

TEST(LogTest, RejectsAnUnknownFormat) {
  const Status s = InitLogging("log-test", "info", "xml");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("xml"), std::string::npos) << s.ToString();
}

TEST(LogTest, LevelChangesAtRunTime) {
  ASSERT_TRUE(InitLogging("log-level", "info").ok());
  ASSERT_TRUE(SetLogLevel("debug").ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  EXPECT_EQ(LogLevelName(), "debug");
  EXPECT_FALSE(SetLogLevel("loud").ok());
  EXPECT_EQ(LogLevelName(), "debug");  // unchanged by a bad one
}

}  // namespace
}  // namespace shoal
