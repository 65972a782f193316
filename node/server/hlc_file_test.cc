#include "node/server/hlc_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace shoal::node {
namespace {

class HlcFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hlc_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(HlcFileTest, MissingFileReadsAsZero) {
  auto v = ReadHlcFile(HlcFilePath(dir_));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 0u);
}

TEST_F(HlcFileTest, RoundTripAndReplace) {
  const std::string path = HlcFilePath(dir_);
  ASSERT_TRUE(WriteHlcFile(path, 117686269875453952ull).ok());
  EXPECT_EQ(*ReadHlcFile(path), 117686269875453952ull);
  ASSERT_TRUE(WriteHlcFile(path, 18446744073709551615ull).ok());
  EXPECT_EQ(*ReadHlcFile(path), 18446744073709551615ull);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(HlcFileTest, GarbageIsAnError) {
  const std::string path = HlcFilePath(dir_);
  for (const char* text : {"", "abc\n", "12x\n", "-5\n", "99999999999999999999999\n"}) {
    std::ofstream(path, std::ios::trunc) << text;
    EXPECT_FALSE(ReadHlcFile(path).ok()) << "'" << text << "'";
  }
}

TEST_F(HlcFileTest, UnwritableDirectoryIsAnError) {
  EXPECT_FALSE(WriteHlcFile(dir_ + "/no/such/dir/hlc", 5).ok());
}

}  // namespace
}  // namespace shoal::node
