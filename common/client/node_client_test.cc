#include "common/client/node_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/auth/handshake.h"

namespace shoal::client {
namespace {

// A one-connection fake node on 127.0.0.1 that runs the node's side of the handshake with
// `secret` (as node/server/shard_worker.cc does) and records what it verified.
class FakeNode {
 public:
  explicit FakeNode(std::string secret) : secret_(std::move(secret)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 1), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeNode() {
    thread_.join();
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  bool peer_proved() const { return peer_proved_; }

 private:
  // Reads one whole frame into `buf`; false at EOF.
  static bool ReadFrame(int fd, std::vector<uint8_t>* buf) {
    buf->assign(4, 0);
    if (recv(fd, buf->data(), 4, MSG_WAITALL) != 4) return false;
    uint32_t len = 0;
    std::memcpy(&len, buf->data(), 4);
    buf->resize(4 + len);
    return recv(fd, buf->data() + 4, len, MSG_WAITALL) == static_cast<ssize_t>(len);
  }

  void Serve() {
    const int fd = accept(listen_fd_, nullptr, nullptr);
    std::vector<uint8_t> in;
    FrameBuilder fb;
    const auth::Nonce challenge = auth::NewNonce();
    std::string sender;
    while (ReadFrame(fd, &in)) {
      const wire::Envelope* env = wire::GetSizePrefixedEnvelope(in.data());
      std::span<const uint8_t> out;
      if (const auto* hello = env->message_as_Hello()) {
        sender = hello->sender_id()->str();
        const auth::Proof proof =
            auth::NodeProof(secret_, auth::AsSpan(hello->nonce()), "fake", "shoal");
        auto& b = fb.Start();
        auto resp = wire::CreateHelloResponse(b, kProtocolVersion, b.CreateString("shoal"),
                                              b.CreateString("fake"), 42, 1, 4096,
                                              b.CreateVector(challenge.data(), challenge.size()),
                                              b.CreateVector(proof.data(), proof.size()), true);
        out = fb.Finish(env->request_id(), wire::Message::HelloResponse, resp.Union());
      } else if (const auto* a = env->message_as_Auth()) {
        peer_proved_ = auth::ProofMatches(auth::PeerProof(secret_, challenge, sender, "shoal"),
                                          auth::AsSpan(a->proof()));
        auto& b = fb.Start();
        out = fb.Finish(env->request_id(), wire::Message::AuthResponse,
                        wire::CreateAuthResponse(b, peer_proved_).Union());
      } else {
        break;
      }
      send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }
    close(fd);
  }

  std::string secret_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  bool peer_proved_ = false;
  std::thread thread_;
};

TEST(NodeClientTest, HandshakeWithTheClusterSecret) {
  FakeNode node("the secret");
  {
    auto client = NodeClient::Connect(HostPort{"127.0.0.1", node.port()}, 5000);
    ASSERT_TRUE(client.ok()) << client.status().message();
    auto hello = (*client)->Hello("shoal", "tester", "the secret", 5000);
    ASSERT_TRUE(hello.ok()) << hello.status().message();
    EXPECT_EQ(hello->node_id, "fake");
    EXPECT_EQ(hello->max_hlc, 42u);
    EXPECT_EQ(hello->max_frame_size, 4096u);
  }
  EXPECT_TRUE(node.peer_proved());
}

TEST(NodeClientTest, ANodeWithAnotherSecretIsRefusedBeforeAuth) {
  FakeNode node("another secret");
  {
    auto client = NodeClient::Connect(HostPort{"127.0.0.1", node.port()}, 5000);
    ASSERT_TRUE(client.ok());
    auto hello = (*client)->Hello("shoal", "tester", "the secret", 5000);
    ASSERT_FALSE(hello.ok());
    EXPECT_NE(hello.status().message().find("different cluster secret"), std::string::npos)
        << hello.status().message();
  }
  EXPECT_FALSE(node.peer_proved());
}

}  // namespace
}  // namespace shoal::client
