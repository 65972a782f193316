#include "common/auth/cluster_secret.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace shoal::auth {
namespace {

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/cluster_secret_test_" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(ClusterSecretTest, LoadsAndDropsTrailingNewlines) {
  auto s = LoadClusterSecret(WriteFile("ok", "s3cret value\r\n\n"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(*s, "s3cret value");
}

TEST(ClusterSecretTest, KeepsOtherBytes) {
  auto s = LoadClusterSecret(WriteFile("bytes", std::string(" a\0b ", 5)));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, std::string(" a\0b ", 5));
}

TEST(ClusterSecretTest, MissingFileIsAClearError) {
  auto s = LoadClusterSecret("/nonexistent/dir/secret");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("cannot read cluster secret file '/nonexistent/dir/secret'"),
            std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("No such file"), std::string::npos);
}

TEST(ClusterSecretTest, EmptySecretIsRefused) {
  for (const char* contents : {"", "\n", "\r\n\n"}) {
    auto s = LoadClusterSecret(WriteFile("empty", contents));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("is empty"), std::string::npos) << s.status().message();
  }
}

TEST(ClusterSecretTest, DirectoryAndHugeFileAreRefused) {
  auto dir = LoadClusterSecret(::testing::TempDir());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("Is a directory"), std::string::npos);
  auto huge = LoadClusterSecret(WriteFile("huge", std::string(kMaxClusterSecretBytes + 1, 'x')));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("longer than"), std::string::npos);
  auto max = LoadClusterSecret(WriteFile("max", std::string(kMaxClusterSecretBytes, 'x')));
  EXPECT_TRUE(max.ok());
}

}  // namespace
}  // namespace shoal::auth
