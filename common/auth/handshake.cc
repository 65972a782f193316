#include "common/auth/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>

namespace shoal::auth {

namespace {

Proof Hmac(std::string_view secret, std::string_view label, std::span<const uint8_t> nonce,
           std::string_view id, std::string_view cluster) {
  std::string message;
  message.reserve(label.size() + nonce.size() + id.size() + cluster.size());
  message.append(label);
  message.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  message.append(id);
  message.append(cluster);
  Proof out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
           &len) == nullptr ||
      len != kProofBytes) {
    // Only an OpenSSL that cannot do SHA-256 gets here: nothing sensible can run.
    spdlog::critical("HMAC-SHA256 failed (OpenSSL)");
    std::abort();
  }
  return out;
}

}  // namespace

Nonce NewNonce() {
  Nonce n{};
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
    spdlog::critical("the system's random number generator failed (RAND_bytes)");
    std::abort();
  }
  return n;
}

Proof NodeProof(std::string_view secret, std::span<const uint8_t> hello_nonce,
                std::string_view node_id, std::string_view cluster) {
  return Hmac(secret, "shoal-node", hello_nonce, node_id, cluster);
}

Proof PeerProof(std::string_view secret, std::span<const uint8_t> challenge,
                std::string_view sender_id, std::string_view cluster) {
  return Hmac(secret, "shoal-peer", challenge, sender_id, cluster);
}

bool ProofMatches(const Proof& expected, std::span<const uint8_t> received) {
  if (received.size() != expected.size()) return false;
  return CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

StatusOr<std::optional<Proof>> AnswerHelloResponse(std::string_view secret, const Nonce& nonce,
                                                   std::string_view sender_id,
                                                   std::string_view cluster,
                                                   const wire::HelloResponse& response) {
  const std::string node =
      response.node_id() != nullptr ? "node '" + response.node_id()->str() + "'" : "the node";
  if (secret.empty()) {
    if (response.auth_required()) {
      return Status::FailedPrecondition(node +
                                        " requires a cluster secret (--cluster-secret-file)");
    }
    return std::optional<Proof>();
  }
  const std::span<const uint8_t> node_proof = AsSpan(response.node_proof());
  if (node_proof.empty()) {
    return Status::FailedPrecondition(
        node + " did not prove the cluster secret (does it run without --cluster-secret-file?)");
  }
  const std::string_view node_id =
      response.node_id() != nullptr ? response.node_id()->string_view() : std::string_view();
  if (!ProofMatches(NodeProof(secret, nonce, node_id, cluster), node_proof)) {
    return Status::FailedPrecondition(node + " holds a different cluster secret");
  }
  if (!response.auth_required()) return std::optional<Proof>();
  return std::optional<Proof>(PeerProof(secret, AsSpan(response.challenge()), sender_id, cluster));
}

}  // namespace shoal::auth
