#include "common/wire/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace shoal {
namespace {

using Buffer = std::vector<uint8_t>;

Buffer Copy(std::span<const uint8_t> frame) { return Buffer(frame.begin(), frame.end()); }

// Decodes `bytes` from an exact-size heap copy, so that AddressSanitizer catches any read past
// the bytes the decoder was given. The copy is gone on return: use only the status and sizes.
FrameStatus Decode(const uint8_t* data, size_t size, DecodedFrame* out,
                   uint32_t max = kDefaultMaxFrameBytes) {
  const Buffer exact(data, data + size);
  return DecodeFrame(exact.data(), exact.size(), max, out);
}

void PutLength(Buffer* frame, uint32_t length) {
  const uint32_t le = flatbuffers::EndianScalar(length);
  std::memcpy(frame->data(), &le, sizeof(le));
}

uint64_t Sum(std::string_view s) {
  uint64_t sum = s.size();
  for (unsigned char c : s) sum += c;
  return sum;
}
uint64_t Sum(const flatbuffers::String* s) { return s ? Sum(s->string_view()) : 0; }
uint64_t Sum(const flatbuffers::Vector<uint8_t>* v) { return Sum(AsView(v)); }
uint64_t Sum(const wire::Version* v) { return v ? v->hlc() + v->writer() : 0; }

// Reads every field of a decoded frame the way a server would, so that a frame that verified
// but is not safe to read shows up under AddressSanitizer.
uint64_t ReadEverything(const wire::Envelope& env) {
  uint64_t sum = env.request_id();
  switch (env.message_type()) {
    case wire::Message::Hello: {
      auto* m = env.message_as_Hello();
      return sum + m->protocol_version() + Sum(m->cluster()) + Sum(m->sender_id()) +
             static_cast<uint64_t>(m->role());
    }
    case wire::Message::HelloResponse: {
      auto* m = env.message_as_HelloResponse();
      return sum + m->protocol_version() + Sum(m->cluster()) + Sum(m->node_id()) + m->max_hlc() +
             m->shards();
    }
    case wire::Message::Get: {
      auto* m = env.message_as_Get();
      return sum + Sum(m->key()) + m->want_value();
    }
    case wire::Message::GetResponse: {
      auto* m = env.message_as_GetResponse();
      return sum + m->found() + m->tombstone() + Sum(m->value()) + Sum(m->version()) +
             m->expire_at_ms();
    }
    case wire::Message::Put: {
      auto* m = env.message_as_Put();
      return sum + Sum(m->key()) + Sum(m->value()) + Sum(m->version()) + m->expire_at_ms() +
             m->tombstone() + static_cast<uint64_t>(m->condition()) + m->keep_ttl() +
             m->want_previous();
    }
    case wire::Message::PutResponse: {
      auto* m = env.message_as_PutResponse();
      return sum + m->applied() + m->condition_failed() + Sum(m->current()) + m->previous_found() +
             Sum(m->previous_value()) + Sum(m->previous_version()) + m->previous_expire_at_ms();
    }
    case wire::Message::Touch: {
      auto* m = env.message_as_Touch();
      return sum + Sum(m->key()) + Sum(m->version()) + m->expire_at_ms() + m->want_value();
    }
    case wire::Message::TouchResponse: {
      auto* m = env.message_as_TouchResponse();
      return sum + m->found() + m->applied() + Sum(m->value()) + Sum(m->version()) +
             m->previous_expire_at_ms();
    }
    case wire::Message::Error: {
      auto* m = env.message_as_Error();
      return sum + static_cast<uint64_t>(m->code()) + Sum(m->message());
    }
    case wire::Message::Info:
      return sum + (env.message_as_Info() != nullptr);
    case wire::Message::InfoResponse: {
      auto* m = env.message_as_InfoResponse();
      if (m->entries() == nullptr) return sum;
      for (const auto* e : *m->entries()) {
        if (e != nullptr) sum += Sum(e->name()) + Sum(e->value());
      }
      return sum;
    }
    default:
      return sum;  // a type this build does not know: a server answers Unsupported
  }
}

// Decodes a frame built with FrameBuilder, asserting it is whole and verified.
const wire::Envelope* MustDecode(const Buffer& frame, DecodedFrame* out) {
  EXPECT_EQ(DecodeFrame(frame.data(), frame.size(), kDefaultMaxFrameBytes, out), FrameStatus::kOk);
  EXPECT_EQ(out->frame_bytes, frame.size());
  return out->envelope;
}

// One frame of each message type, for the truncation and mutation tests.
std::vector<Buffer> SampleFrames() {
  std::vector<Buffer> frames;
  FrameBuilder fb;
  const wire::Version v(0x0123456789ABCDEFull, 77);
  {
    auto& b = fb.Start();
    auto m = wire::CreateHello(b, kProtocolVersion, b.CreateString("prod"),
                               b.CreateString("proxy-1"), wire::PeerRole::Proxy);
    frames.push_back(Copy(fb.Finish(1, wire::Message::Hello, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateHelloResponse(b, kProtocolVersion, b.CreateString("prod"),
                                       b.CreateString("node-a"), 99, 4);
    frames.push_back(Copy(fb.Finish(2, wire::Message::HelloResponse, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateGet(b, Bytes(b, "user:1"), false);
    frames.push_back(Copy(fb.Finish(3, wire::Message::Get, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateGetResponse(b, true, false, Bytes(b, "hello world"), &v, 1234);
    frames.push_back(Copy(fb.Finish(4, wire::Message::GetResponse, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreatePut(b, Bytes(b, "k"), Bytes(b, "value"), &v, 55, false,
                             wire::PutCondition::IfAbsent, true, true);
    frames.push_back(Copy(fb.Finish(5, wire::Message::Put, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreatePutResponse(b, true, false, &v, true, Bytes(b, "old"), &v, 9);
    frames.push_back(Copy(fb.Finish(6, wire::Message::PutResponse, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateTouch(b, Bytes(b, "k"), &v, 77, true);
    frames.push_back(Copy(fb.Finish(7, wire::Message::Touch, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateTouchResponse(b, true, true, Bytes(b, "val"), &v, 3);
    frames.push_back(Copy(fb.Finish(8, wire::Message::TouchResponse, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateError(b, wire::ErrorCode::ClockSkew, b.CreateString("too far ahead"));
    frames.push_back(Copy(fb.Finish(9, wire::Message::Error, m.Union())));
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateInfo(b);
    frames.push_back(Copy(fb.Finish(10, wire::Message::Info, m.Union())));
  }
  {
    auto& b = fb.Start();
    std::vector<flatbuffers::Offset<wire::InfoEntry>> entries;
    entries.push_back(wire::CreateInfoEntry(b, b.CreateString("keys"), b.CreateString("12")));
    entries.push_back(wire::CreateInfoEntry(b, b.CreateString("role"), b.CreateString("node")));
    auto m = wire::CreateInfoResponse(b, b.CreateVector(entries));
    frames.push_back(Copy(fb.Finish(11, wire::Message::InfoResponse, m.Union())));
  }
  return frames;
}

TEST(FrameTest, StatusNames) {
  EXPECT_STREQ(FrameStatusName(FrameStatus::kOk), "ok");
  EXPECT_STREQ(FrameStatusName(FrameStatus::kNeedMore), "need more");
  EXPECT_STREQ(FrameStatusName(FrameStatus::kTooLarge), "frame too large");
  EXPECT_STREQ(FrameStatusName(FrameStatus::kCorrupt), "frame fails verification");
}

TEST(FrameTest, PrefixIsTheLittleEndianEnvelopeLength) {
  for (const Buffer& frame : SampleFrames()) {
    ASSERT_GT(frame.size(), kFrameHeaderBytes);
    const uint32_t length = frame[0] | frame[1] << 8 | frame[2] << 16 | uint32_t{frame[3]} << 24;
    EXPECT_EQ(length, frame.size() - kFrameHeaderBytes);
  }
}

TEST(FrameRoundTripTest, Hello) {
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreateHello(b, kProtocolVersion, b.CreateString("prod"), b.CreateString("proxy-7"),
                             wire::PeerRole::Tool);
  const Buffer frame = Copy(fb.Finish(~uint64_t{0}, wire::Message::Hello, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->request_id(), ~uint64_t{0});
  ASSERT_EQ(env->message_type(), wire::Message::Hello);
  const wire::Hello* hello = env->message_as_Hello();
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->protocol_version(), kProtocolVersion);
  EXPECT_EQ(hello->cluster()->string_view(), "prod");
  EXPECT_EQ(hello->sender_id()->string_view(), "proxy-7");
  EXPECT_EQ(hello->role(), wire::PeerRole::Tool);
  EXPECT_EQ(env->message_as_Get(), nullptr);
}

TEST(FrameRoundTripTest, HelloResponse) {
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreateHelloResponse(b, 1, b.CreateString("prod"), b.CreateString("node-a"),
                                     0xABCDEF0123ull, 8);
  const Buffer frame = Copy(fb.Finish(12, wire::Message::HelloResponse, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  const auto* r = env->message_as_HelloResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(env->request_id(), 12u);
  EXPECT_EQ(r->node_id()->string_view(), "node-a");
  EXPECT_EQ(r->max_hlc(), 0xABCDEF0123ull);
  EXPECT_EQ(r->shards(), 8u);
}

TEST(FrameRoundTripTest, GetWithBinaryKey) {
  const std::string key("k\0\xff{tag}", 8);
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreateGet(b, Bytes(b, key), false);
  const Buffer frame = Copy(fb.Finish(42, wire::Message::Get, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->request_id(), 42u);
  const wire::Get* get = env->message_as_Get();
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(AsView(get->key()), key);
  EXPECT_FALSE(get->want_value());
}

TEST(FrameRoundTripTest, GetDefaultsWantValue) {
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreateGet(b, Bytes(b, "k"));
  const Buffer frame = Copy(fb.Finish(1, wire::Message::Get, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  EXPECT_TRUE(env->message_as_Get()->want_value());
}

TEST(FrameRoundTripTest, Put) {
  const std::string value(1 << 20, 'v');  // 1 MiB
  const wire::Version version(0x0001'8B2F'0000'0005ull, 31);
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreatePut(b, Bytes(b, "user:1"), Bytes(b, value), &version, 1'700'000'060'000,
                           false, wire::PutCondition::IfPresent, true, true);
  const Buffer frame = Copy(fb.Finish(5, wire::Message::Put, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  const wire::Put* put = env->message_as_Put();
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(AsView(put->key()), "user:1");
  EXPECT_EQ(AsView(put->value()), value);
  ASSERT_NE(put->version(), nullptr);
  EXPECT_EQ(put->version()->hlc(), version.hlc());
  EXPECT_EQ(put->version()->writer(), 31u);
  EXPECT_EQ(put->expire_at_ms(), 1'700'000'060'000u);
  EXPECT_FALSE(put->tombstone());
  EXPECT_EQ(put->condition(), wire::PutCondition::IfPresent);
  EXPECT_TRUE(put->keep_ttl());
  EXPECT_TRUE(put->want_previous());
}

TEST(FrameRoundTripTest, PutTombstoneWithoutValue) {
  const wire::Version version(77, 1);
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreatePut(b, Bytes(b, "gone"), 0, &version, 0, true);
  const Buffer frame = Copy(fb.Finish(6, wire::Message::Put, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  const wire::Put* put = env->message_as_Put();
  ASSERT_NE(put, nullptr);
  EXPECT_TRUE(put->tombstone());
  EXPECT_EQ(put->value(), nullptr);
  EXPECT_EQ(AsView(put->value()), "");
  EXPECT_EQ(put->condition(), wire::PutCondition::Always);
}

TEST(FrameRoundTripTest, GetResponse) {
  const wire::Version version(123456789, 4);
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreateGetResponse(b, true, false, Bytes(b, "the value"), &version, 99);
  const Buffer frame = Copy(fb.Finish(77, wire::Message::GetResponse, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->request_id(), 77u);
  const wire::GetResponse* r = env->message_as_GetResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->found());
  EXPECT_FALSE(r->tombstone());
  EXPECT_EQ(AsView(r->value()), "the value");
  EXPECT_EQ(r->version()->hlc(), 123456789u);
  EXPECT_EQ(r->version()->writer(), 4u);
  EXPECT_EQ(r->expire_at_ms(), 99u);
}

TEST(FrameRoundTripTest, PutResponseAndTouch) {
  const wire::Version current(1000, 2), previous(900, 3);
  FrameBuilder fb;
  {
    auto& b = fb.Start();
    auto m =
        wire::CreatePutResponse(b, false, true, &current, true, Bytes(b, "prev"), &previous, 555);
    const Buffer frame = Copy(fb.Finish(8, wire::Message::PutResponse, m.Union()));
    DecodedFrame d;
    const wire::Envelope* env = MustDecode(frame, &d);
    ASSERT_NE(env, nullptr);
    const auto* r = env->message_as_PutResponse();
    ASSERT_NE(r, nullptr);
    EXPECT_FALSE(r->applied());
    EXPECT_TRUE(r->condition_failed());
    EXPECT_EQ(r->current()->hlc(), 1000u);
    EXPECT_TRUE(r->previous_found());
    EXPECT_EQ(AsView(r->previous_value()), "prev");
    EXPECT_EQ(r->previous_version()->writer(), 3u);
    EXPECT_EQ(r->previous_expire_at_ms(), 555u);
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateTouch(b, Bytes(b, "k"), &current, 0, true);
    const Buffer frame = Copy(fb.Finish(9, wire::Message::Touch, m.Union()));
    DecodedFrame d;
    const wire::Envelope* env = MustDecode(frame, &d);
    ASSERT_NE(env, nullptr);
    const auto* t = env->message_as_Touch();
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(AsView(t->key()), "k");
    EXPECT_EQ(t->expire_at_ms(), 0u);
    EXPECT_TRUE(t->want_value());
  }
  {
    auto& b = fb.Start();
    auto m = wire::CreateTouchResponse(b, true, false, Bytes(b, "v"), &previous, 12);
    const Buffer frame = Copy(fb.Finish(10, wire::Message::TouchResponse, m.Union()));
    DecodedFrame d;
    const wire::Envelope* env = MustDecode(frame, &d);
    ASSERT_NE(env, nullptr);
    const auto* t = env->message_as_TouchResponse();
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(t->found());
    EXPECT_FALSE(t->applied());
    EXPECT_EQ(AsView(t->value()), "v");
    EXPECT_EQ(t->version()->hlc(), 900u);
    EXPECT_EQ(t->previous_expire_at_ms(), 12u);
  }
}

TEST(FrameRoundTripTest, Error) {
  FrameBuilder fb;
  auto& b = fb.Start();
  auto m = wire::CreateError(b, wire::ErrorCode::TooLarge, b.CreateString("value over 64mb"));
  const Buffer frame = Copy(fb.Finish(3, wire::Message::Error, m.Union()));
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  const wire::Error* e = env->message_as_Error();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code(), wire::ErrorCode::TooLarge);
  EXPECT_EQ(e->message()->string_view(), "value over 64mb");
}

TEST(FrameRoundTripTest, InfoAndInfoResponse) {
  FrameBuilder fb;
  {
    auto& b = fb.Start();
    auto m = wire::CreateInfo(b);
    const Buffer frame = Copy(fb.Finish(20, wire::Message::Info, m.Union()));
    DecodedFrame d;
    const wire::Envelope* env = MustDecode(frame, &d);
    ASSERT_NE(env, nullptr);
    EXPECT_NE(env->message_as_Info(), nullptr);
  }
  {
    auto& b = fb.Start();
    std::vector<flatbuffers::Offset<wire::InfoEntry>> entries;
    for (int i = 0; i < 1000; ++i) {
      entries.push_back(wire::CreateInfoEntry(b, b.CreateString("name" + std::to_string(i)),
                                              b.CreateString(std::to_string(i * i))));
    }
    auto m = wire::CreateInfoResponse(b, b.CreateVector(entries));
    const Buffer frame = Copy(fb.Finish(21, wire::Message::InfoResponse, m.Union()));
    DecodedFrame d;
    const wire::Envelope* env = MustDecode(frame, &d);
    ASSERT_NE(env, nullptr);
    const auto* r = env->message_as_InfoResponse();
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->entries()->size(), 1000u);
    EXPECT_EQ(r->entries()->Get(0)->name()->string_view(), "name0");
    EXPECT_EQ(r->entries()->Get(999)->name()->string_view(), "name999");
    EXPECT_EQ(r->entries()->Get(999)->value()->string_view(), "998001");
  }
}

TEST(FrameBuilderTest, StartClearsThePreviousFrame) {
  FrameBuilder fb(16);  // grows as needed
  auto& b1 = fb.Start();
  auto big = wire::CreatePut(b1, Bytes(b1, "k"), Bytes(b1, std::string(100000, 'x')));
  const size_t big_size = fb.Finish(1, wire::Message::Put, big.Union()).size();
  auto& b2 = fb.Start();
  auto small = wire::CreateGet(b2, Bytes(b2, "k"));
  const Buffer frame = Copy(fb.Finish(2, wire::Message::Get, small.Union()));
  EXPECT_LT(frame.size(), 100u);
  EXPECT_GT(big_size, 100000u);
  DecodedFrame d;
  const wire::Envelope* env = MustDecode(frame, &d);
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->request_id(), 2u);
  EXPECT_EQ(env->message_type(), wire::Message::Get);
}

TEST(FrameTest, EveryTruncationNeedsMore) {
  for (const Buffer& frame : SampleFrames()) {
    for (size_t cut = 0; cut < frame.size(); ++cut) {
      DecodedFrame d;
      d.frame_bytes = 12345;
      ASSERT_EQ(Decode(frame.data(), cut, &d), FrameStatus::kNeedMore) << "cut at " << cut;
      EXPECT_EQ(d.envelope, nullptr);
      // Once the prefix is readable the caller learns the whole frame's size.
      EXPECT_EQ(d.frame_bytes, cut < kFrameHeaderBytes ? 0 : frame.size()) << "cut at " << cut;
    }
    DecodedFrame d;
    EXPECT_EQ(Decode(frame.data(), frame.size(), &d), FrameStatus::kOk);
  }
}

TEST(FrameTest, OversizedPrefixIsRefusedBeforeTheBodyArrives) {
  Buffer prefix(kFrameHeaderBytes);
  DecodedFrame d;
  PutLength(&prefix, kDefaultMaxFrameBytes + 1);
  EXPECT_EQ(Decode(prefix.data(), prefix.size(), &d), FrameStatus::kTooLarge);
  PutLength(&prefix, 0xFFFFFFFFu);
  EXPECT_EQ(Decode(prefix.data(), prefix.size(), &d), FrameStatus::kTooLarge);
  EXPECT_EQ(d.envelope, nullptr);
  // At the limit it is a frame still being received.
  PutLength(&prefix, kDefaultMaxFrameBytes);
  EXPECT_EQ(Decode(prefix.data(), prefix.size(), &d), FrameStatus::kNeedMore);
  EXPECT_EQ(d.frame_bytes, kFrameHeaderBytes + kDefaultMaxFrameBytes);
}

TEST(FrameTest, LimitAppliesToTheEnvelopeLength) {
  for (const Buffer& frame : SampleFrames()) {
    const uint32_t length = static_cast<uint32_t>(frame.size() - kFrameHeaderBytes);
    DecodedFrame d;
    EXPECT_EQ(Decode(frame.data(), frame.size(), &d, length), FrameStatus::kOk);
    EXPECT_EQ(Decode(frame.data(), frame.size(), &d, length - 1), FrameStatus::kTooLarge);
    EXPECT_EQ(Decode(frame.data(), kFrameHeaderBytes, &d, length - 1), FrameStatus::kTooLarge);
  }
}

TEST(FrameTest, ZeroLengthIsCorrupt) {
  Buffer zero(kFrameHeaderBytes, 0);
  DecodedFrame d;
  EXPECT_EQ(Decode(zero.data(), zero.size(), &d), FrameStatus::kCorrupt);
  EXPECT_EQ(d.envelope, nullptr);
}

TEST(FrameTest, EnvelopeWithoutAMessageIsCorrupt) {
  FrameBuilder fb;
  fb.Start();
  // A type but no message: the verifier accepts an absent union value, DecodeFrame must not.
  Buffer frame = Copy(fb.Finish(1, wire::Message::Get, flatbuffers::Offset<void>()));
  DecodedFrame d;
  EXPECT_EQ(Decode(frame.data(), frame.size(), &d), FrameStatus::kCorrupt);
  EXPECT_EQ(d.envelope, nullptr);

  auto& b = fb.Start();
  auto info = wire::CreateInfo(b);
  frame = Copy(fb.Finish(2, wire::Message::NONE, info.Union()));
  EXPECT_EQ(Decode(frame.data(), frame.size(), &d), FrameStatus::kCorrupt);
}

TEST(FrameTest, UnknownMessageTypeFromANewerPeerStillDecodes) {
  // Schema evolution appends union members: an older reader verifies the envelope, sees a type it
  // does not know and can answer Unsupported instead of dropping the connection.
  FrameBuilder fb;
  auto& b = fb.Start();
  auto info = wire::CreateInfo(b);
  const auto unknown = static_cast<wire::Message>(200);
  const Buffer frame = Copy(fb.Finish(3, unknown, info.Union()));
  DecodedFrame d;
  ASSERT_EQ(DecodeFrame(frame.data(), frame.size(), kDefaultMaxFrameBytes, &d), FrameStatus::kOk);
  EXPECT_EQ(d.envelope->message_type(), unknown);
  EXPECT_EQ(d.envelope->request_id(), 3u);
}

TEST(FrameTest, BackToBackFramesDecodeInOrder) {
  const std::vector<Buffer> samples = SampleFrames();
  Buffer stream;
  for (const Buffer& f : samples) stream.insert(stream.end(), f.begin(), f.end());
  // And half of one more frame.
  stream.insert(stream.end(), samples[2].begin(), samples[2].begin() + samples[2].size() / 2);

  size_t offset = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    DecodedFrame d;
    ASSERT_EQ(
        DecodeFrame(stream.data() + offset, stream.size() - offset, kDefaultMaxFrameBytes, &d),
        FrameStatus::kOk)
        << "frame " << i;
    EXPECT_EQ(d.frame_bytes, samples[i].size());
    EXPECT_EQ(d.envelope->request_id(), i + 1);
    offset += d.frame_bytes;
  }
  DecodedFrame d;
  EXPECT_EQ(DecodeFrame(stream.data() + offset, stream.size() - offset, kDefaultMaxFrameBytes, &d),
            FrameStatus::kNeedMore);
  EXPECT_EQ(d.frame_bytes, samples[2].size());
}

// A frame at an odd offset of a receive buffer is read from an aligned copy: FlatBuffers reads
// its u64 scalars through typed pointers, which UndefinedBehaviorSanitizer (make asan) reports as
// misaligned loads when the frame is read in place.
TEST(FrameTest, DecodesAtUnalignedOffsetsFromAnAlignedCopy) {
  FrameScratch scratch;
  for (const Buffer& frame : SampleFrames()) {
    DecodedFrame reference;
    const uint64_t expected = ReadEverything(*MustDecode(frame, &reference));
    for (size_t shift = 0; shift < 8; ++shift) {
      Buffer buf(shift, 0xEE);
      buf.insert(buf.end(), frame.begin(), frame.end());
      const uint8_t* at = buf.data() + shift;
      DecodedFrame d;
      ASSERT_EQ(DecodeFrame(at, frame.size(), kDefaultMaxFrameBytes, scratch, &d),
                FrameStatus::kOk);
      EXPECT_EQ(d.frame_bytes, frame.size());
      ASSERT_EQ(d.frame.size(), frame.size());
      EXPECT_TRUE(IsFrameAligned(d.frame.data()));
      EXPECT_EQ(0, std::memcmp(d.frame.data(), frame.data(), frame.size()));
      // Copied only when misaligned: an aligned frame is read in place.
      EXPECT_EQ(d.frame.data() == at, shift == 0) << "shift " << shift;
      EXPECT_EQ(ReadEverything(*d.envelope), expected) << "shift " << shift;
    }
  }
  EXPECT_GT(scratch.capacity(), 0u);
  scratch.Release(1 << 20);
  EXPECT_GT(scratch.capacity(), 0u);
  scratch.Release(0);
  EXPECT_EQ(scratch.capacity(), 0u);
}

// Back-to-back frames whose lengths are not multiples of 8 (a peer that is not FrameBuilder) put
// every other frame at a misaligned offset: each still decodes, from the scratch.
TEST(FrameTest, BackToBackFramesAtOddOffsetsDecode) {
  const std::vector<Buffer> samples = SampleFrames();
  FrameScratch scratch;
  Buffer stream(3, 0);  // starts misaligned
  for (const Buffer& f : samples) stream.insert(stream.end(), f.begin(), f.end());
  size_t offset = 3;
  for (size_t i = 0; i < samples.size(); ++i) {
    DecodedFrame d;
    ASSERT_EQ(DecodeFrame(stream.data() + offset, stream.size() - offset, kDefaultMaxFrameBytes,
                          scratch, &d),
              FrameStatus::kOk)
        << "frame " << i;
    EXPECT_EQ(d.envelope->request_id(), i + 1);
    ReadEverything(*d.envelope);
    offset += d.frame_bytes;
  }
}

// A frame whose u64 sits at an offset that is not a multiple of 8 from the frame's start would be
// read misaligned even from an aligned buffer: the verifier refuses it.
TEST(FrameTest, ScalarAtAMisalignedOffsetIsCorrupt) {
  FrameBuilder fb;
  auto& b = fb.Start();
  auto info = wire::CreateInfo(b);
  const Buffer good = Copy(fb.Finish(0x1122334455667788ull, wire::Message::Info, info.Union()));
  DecodedFrame d;
  ASSERT_EQ(Decode(good.data(), good.size(), &d), FrameStatus::kOk);
  // Find the id in the frame, then point its vtable entry 4 bytes earlier (4 mod 8 from the
  // frame's start, still inside the frame).
  const uint64_t id = 0x1122334455667788ull;
  size_t at = 0;
  for (size_t i = 0; i + 8 <= good.size(); ++i) {
    if (std::memcmp(good.data() + i, &id, 8) == 0) at = i;
  }
  ASSERT_NE(at, 0u);
  ASSERT_EQ(at % 8, 0u);
  // The table starts at root; the vtable slot for field 0 (request_id) holds at - table.
  uint32_t root;
  std::memcpy(&root, good.data() + 4, 4);
  const size_t table = 4 + root;
  int32_t to_vtable;
  std::memcpy(&to_vtable, good.data() + table, 4);
  const size_t vtable = table - to_vtable;
  uint16_t slot;
  std::memcpy(&slot, good.data() + vtable + 4, 2);
  ASSERT_EQ(table + slot, at);
  Buffer bad = good;
  const uint16_t moved = slot - 4;  // 4 bytes earlier: still inside the table, misaligned
  std::memcpy(bad.data() + vtable + 4, &moved, 2);
  EXPECT_EQ(Decode(bad.data(), bad.size(), &d), FrameStatus::kCorrupt);
}

// The proxy copies one built frame into each replica's send buffer, at whatever offset that
// buffer has reached, and patches the copy's request id there.
TEST(FrameTest, PatchRequestIdAtAnyOffset) {
  FrameScratch scratch;
  for (const Buffer& frame : SampleFrames()) {
    for (size_t shift = 0; shift < 8; ++shift) {
      Buffer buf(shift, 0xEE);
      buf.insert(buf.end(), frame.begin(), frame.end());
      PatchRequestId(frame, buf.data() + shift, 0xA1B2C3D4E5F60718ull + shift);
      DecodedFrame d;
      ASSERT_EQ(DecodeFrame(buf.data() + shift, frame.size(), kDefaultMaxFrameBytes, scratch, &d),
                FrameStatus::kOk);
      EXPECT_EQ(d.envelope->request_id(), 0xA1B2C3D4E5F60718ull + shift);
      PatchRequestId(frame, buf.data() + shift, 0);
      ASSERT_EQ(DecodeFrame(buf.data() + shift, frame.size(), kDefaultMaxFrameBytes, scratch, &d),
                FrameStatus::kOk);
      EXPECT_EQ(d.envelope->request_id(), 0u);
      EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + shift), Buffer(shift, 0xEE));
    }
  }
}

// Garbage must give kCorrupt or a verified frame that is safe to read, never a crash or an
// out-of-bounds read (run under -fsanitize=address to check the latter).
void ExpectSafe(const Buffer& bytes, const std::string& what) {
  DecodedFrame d;
  const FrameStatus s = DecodeFrame(bytes.data(), bytes.size(), kDefaultMaxFrameBytes, &d);
  ASSERT_TRUE(s == FrameStatus::kOk || s == FrameStatus::kCorrupt)
      << what << ": " << FrameStatusName(s);
  if (s == FrameStatus::kOk) {
    ASSERT_NE(d.envelope, nullptr) << what;
    ASSERT_EQ(d.frame_bytes, bytes.size()) << what;
    ReadEverything(*d.envelope);
  } else {
    ASSERT_EQ(d.envelope, nullptr) << what;
  }
}

TEST(FrameFuzzTest, RandomBodiesWithAValidPrefix) {
  std::mt19937 rng(1);
  for (int iter = 0; iter < 200000; ++iter) {
    const size_t length = 1 + rng() % 256;
    Buffer bytes(kFrameHeaderBytes + length);
    for (size_t i = kFrameHeaderBytes; i < bytes.size(); ++i) bytes[i] = rng() & 0xFF;
    PutLength(&bytes, static_cast<uint32_t>(length));
    ExpectSafe(bytes, "random body " + std::to_string(iter));
    if (HasFatalFailure()) return;
  }
}

TEST(FrameFuzzTest, EveryByteOfEveryFrameFlipped) {
  for (const Buffer& frame : SampleFrames()) {
    for (size_t pos = kFrameHeaderBytes; pos < frame.size(); ++pos) {
      for (uint8_t mask : {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF}) {
        Buffer bytes = frame;
        bytes[pos] ^= mask;
        ExpectSafe(bytes, "byte " + std::to_string(pos) + " ^ " + std::to_string(mask));
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(FrameFuzzTest, RandomMutationsOfValidFrames) {
  const std::vector<Buffer> samples = SampleFrames();
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200000; ++iter) {
    Buffer bytes = samples[rng() % samples.size()];
    const int edits = 1 + rng() % 6;
    for (int e = 0; e < edits; ++e) {
      const size_t pos = kFrameHeaderBytes + rng() % (bytes.size() - kFrameHeaderBytes);
      switch (rng() % 3) {
        case 0:
          bytes[pos] = rng() & 0xFF;
          break;
        case 1:
          bytes[pos] ^= 1u << (rng() % 8);
          break;
        default:
          bytes[pos] = (rng() % 2) ? 0xFF : 0x00;
          break;
      }
    }
    ExpectSafe(bytes, "mutation " + std::to_string(iter));
    if (HasFatalFailure()) return;
  }
}

TEST(FrameFuzzTest, EnvelopeCutShortWithAMatchingPrefix) {
  for (const Buffer& frame : SampleFrames()) {
    for (size_t length = 1; length + kFrameHeaderBytes < frame.size(); ++length) {
      Buffer bytes(frame.begin(), frame.begin() + kFrameHeaderBytes + length);
      PutLength(&bytes, static_cast<uint32_t>(length));
      ExpectSafe(bytes, "cut to " + std::to_string(length));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(FrameFuzzTest, MutatedPrefixNeverReadsPastTheBuffer) {
  const std::vector<Buffer> samples = SampleFrames();
  std::mt19937 rng(3);
  for (int iter = 0; iter < 50000; ++iter) {
    const Buffer& frame = samples[rng() % samples.size()];
    const Buffer bytes(frame.begin(), frame.begin() + kFrameHeaderBytes +
                                          rng() % (frame.size() - kFrameHeaderBytes + 1));
    Buffer mutated = bytes;
    mutated[rng() % kFrameHeaderBytes] = rng() & 0xFF;
    DecodedFrame d;
    const FrameStatus s = DecodeFrame(mutated.data(), mutated.size(), 4096, &d);
    if (s == FrameStatus::kOk) {
      ASSERT_LE(d.frame_bytes, mutated.size());
      ReadEverything(*d.envelope);
    } else if (s == FrameStatus::kNeedMore) {
      ASSERT_GT(d.frame_bytes, mutated.size());
    }
  }
}

}  // namespace
}  // namespace shoal
