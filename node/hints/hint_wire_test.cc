#include "node/hints/hint_wire.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/typed/counter.h"
#include "common/typed/typed_value.h"
#include "node/hints/hint_record.h"

namespace shoal::node::hints {
namespace {

struct PutFields {
  std::string target = "n2";
  bool with_put = true;
  bool with_key = true;
  bool with_version = true;
  std::string key = "k";
  std::string value = "v";
  wire::Version version{100, 7};
  wire::Version expiry_version{0, 0};
  uint64_t expire_at_ms = 0;
  bool tombstone = false;
  wire::PutCondition condition = wire::PutCondition::Always;
};

// A verified HintPut envelope, kept alive by `storage`.
const wire::HintPut* MakeHintPut(const PutFields& f, std::vector<uint8_t>& storage) {
  FrameBuilder fb;
  auto& b = fb.Start();
  flatbuffers::Offset<wire::Put> put = 0;
  if (f.with_put) {
    auto key = f.with_key
                   ? b.CreateVector(reinterpret_cast<const uint8_t*>(f.key.data()), f.key.size())
                   : 0;
    auto value = b.CreateVector(reinterpret_cast<const uint8_t*>(f.value.data()), f.value.size());
    put = wire::CreatePut(b, key, value, f.with_version ? &f.version : nullptr, f.expire_at_ms,
                          f.tombstone, f.condition, false, false, &f.expiry_version);
  }
  auto target = b.CreateString(f.target);
  auto hint = wire::CreateHintPut(b, target, put);
  std::span<const uint8_t> frame = fb.Finish(9, wire::Message::HintPut, hint.Union());
  storage.assign(frame.begin(), frame.end());
  DecodedFrame decoded;  // verified; a std::vector's storage is aligned
  if (DecodeFrame(storage.data(), storage.size(), 1 << 20, &decoded) != FrameStatus::kOk) {
    return nullptr;
  }
  return decoded.envelope->message_as_HintPut();
}

TEST(HintWireTest, ValidHintBecomesAHintWithItsWholeState) {
  std::vector<uint8_t> storage;
  PutFields f;
  f.expiry_version = wire::Version(105, 7);
  f.expire_at_ms = 1234;
  const wire::HintPut* hp = MakeHintPut(f, storage);
  ASSERT_NE(hp, nullptr);
  EXPECT_EQ(ValidateHintPut(*hp, "n1"), nullptr);
  const Hint h = HintFromWire(*hp);
  EXPECT_EQ(h.target, "n2");
  EXPECT_EQ(h.key, "k");
  EXPECT_EQ(h.value, "v");
  EXPECT_EQ(h.version, (Version{100, 7}));
  EXPECT_EQ(h.expiry_version, (Version{105, 7}));
  EXPECT_EQ(h.expire_at_ms, 1234);
  EXPECT_FALSE(h.tombstone);

  // A zero expiry_version means "the same as version".
  f.expiry_version = wire::Version(0, 0);
  EXPECT_EQ(HintFromWire(*MakeHintPut(f, storage)).expiry_version, (Version{100, 7}));
  // A tombstone carries no value.
  f.tombstone = true;
  EXPECT_EQ(HintFromWire(*MakeHintPut(f, storage)).value, "");
}

TEST(HintWireTest, RefusesWhatCannotBeHinted) {
  struct Case {
    void (*change)(PutFields&);
    const char* why;
  };
  const Case cases[] = {
      {[](PutFields& f) { f.target = ""; }, "hint has no target"},
      {[](PutFields& f) { f.target = std::string("n\0x", 3); }, "hint target contains a NUL byte"},
      {[](PutFields& f) { f.target = "n1"; }, "hint targets this node itself: send it a Put"},
      {[](PutFields& f) { f.with_put = false; }, "hint has no put"},
      {[](PutFields& f) { f.with_key = false; }, "hint put has no key"},
      {[](PutFields& f) { f.key.assign(kMaxKeyBytes + 1, 'k'); }, "key longer than 512 KiB"},
      {[](PutFields& f) { f.with_version = false; }, "hint put has no version"},
      {[](PutFields& f) { f.expiry_version = wire::Version(99, 7); },
       "expiry_version older than version"},
      {[](PutFields& f) { f.expire_at_ms = ~0ull; }, "expire_at_ms out of range"},
      {[](PutFields& f) { f.condition = wire::PutCondition::IfAbsent; },
       "a conditional put (NX/XX) cannot be hinted"},
  };
  for (const Case& c : cases) {
    PutFields f;
    c.change(f);
    std::vector<uint8_t> storage;
    const wire::HintPut* hp = MakeHintPut(f, storage);
    ASSERT_NE(hp, nullptr) << c.why;
    const char* got = ValidateHintPut(*hp, "n1");
    ASSERT_NE(got, nullptr) << c.why;
    EXPECT_STREQ(got, c.why);
  }
}

TEST(HintWireTest, ReplayPutCarriesBothVersionsAndTheExpiry) {
  Hint h;
  h.target = "n2";
  h.key = "k";
  h.value = "val";
  h.version = Version{100, 7};
  h.expiry_version = Version{105, 8};
  h.expire_at_ms = 4321;
  FrameBuilder fb;
  std::span<const uint8_t> frame = BuildReplayPutFrame(fb, 42, h);
  std::vector<uint8_t> storage(frame.begin(), frame.end());
  const wire::Envelope* env = wire::GetSizePrefixedEnvelope(storage.data());
  ASSERT_EQ(env->message_type(), wire::Message::Put);
  EXPECT_EQ(env->request_id(), 42u);
  const wire::Put* put = env->message_as_Put();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(put->value()->data()), put->value()->size()),
            "val");
  EXPECT_EQ(put->version()->hlc(), 100u);
  EXPECT_EQ(put->expiry_version()->hlc(), 105u);
  EXPECT_EQ(put->expiry_version()->writer(), 8u);
  EXPECT_EQ(put->expire_at_ms(), 4321u);
  EXPECT_FALSE(put->tombstone());
  EXPECT_EQ(put->condition(), wire::PutCondition::Always);

  std::span<const uint8_t> ack = BuildHintAckFrame(fb, 43, false, "full");
  storage.assign(ack.begin(), ack.end());
  env = wire::GetSizePrefixedEnvelope(storage.data());
  ASSERT_EQ(env->message_type(), wire::Message::HintAck);
  EXPECT_FALSE(env->message_as_HintAck()->stored());
  EXPECT_EQ(env->message_as_HintAck()->reason()->str(), "full");
}

// Counter deltas (docs/data-model.md) share one version pair: each is its own spool record (keyed
// by its body digest too), decodes back to the same typed hint, and replays as a typed Put.
TEST(HintWireTest, TypedHintsOfOnePairAreDistinctRecordsAndReplayTyped) {
  auto delta = [](uint64_t writer, uint64_t p) {
    typed::Counter c;
    typed::CounterComponent x;
    x.writer = writer;
    x.p = p;
    c.SetComponent(x);
    return c.Encode();
  };
  Hint a;
  a.target = "n2";
  a.key = "k";
  a.version = a.expiry_version = Version{0, 1};
  a.value_type = static_cast<uint8_t>(typed::ValueType::kCounter);
  a.value = delta(1, 1);
  Hint b = a;
  b.value = delta(2, 1);
  EXPECT_NE(EncodeHintKey(a), EncodeHintKey(b));
  EXPECT_EQ(EncodeHintKey(a), EncodeHintKey(a));
  StatusOr<Hint> back = DecodeHint(EncodeHintKey(b), EncodeHintValue(b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key, "k");
  EXPECT_EQ(back->value, b.value);
  EXPECT_EQ(back->value_type, b.value_type);
  // A string hint's record is as before (no digest).
  Hint s = a;
  s.value_type = 0;
  s.value = "v";
  EXPECT_EQ(EncodeHintKey(s).size(), s.target.size() + kHintKeyFixedBytes + s.key.size());

  FrameBuilder fb;
  std::span<const uint8_t> frame = BuildReplayPutFrame(fb, 1, b);
  std::vector<uint8_t> storage(frame.begin(), frame.end());
  const wire::Put* put = wire::GetSizePrefixedEnvelope(storage.data())->message_as_Put();
  EXPECT_EQ(put->value_type(), wire::ValueType::Counter);
}

TEST(HintWireTest, RefusesMalformedTypedValues) {
  PutFields f;
  std::vector<uint8_t> storage;
  const wire::HintPut* ok = MakeHintPut(f, storage);
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ValidateHintPut(*ok, "n1"), nullptr);
  // A Put whose value_type says counter but whose body is not one.
  FrameBuilder fb;
  auto& b = fb.Start();
  auto key = b.CreateVector(reinterpret_cast<const uint8_t*>("k"), 1);
  auto value = b.CreateVector(reinterpret_cast<const uint8_t*>("xx"), 2);
  wire::Version v{100, 7};
  auto put = wire::CreatePut(b, key, value, &v, 0, false, wire::PutCondition::Always, false, false,
                             nullptr, nullptr, wire::ValueType::Counter);
  auto hint = wire::CreateHintPut(b, b.CreateString("n2"), put);
  std::span<const uint8_t> frame = fb.Finish(9, wire::Message::HintPut, hint.Union());
  std::vector<uint8_t> bytes(frame.begin(), frame.end());
  const wire::HintPut* bad = wire::GetSizePrefixedEnvelope(bytes.data())->message_as_HintPut();
  EXPECT_STREQ(ValidateHintPut(*bad, "n1"), "malformed typed value");
}

}  // namespace
}  // namespace shoal::node::hints
