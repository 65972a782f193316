#include "common/membership/seeds.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shoal {
namespace {

TEST(SeedsTest, ParsesAListAndNamesTheFlagInErrors) {
  auto seeds = ParseSeedList(" a:7000, b.example:7001 ,[::1]:7002", "--seeds");
  ASSERT_TRUE(seeds.ok()) << seeds.status().ToString();
  ASSERT_EQ(seeds->size(), 3u);
  EXPECT_EQ((*seeds)[1].host, "b.example");
  EXPECT_EQ((*seeds)[1].port, 7001);
  for (const char* bad : {"", " , ", "a", "a:0", "a:99999", "a:7000,b"}) {
    auto r = ParseSeedList(bad, "--seeds");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("--seeds: ", 0), 0u) << r.status().message();
  }
}

TEST(SeedsTest, ANameWithSeveralAddressesIsSeveralSeeds) {
  auto seeds = ParseSeedList("shoal-nodes.default.svc:7000,10.0.0.9:7000,gone:7000", "--seeds");
  ASSERT_TRUE(seeds.ok());
  std::vector<std::string> errors;
  auto resolve = [](const std::string& host) -> StatusOr<std::vector<std::string>> {
    if (host == "shoal-nodes.default.svc") {
      return std::vector<std::string>{"10.0.0.7", "10.0.0.8", "10.0.0.9"};
    }
    if (host == "gone") return Status::Unavailable("Name or service not known");
    return std::vector<std::string>{host};
  };
  EXPECT_EQ(ResolveSeeds(*seeds, &errors, resolve),
            (std::vector<std::string>{"10.0.0.7:7000", "10.0.0.8:7000", "10.0.0.9:7000"}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("gone:7000"), std::string::npos) << errors[0];
}

TEST(SeedsTest, ResolvesRealNames) {
  auto seeds = ParseSeedList("localhost:7000,127.0.0.1:7001", "--seeds");
  ASSERT_TRUE(seeds.ok());
  const auto addresses = ResolveSeeds(*seeds);
  ASSERT_GE(addresses.size(), 2u);
  EXPECT_NE(std::find(addresses.begin(), addresses.end(), "127.0.0.1:7000"), addresses.end());
  EXPECT_EQ(addresses.back(), "127.0.0.1:7001");
}

}  // namespace
}  // namespace shoal
