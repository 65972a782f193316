#include "node/server/listen_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace shoal::node {
namespace {

void CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

TEST(ListenSocketTest, PortZeroGivesEverySocketTheSamePort) {
  uint16_t port = 0;
  auto fds = OpenReusePortListeners({"127.0.0.1", 0}, 3, &port);
  ASSERT_TRUE(fds.ok()) << fds.status().ToString();
  ASSERT_EQ(fds->size(), 3u);
  EXPECT_NE(port, 0);
  for (int fd : *fds) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    EXPECT_EQ(ntohs(addr.sin_port), port);
  }
  CloseAll(*fds);
}

TEST(ListenSocketTest, SecondGroupOnTheSamePortIsRefused) {
  uint16_t port = 0;
  auto first = OpenReusePortListeners({"127.0.0.1", 0}, 2, &port);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  uint16_t second_port = 0;
  auto second = OpenReusePortListeners({"127.0.0.1", port}, 2, &second_port);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("address in use"), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(std::to_string(port)), std::string::npos);
  CloseAll(*first);
  // Once the first group is gone the port is free again.
  auto third = OpenReusePortListeners({"127.0.0.1", port}, 2, &second_port);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(second_port, port);
  CloseAll(*third);
}

TEST(ListenSocketTest, PortTakenByAPlainListenerIsRefused) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  uint16_t port = 0;
  auto fds = OpenReusePortListeners({"127.0.0.1", ntohs(addr.sin_port)}, 2, &port);
  EXPECT_FALSE(fds.ok());
  close(fd);
}

}  // namespace
}  // namespace shoal::node
