#include "common/status/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace shoal {
namespace {

TEST(StatusTest, DefaultIsOk) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
}

TEST(StatusTest, NamedConstructorsCarryCodeAndMessage) {
  struct Case {
    Status status;
    Status::Code code;
    const char* text;
  };
  const std::vector<Case> cases = {
      {Status::NotFound("m"), Status::Code::kNotFound, "NotFound: m"},
      {Status::InvalidArgument("bad size '12qb'"), Status::Code::kInvalidArgument,
       "InvalidArgument: bad size '12qb'"},
      {Status::Corruption("m"), Status::Code::kCorruption, "Corruption: m"},
      {Status::IOError("m"), Status::Code::kIOError, "IOError: m"},
      {Status::Unavailable("m"), Status::Code::kUnavailable, "Unavailable: m"},
      {Status::Timeout("m"), Status::Code::kTimeout, "Timeout: m"},
      {Status::ResourceExhausted("m"), Status::Code::kResourceExhausted, "ResourceExhausted: m"},
      {Status::FailedPrecondition("m"), Status::Code::kFailedPrecondition, "FailedPrecondition: m"},
      {Status::Internal("m"), Status::Code::kInternal, "Internal: m"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.text;
    EXPECT_EQ(c.status.code(), c.code) << c.text;
    EXPECT_EQ(c.status.ToString(), c.text);
  }
  EXPECT_EQ(Status::InvalidArgument("bad size '12qb'").message(), "bad size '12qb'");
}

TEST(StatusTest, ErrorWithAnEmptyMessageIsStillAnError) {
  const Status s = Status::Internal("");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "Internal: ");
}

TEST(StatusTest, CopiesAndMovesKeepTheError) {
  const Status original = Status::Timeout("after 250ms");
  Status copy = original;
  EXPECT_EQ(copy.code(), Status::Code::kTimeout);
  EXPECT_EQ(copy.message(), "after 250ms");
  Status moved = std::move(copy);
  EXPECT_EQ(moved.ToString(), "Timeout: after 250ms");
  moved = Status::Ok();
  EXPECT_TRUE(moved.ok());
  EXPECT_EQ(moved.message(), "");
}

TEST(StatusOrTest, HoldsAValue) {
  StatusOr<int> v = 42;
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v.status().ok());
  EXPECT_EQ(v.value(), 42);
  EXPECT_EQ(*v, 42);
  *v = 7;
  EXPECT_EQ(v.value(), 7);
}

TEST(StatusOrTest, HoldsAnError) {
  StatusOr<int> v = Status::NotFound("no such key");
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(v.status().message(), "no such key");
}

StatusOr<std::string> Greeting(bool fail) {
  if (fail) return Status::Unavailable("no node");
  return std::string("hello");
}

TEST(StatusOrTest, ReturnedFromFunctions) {
  auto good = Greeting(false);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->size(), 5u);
  EXPECT_EQ(*good, "hello");
  auto bad = Greeting(true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().ToString(), "Unavailable: no node");
}

TEST(StatusOrTest, MoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> v = std::make_unique<int>(5);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(**v, 5);
  std::unique_ptr<int> taken = std::move(v).value();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(*taken, 5);
}

TEST(StatusOrTest, ValueThatLooksLikeFalseIsStillOk) {
  StatusOr<bool> b = false;
  EXPECT_TRUE(b.ok());
  EXPECT_FALSE(*b);
  StatusOr<std::string> empty = std::string();
  EXPECT_TRUE(empty.ok());
}

#ifndef NDEBUG
TEST(StatusOrDeathTest, BuildingFromOkStatusWithoutAValueAsserts) {
  EXPECT_DEATH({ StatusOr<int> v = Status::Ok(); }, "without a value");
}
TEST(StatusOrDeathTest, ReadingTheValueOfAnErrorAsserts) {
  StatusOr<int> v = Status::Internal("x");
  EXPECT_DEATH({ (void)v.value(); }, "ok\\(\\)");
}
#endif

}  // namespace
}  // namespace shoal
