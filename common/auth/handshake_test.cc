#include "common/auth/handshake.h"

#include <gtest/gtest.h>

#include <string>

#include "common/wire/frame.h"

namespace shoal::auth {
namespace {

const std::string kSecret = "correct horse battery staple";

TEST(HandshakeTest, NoncesAreRandom) { EXPECT_NE(NewNonce(), NewNonce()); }

TEST(HandshakeTest, PeerProofRoundTrip) {
  const Nonce challenge = NewNonce();
  const Proof proof = PeerProof(kSecret, challenge, "proxy-1", "prod");
  EXPECT_TRUE(ProofMatches(PeerProof(kSecret, challenge, "proxy-1", "prod"), proof));
}

TEST(HandshakeTest, WrongSecretDoesNotMatch) {
  const Nonce challenge = NewNonce();
  const Proof proof = PeerProof("another secret", challenge, "proxy-1", "prod");
  EXPECT_FALSE(ProofMatches(PeerProof(kSecret, challenge, "proxy-1", "prod"), proof));
}

TEST(HandshakeTest, TamperedNonceDoesNotMatch) {
  Nonce challenge = NewNonce();
  const Proof proof = PeerProof(kSecret, challenge, "proxy-1", "prod");
  challenge[7] ^= 1;
  EXPECT_FALSE(ProofMatches(PeerProof(kSecret, challenge, "proxy-1", "prod"), proof));
}

TEST(HandshakeTest, ProofIsBoundToIdentityClusterAndDirection) {
  const Nonce n = NewNonce();
  const Proof peer = PeerProof(kSecret, n, "a", "prod");
  EXPECT_FALSE(ProofMatches(PeerProof(kSecret, n, "b", "prod"), peer));
  EXPECT_FALSE(ProofMatches(PeerProof(kSecret, n, "a", "test"), peer));
  // A node proof is never a peer proof over the same bytes (no reflection).
  EXPECT_FALSE(ProofMatches(NodeProof(kSecret, n, "a", "prod"), peer));
}

TEST(HandshakeTest, ProofOfAnotherLengthNeverMatches) {
  const Proof p = PeerProof(kSecret, NewNonce(), "a", "prod");
  EXPECT_FALSE(ProofMatches(p, std::span<const uint8_t>(p.data(), p.size() - 1)));
  EXPECT_FALSE(ProofMatches(p, {}));
}

TEST(HandshakeTest, KnownAnswer) {
  // HMAC-SHA256(key="key", "shoal-peer" "" "id" "c"), computed independently:
  //   python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"shoal-peeridc",hashlib.sha256)
  //   .hexdigest())'
  const Proof p = PeerProof("key", {}, "id", "c");
  std::string hex;
  for (uint8_t b : p) {
    char buf[3];
    snprintf(buf, sizeof(buf), "%02x", b);
    hex += buf;
  }
  EXPECT_EQ(hex, "dde1403450cd99d5e554ad00a04aa453f92018a5049c09ff0f542fda266b2f2b");
}

// A HelloResponse as a node would send it.
std::span<const uint8_t> BuildHelloResponse(FrameBuilder& fb, const std::string& node_id,
                                            const Proof* node_proof, const Nonce* challenge,
                                            bool auth_required) {
  auto& b = fb.Start();
  auto id = b.CreateString(node_id);
  auto cluster = b.CreateString("prod");
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> proof = 0, chal = 0;
  if (node_proof != nullptr) proof = b.CreateVector(node_proof->data(), node_proof->size());
  if (challenge != nullptr) chal = b.CreateVector(challenge->data(), challenge->size());
  auto resp = wire::CreateHelloResponse(b, kProtocolVersion, cluster, id, 0, 1, 0, chal, proof,
                                        auth_required);
  return fb.Finish(1, wire::Message::HelloResponse, resp.Union());
}

const wire::HelloResponse& Parse(std::span<const uint8_t> frame) {
  return *wire::GetSizePrefixedEnvelope(frame.data())->message_as_HelloResponse();
}

TEST(HandshakeTest, ClientAcceptsANodeThatProvesTheSecret) {
  const Nonce nonce = NewNonce();
  const Nonce challenge = NewNonce();
  const Proof node_proof = NodeProof(kSecret, nonce, "n1", "prod");
  FrameBuilder fb;
  auto r = AnswerHelloResponse(kSecret, nonce, "proxy-1", "prod",
                               Parse(BuildHelloResponse(fb, "n1", &node_proof, &challenge, true)));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE(ProofMatches(PeerProof(kSecret, challenge, "proxy-1", "prod"), **r));
}

TEST(HandshakeTest, ClientRefusesANodeWithoutOrWithAnotherSecret) {
  const Nonce nonce = NewNonce();
  FrameBuilder fb;
  auto none = AnswerHelloResponse(kSecret, nonce, "p", "prod",
                                  Parse(BuildHelloResponse(fb, "n1", nullptr, nullptr, false)));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("did not prove"), std::string::npos);

  const Proof wrong = NodeProof("other", nonce, "n1", "prod");
  auto other = AnswerHelloResponse(kSecret, nonce, "p", "prod",
                                   Parse(BuildHelloResponse(fb, "n1", &wrong, nullptr, true)));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("different cluster secret"), std::string::npos);

  // A proof made for another node id (an impostor replaying n2's answer) is refused too.
  const Proof for_n2 = NodeProof(kSecret, nonce, "n2", "prod");
  auto replay = AnswerHelloResponse(kSecret, nonce, "p", "prod",
                                    Parse(BuildHelloResponse(fb, "n1", &for_n2, nullptr, true)));
  EXPECT_FALSE(replay.ok());
}

TEST(HandshakeTest, ClientWithoutSecret) {
  const Nonce nonce = NewNonce();
  FrameBuilder fb;
  auto open = AnswerHelloResponse("", nonce, "p", "prod",
                                  Parse(BuildHelloResponse(fb, "n1", nullptr, nullptr, false)));
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());
  auto closed = AnswerHelloResponse("", nonce, "p", "prod",
                                    Parse(BuildHelloResponse(fb, "n1", nullptr, nullptr, true)));
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.status().message().find("requires a cluster secret"), std::string::npos);
}

}  // namespace
}  // namespace shoal::auth
