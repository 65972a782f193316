#pragma once

// Executes the keyed requests of the node protocol (Get, Put, Touch) against one ShardStore and
// encodes their responses. Owned by the shard's thread, like the store; not thread-safe.
//
// Checks that do not need the store (a key is present and not over kMaxKeyBytes, writes carry a
// version, expiries and conditions are in range) are in ValidateKeyedRequest so that the receiving
// thread can refuse a request before handing it to another shard.

#include <cstdint>
#include <span>
#include <string_view>

#include "common/wire/frame.h"
#include "node/store/shard_store.h"
#include "schemas/shoal_generated.h"

namespace shoal::node {

struct KeyedRequest {
  std::string_view key;
  const wire::Version* version = nullptr;  // Put and Touch only
};

// For Get, Put and Touch envelopes: fills `out` and returns nullptr, or returns why the request
// is malformed (a static string for an Error BadRequest). Other message types: "not keyed".
const char* ValidateKeyedRequest(const wire::Envelope& envelope, KeyedRequest* out);

// Whether a node that is not ready (warming up or syncing after an empty start) answers this
// keyed request NotReady: Get and Touch (its state is not an answer yet), and a Put carrying
// if_version_at_most (the condition is judged on state the node has not pulled yet: an empty
// store would apply any of several writes built on one older state). Other Puts are applied.
bool NotReadyRefuses(const wire::Envelope& envelope);

// Encodes an Error frame into `builder`; valid until the builder's next Start().
std::span<const uint8_t> BuildErrorFrame(FrameBuilder& builder, uint64_t request_id,
                                         wire::ErrorCode code, std::string_view message);

class RequestExecutor {
 public:
  explicit RequestExecutor(ShardStore& store) : store_(store) {}

  // Executes a Get, Put or Touch that passed ValidateKeyedRequest (and, for writes, the node's
  // clock check) and returns the response frame, valid until `builder`'s next Start().
  // `ready` is false while the node warms up or syncs on start: a Put is applied all the same and
  // its PutResponse says not_ready (the proxy does not count it toward W).
  std::span<const uint8_t> Execute(const wire::Envelope& envelope, FrameBuilder& builder,
                                   bool ready = true);

 private:
  std::span<const uint8_t> ExecuteGet(uint64_t id, const wire::Get& get, FrameBuilder& builder);
  std::span<const uint8_t> ExecutePut(uint64_t id, const wire::Put& put, FrameBuilder& builder,
                                      bool ready);
  std::span<const uint8_t> ExecuteTouch(uint64_t id, const wire::Touch& touch,
                                        FrameBuilder& builder);

  ShardStore& store_;
};

}  // namespace shoal::node
