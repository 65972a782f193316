#pragma once

// The cluster-secret handshake of the node protocol (schemas/shoal.fbs, Hello / HelloResponse /
// Auth). Both sides prove that they know the cluster secret without sending it:
//
//   peer                                     node
//   Hello{nonce = N}                    →
//                                       ←    HelloResponse{challenge = C, auth_required,
//                                                          node_proof = NodeProof(N, node_id)}
//   checks node_proof (ProofMatches)
//   Auth{proof = PeerProof(C, sender_id)} →  checks it; AuthResponse{ok} or
//                                       ←    Error{Unauthenticated} and the connection closes
//
//   NodeProof = HMAC-SHA256(secret, "shoal-node" | N | node_id   | cluster)
//   PeerProof = HMAC-SHA256(secret, "shoal-peer" | C | sender_id | cluster)
//
// The labels keep a node proof from being replayed as a peer proof (and back); fresh random
// nonces on both sides keep a recorded proof from being replayed on another connection. The
// handshake authenticates, it does not encrypt: a secret-holding man in the middle is out of
// scope, as is an eavesdropper reading values (use a private network or a tunnel).
//
// Pure functions of their arguments; thread-safe. OpenSSL's libcrypto does the HMAC and the
// random bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/status/status.h"
#include "schemas/shoal_generated.h"

namespace shoal::auth {

inline constexpr size_t kNonceBytes = 16;
inline constexpr size_t kProofBytes = 32;  // SHA-256

using Nonce = std::array<uint8_t, kNonceBytes>;
using Proof = std::array<uint8_t, kProofBytes>;

// kNonceBytes from the system's CSPRNG (RAND_bytes). A CSPRNG that fails is unrecoverable: the
// process logs it and aborts (nothing may run with predictable nonces).
Nonce NewNonce();

// The node's proof for the peer's Hello.nonce.
Proof NodeProof(std::string_view secret, std::span<const uint8_t> hello_nonce,
                std::string_view node_id, std::string_view cluster);

// The peer's proof for the node's HelloResponse.challenge.
Proof PeerProof(std::string_view secret, std::span<const uint8_t> challenge,
                std::string_view sender_id, std::string_view cluster);

// Whether `received` equals `expected`, in time independent of where they differ
// (CRYPTO_memcmp). A received proof of another length never matches.
bool ProofMatches(const Proof& expected, std::span<const uint8_t> received);

// The peer's side of a HelloResponse, for a client that sent Hello{nonce, sender_id, cluster}.
//   secret empty: the node must not require Auth (FailedPrecondition "... needs a cluster
//     secret"); returns nullopt (send no Auth).
//   secret set:   the node must prove the secret (a node without one, or with another secret, is
//     refused: FailedPrecondition naming the node); returns the proof to send in Auth when the
//     node asks for it (auth_required), nullopt otherwise.
StatusOr<std::optional<Proof>> AnswerHelloResponse(std::string_view secret, const Nonce& nonce,
                                                   std::string_view sender_id,
                                                   std::string_view cluster,
                                                   const wire::HelloResponse& response);

inline std::span<const uint8_t> AsSpan(const flatbuffers::Vector<uint8_t>* v) {
  if (v == nullptr) return {};
  return {v->data(), v->size()};
}

}  // namespace shoal::auth
