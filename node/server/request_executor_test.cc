#include "node/server/request_executor.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock/clock.h"

namespace shoal::node {
namespace {

// Builds request frames and decodes response frames, as a peer would.
class RequestExecutorTest : public ::testing::Test {
 protected:
  RequestExecutorTest() : store_(clock_, 1 << 20, 60'000), executor_(store_) {}

  // Copies the frame last built in `request_builder_` (a request) into owned bytes.
  const wire::Envelope& Request(std::span<const uint8_t> frame) {
    request_bytes_.assign(frame.begin(), frame.end());
    DecodedFrame decoded;
    EXPECT_EQ(
        DecodeFrame(request_bytes_.data(), request_bytes_.size(), kDefaultMaxFrameBytes, &decoded),
        FrameStatus::kOk);
    return *decoded.envelope;
  }

  const wire::Envelope& Execute(std::span<const uint8_t> request_frame) {
    const wire::Envelope& request = Request(request_frame);
    KeyedRequest keyed;
    EXPECT_EQ(ValidateKeyedRequest(request, &keyed), nullptr);
    auto response = executor_.Execute(request, response_builder_);
    response_bytes_.assign(response.begin(), response.end());
    DecodedFrame decoded;
    EXPECT_EQ(DecodeFrame(response_bytes_.data(), response_bytes_.size(), kDefaultMaxFrameBytes,
                          &decoded),
              FrameStatus::kOk);
    EXPECT_EQ(decoded.frame_bytes, response_bytes_.size());
    EXPECT_EQ(decoded.envelope->request_id(), request.request_id());
    return *decoded.envelope;
  }

  std::span<const uint8_t> PutFrame(uint64_t id, std::string_view key, std::string_view value,
                                    uint64_t hlc, uint64_t expire_at_ms = 0, bool tombstone = false,
                                    bool want_previous = false) {
    auto& b = request_builder_.Start();
    const wire::Version version(hlc, 7);
    auto put = wire::CreatePut(b, Bytes(b, key), Bytes(b, value), &version, expire_at_ms, tombstone,
                               wire::PutCondition::Always, false, want_previous);
    return request_builder_.Finish(id, wire::Message::Put, put.Union());
  }

  std::span<const uint8_t> GetFrame(uint64_t id, std::string_view key, bool want_value = true) {
    auto& b = request_builder_.Start();
    auto get = wire::CreateGet(b, Bytes(b, key), want_value);
    return request_builder_.Finish(id, wire::Message::Get, get.Union());
  }

  FakeClock clock_;
  ShardStore store_;
  RequestExecutor executor_;
  FrameBuilder request_builder_;
  FrameBuilder response_builder_;
  std::vector<uint8_t> request_bytes_;
  std::vector<uint8_t> response_bytes_;
};

// A node warming up or syncing refuses reads and conditional puts (it cannot judge the
// condition on state it has not pulled yet) and applies other puts.
TEST_F(RequestExecutorTest, NotReadyRefusesReadsAndConditionalPutsOnly) {
  EXPECT_TRUE(NotReadyRefuses(Request(GetFrame(1, "k"))));
  EXPECT_FALSE(NotReadyRefuses(Request(PutFrame(2, "k", "v", 100))));
  auto& b = request_builder_.Start();
  const wire::Version version(200, 7), at_most(100, 7);
  auto put = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "v2"), &version, 0, false,
                             wire::PutCondition::Always, false, false, nullptr, &at_most);
  EXPECT_TRUE(
      NotReadyRefuses(Request(request_builder_.Finish(3, wire::Message::Put, put.Union()))));
}

TEST_F(RequestExecutorTest, PutThenGetRoundTrips) {
  const auto& put = Execute(PutFrame(1, "k", "value", 100));
  ASSERT_EQ(put.message_type(), wire::Message::PutResponse);
  EXPECT_TRUE(put.message_as_PutResponse()->applied());
  EXPECT_EQ(put.message_as_PutResponse()->current()->hlc(), 100u);
  EXPECT_EQ(put.message_as_PutResponse()->current()->writer(), 7u);

  const auto& get = Execute(GetFrame(2, "k"));
  ASSERT_EQ(get.message_type(), wire::Message::GetResponse);
  const auto* r = get.message_as_GetResponse();
  EXPECT_TRUE(r->found());
  EXPECT_FALSE(r->tombstone());
  EXPECT_EQ(AsView(r->value()), "value");
  EXPECT_EQ(r->version()->hlc(), 100u);
}

TEST_F(RequestExecutorTest, GetWithoutValueCarriesVersionOnly) {
  Execute(PutFrame(1, "k", "value", 100, clock_.NowMs() + 5000));
  const auto* r = Execute(GetFrame(2, "k", false)).message_as_GetResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->found());
  EXPECT_EQ(r->value(), nullptr);
  EXPECT_EQ(r->version()->hlc(), 100u);
  EXPECT_EQ(r->expire_at_ms(), static_cast<uint64_t>(clock_.NowMs() + 5000));
}

TEST_F(RequestExecutorTest, MissingKeyIsNotFound) {
  const auto* r = Execute(GetFrame(3, "absent")).message_as_GetResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->found());
  EXPECT_EQ(r->version(), nullptr);
}

TEST_F(RequestExecutorTest, OlderPutIsNotAppliedAndReportsTheHeldVersion) {
  Execute(PutFrame(1, "k", "new", 200));
  const auto* r = Execute(PutFrame(2, "k", "old", 100)).message_as_PutResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->applied());
  EXPECT_FALSE(r->condition_failed());
  EXPECT_EQ(r->current()->hlc(), 200u);
  EXPECT_EQ(AsView(Execute(GetFrame(3, "k")).message_as_GetResponse()->value()), "new");
}

TEST_F(RequestExecutorTest, TombstoneHidesTheValueAndReportsPrevious) {
  Execute(PutFrame(1, "k", "v", 100));
  const auto* del = Execute(PutFrame(2, "k", "", 200, 0, true, true)).message_as_PutResponse();
  ASSERT_NE(del, nullptr);
  EXPECT_TRUE(del->applied());
  EXPECT_TRUE(del->previous_found());
  EXPECT_EQ(AsView(del->previous_value()), "v");
  EXPECT_EQ(del->previous_version()->hlc(), 100u);
  const auto* get = Execute(GetFrame(3, "k")).message_as_GetResponse();
  EXPECT_TRUE(get->found());
  EXPECT_TRUE(get->tombstone());
  EXPECT_EQ(get->value(), nullptr);
  EXPECT_EQ(get->version()->hlc(), 200u);
}

TEST_F(RequestExecutorTest, TouchChangesExpiry) {
  Execute(PutFrame(1, "k", "v", 100));
  auto& b = request_builder_.Start();
  const wire::Version version(150, 7);
  const uint64_t expire = static_cast<uint64_t>(clock_.NowMs() + 1000);
  auto touch = wire::CreateTouch(b, Bytes(b, "k"), &version, expire, true);
  const auto* r = Execute(request_builder_.Finish(2, wire::Message::Touch, touch.Union()))
                      .message_as_TouchResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->found());
  EXPECT_TRUE(r->applied());
  EXPECT_EQ(AsView(r->value()), "v");
  EXPECT_EQ(r->version()->hlc(), 100u);  // the value version: a Touch never changes it
  EXPECT_EQ(r->previous_expiry_version()->hlc(), 100u);
  EXPECT_FALSE(r->tombstone());
  EXPECT_EQ(r->previous_expire_at_ms(), 0u);
  const auto* get = Execute(GetFrame(3, "k")).message_as_GetResponse();
  EXPECT_EQ(get->version()->hlc(), 100u);
  EXPECT_EQ(get->expiry_version()->hlc(), 150u);
  EXPECT_EQ(get->expiry_version()->writer(), 7u);
  clock_.Advance(1001);
  // Expired: reported as a tombstone of its version (readers treat it as absent).
  EXPECT_TRUE(Execute(GetFrame(3, "k")).message_as_GetResponse()->tombstone());
}

TEST_F(RequestExecutorTest, ExpiryVersionsTravelOnPutGetAndTouch) {
  // A whole-state put (a repair of a touched value) carries both versions.
  auto& b = request_builder_.Start();
  const wire::Version version(100, 7);
  const wire::Version expiry_version(180, 9);
  auto put = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "v"), &version, 0, false,
                             wire::PutCondition::Always, false, false, &expiry_version);
  const auto* p =
      Execute(request_builder_.Finish(1, wire::Message::Put, put.Union())).message_as_PutResponse();
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->applied());
  EXPECT_EQ(p->current()->hlc(), 100u);
  EXPECT_EQ(p->current_expiry_version()->hlc(), 180u);
  EXPECT_EQ(p->current_expiry_version()->writer(), 9u);
  const auto* g = Execute(GetFrame(2, "k")).message_as_GetResponse();
  EXPECT_EQ(g->expiry_version()->hlc(), 180u);
  // A client put without expiry_version: the same as its version.
  const auto* c = Execute(PutFrame(3, "k", "w", 200)).message_as_PutResponse();
  EXPECT_TRUE(c->applied());
  EXPECT_EQ(c->current_expiry_version()->hlc(), 200u);
  EXPECT_EQ(Execute(GetFrame(4, "k")).message_as_GetResponse()->expiry_version()->hlc(), 200u);

  // A Touch on a tombstone is not applied and says a tombstone is held, with its pair.
  Execute(PutFrame(5, "k", "", 300, 0, true));
  auto& tb = request_builder_.Start();
  const wire::Version touch_version(400, 7);
  auto touch = wire::CreateTouch(tb, Bytes(tb, "k"), &touch_version, 0, false);
  const auto* t = Execute(request_builder_.Finish(6, wire::Message::Touch, touch.Union()))
                      .message_as_TouchResponse();
  EXPECT_FALSE(t->found());
  EXPECT_FALSE(t->applied());
  EXPECT_TRUE(t->tombstone());
  EXPECT_EQ(t->version()->hlc(), 300u);
  EXPECT_EQ(t->previous_expiry_version()->hlc(), 300u);
}

TEST_F(RequestExecutorTest, EntryLargerThanTheLimitIsErrorTooLarge) {
  const std::string big(2 << 20, 'x');
  const auto& env = Execute(PutFrame(9, "k", big, 100));
  ASSERT_EQ(env.message_type(), wire::Message::Error);
  EXPECT_EQ(env.message_as_Error()->code(), wire::ErrorCode::TooLarge);
  EXPECT_NE(env.message_as_Error()->message()->str().find("memory limit"), std::string::npos);
}

TEST(ValidateKeyedRequestTest, RefusesMissingKeyHugeKeyAndUnversionedWrites) {
  FrameBuilder fb;
  std::vector<uint8_t> bytes;
  auto check = [&](std::span<const uint8_t> frame) -> const char* {
    bytes.assign(frame.begin(), frame.end());
    DecodedFrame decoded;
    EXPECT_EQ(DecodeFrame(bytes.data(), bytes.size(), kDefaultMaxFrameBytes, &decoded),
              FrameStatus::kOk);
    KeyedRequest keyed;
    return ValidateKeyedRequest(*decoded.envelope, &keyed);
  };
  {
    auto& b = fb.Start();
    EXPECT_NE(check(fb.Finish(1, wire::Message::Get, wire::CreateGet(b).Union())), nullptr);
  }
  {
    auto& b = fb.Start();
    const std::string huge(kMaxKeyBytes + 1, 'k');
    auto get = wire::CreateGet(b, Bytes(b, huge));
    EXPECT_NE(check(fb.Finish(1, wire::Message::Get, get.Union())), nullptr);
  }
  {
    auto& b = fb.Start();
    const std::string largest(kMaxKeyBytes, 'k');
    auto get = wire::CreateGet(b, Bytes(b, largest));
    EXPECT_EQ(check(fb.Finish(1, wire::Message::Get, get.Union())), nullptr);
  }
  {
    auto& b = fb.Start();
    auto put = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "v"));  // no version
    EXPECT_NE(check(fb.Finish(1, wire::Message::Put, put.Union())), nullptr);
  }
  {
    auto& b = fb.Start();
    auto touch = wire::CreateTouch(b, Bytes(b, "k"));  // no version
    EXPECT_NE(check(fb.Finish(1, wire::Message::Touch, touch.Union())), nullptr);
  }
  {
    // An expiry version older than the value version cannot be a state (it is >= by contract).
    auto& b = fb.Start();
    const wire::Version version(100, 7);
    const wire::Version older(99, 7);
    auto put = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "v"), &version, 0, false,
                               wire::PutCondition::Always, false, false, &older);
    const char* error = check(fb.Finish(1, wire::Message::Put, put.Union()));
    ASSERT_NE(error, nullptr);
    EXPECT_NE(std::string(error).find("expiry_version"), std::string::npos) << error;
  }
  {
    // A condition from a newer peer that this node does not know is refused, not ignored.
    auto& b = fb.Start();
    const wire::Version version(100, 7);
    auto put = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "v"), &version, 0, false,
                               static_cast<wire::PutCondition>(3));
    const char* error = check(fb.Finish(1, wire::Message::Put, put.Union()));
    ASSERT_NE(error, nullptr);
    EXPECT_NE(std::string(error).find("condition"), std::string::npos) << error;
  }
  {
    auto& b = fb.Start();
    const wire::Version version(100, 7);
    auto put = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "v"), &version, 0, false,
                               wire::PutCondition::MAX);
    EXPECT_EQ(check(fb.Finish(1, wire::Message::Put, put.Union())), nullptr);
  }
  {
    auto& b = fb.Start();
    auto info = wire::CreateInfo(b);
    EXPECT_NE(check(fb.Finish(1, wire::Message::Info, info.Union())), nullptr);
  }
}

}  // namespace
}  // namespace shoal::node
