// Media wire formats: demux, group envelope, STUN dialect, WARP RTP header, RTCP, pinned to the
// reference digest §5.4 vectors (quoted hex) plus truncation and malformed-input cases.
#include "media/demux.h"
#include "media/rtp.h"
#include "media/stun.h"

#include <gtest/gtest.h>

#include "test_support.h"
#include <zlib.h>

using namespace wacall;
using wacall::test::H;
using namespace wacall::media;

// ---- demux / envelope -------------------------------------------------------------------------

TEST(MediaDemux, Classify) {
    EXPECT_EQ(classify(H("080100002112a442a0a1a2a3a4a5a6a7a8a9aaab")), PacketKind::Stun);
    EXPECT_EQ(classify(H("81d00002123456789abcdef0")), PacketKind::Rtcp);
    EXPECT_EQ(classify(H("81d1000112345678")), PacketKind::Rtcp);
    EXPECT_EQ(classify(H("90f800010000000012345678debe0000")), PacketKind::Rtp);
    EXPECT_EQ(classify(H("90e1000700022ea29b1959f0debe00033001510000610024910a6a00")), PacketKind::Rtp);
    EXPECT_EQ(classify(H("90")), PacketKind::Other);
    EXPECT_EQ(classify({}), PacketKind::Other);
    EXPECT_EQ(classify(H("9078000200000140")), PacketKind::Other);  // V=2 but < 12 bytes, b1 < 192
    EXPECT_EQ(classify(H("c0780002000001401234567800")), PacketKind::Other);  // V=3
    // 00xxxxxx without the magic cookie, or shorter than a STUN header, is not STUN.
    EXPECT_EQ(classify(H("080100002112a443a0a1a2a3a4a5a6a7a8a9aaab")), PacketKind::Other);
    EXPECT_EQ(classify(H("080100002112a442a0a1a2a3a4a5a6a7a8a9aa")), PacketKind::Other);
    // RTCP needs 192 <= b1 <= 223: 224 falls through to RTP.
    EXPECT_EQ(classify(H("80e0000112345678aabbccdd")), PacketKind::Rtp);
    EXPECT_EQ(classify(H("80bf000112345678aabbccdd")), PacketKind::Rtp);
}

TEST(MediaDemux, GroupEnvelopeVectors) {
    struct {
        const char *in, *inner;
        size_t hl;
    } ok[] = {
        {"0902336e0100018890e1001300120c96772e6aa9", "90e1001300120c96772e6aa9", 8},
        {"09047eb5410001000000001090e100010013fbf08f1df407", "90e100010013fbf08f1df407", 12},
        {"0907338f2900020a00c801e000000000000090780001000331808cd481d5", "90780001000331808cd481d5", 18},
    };
    for (auto &v : ok) {
        Bytes p = H(v.in);
        EXPECT_TRUE(is_group_envelope(p));
        EnvelopeResult r = unwrap_group_envelope(p);
        ASSERT_TRUE(r.ok()) << v.in << ": " << envelope_status_name(r.status);
        EXPECT_EQ(r.header_len, v.hl);
        EXPECT_EQ(to_hex(ByteView(p).sub(r.header_len)), v.inner);
        // Every truncation of a valid envelope is rejected, never passed through.
        for (size_t n = 0; n < p.size(); n++) EXPECT_FALSE(unwrap_group_envelope(ByteView(p).sub(0, n)).ok()) << n;
    }
    const struct {
        const char *in;
        EnvelopeStatus status;
        const char *text;  // the expert text, unchanged from the string results it replaces
    } bad[] = {
        {"09", EnvelopeStatus::TooShort, "envelope shorter than 2 bytes"},
        {"09ff", EnvelopeStatus::UnknownKind, "unknown group envelope kind (byte 1 not 2, 4 or 7)"},
        {"0902000000000000", EnvelopeStatus::InnerTooShort, "group envelope: inner packet shorter than an RTP header"},
        {"0902000000000000100000000000000000000000", EnvelopeStatus::InnerNotRtp,
         "group envelope: inner packet is not RTP version 2"},
        {"0903000000000000000000000000000000000000", EnvelopeStatus::UnknownKind,
         "unknown group envelope kind (byte 1 not 2, 4 or 7)"},
        {"90e1001300120c96772e6aa9", EnvelopeStatus::NotEnvelope, "not a group envelope (byte 0 != 0x09)"},
    };
    for (const auto &b : bad) {
        EnvelopeResult r = unwrap_group_envelope(H(b.in));
        EXPECT_FALSE(r.ok()) << b.in;
        EXPECT_EQ(r.status, b.status) << b.in;
        EXPECT_STREQ(envelope_status_name(r.status), b.text) << b.in;
        EXPECT_EQ(r.header_len, 0u);
    }
}

// ---- STUN -------------------------------------------------------------------------------------

static const char *kMinimalMi =
    "000300242112a442a0a1a2a3a4a5a6a7a8a9aaab4000000810203040506070800008001450c96f7efef837bbde7e1f534dae139816d3e015";
static const char *kWithFp =
    "0003002c2112a442a0a1a2a3a4a5a6a7a8a9aaab4000000810203040506070800008001450c96f7efef837bbde7e1f534dae139816d3e015"
    "80280004ade1f63c";
static const char *kWasmAllocate =
    "000300942112a442a0a1a2a3a4a5a6a7a8a9aaab400000081020304050607080402400600a0618cabc85ae040a08100118a5acafae0a0a"
    "08100218d6a4e6f90f0a08080118f7dd9eb60a0a0a0801100118abccb1f30d0a0a0801100218dadaef8a050a08080218c5e9ec8e0b0a0a"
    "0802100118fdc2b1b60f0a0a0802100218b097f7b2090016000800012c84bce246c700080014816c90841f948115ce794ef87726c00ff7"
    "4220c7";
static const Bytes kMiKey = Bytes{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

TEST(MediaStun, Crc32Abc) {
    const uint8_t abc[] = {'a', 'b', 'c'};
    EXPECT_EQ(crc32(0L, abc, 3), 891568578u);  // 0x352441C2
}

TEST(MediaStun, MinimalMiParsesAndVerifies) {
    Bytes m = H(kMinimalMi);
    StunMessage s;
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    EXPECT_TRUE(s.warning.empty()) << s.warning;
    EXPECT_EQ(s.type, 0x0003);
    EXPECT_EQ(stun_type_name(s.type), "Allocate Request");
    EXPECT_EQ(s.length, 0x24);
    EXPECT_EQ(to_hex(s.txid), "a0a1a2a3a4a5a6a7a8a9aaab");
    ASSERT_EQ(s.attrs.size(), 2u);
    EXPECT_EQ(s.attrs[0].type, kAttrRelayToken);
    EXPECT_EQ(s.attrs[0].offset, 20u);
    EXPECT_EQ(s.attrs[0].value_offset, 24u);
    EXPECT_EQ(to_hex(s.attrs[0].value), "1020304050607080");
    EXPECT_STREQ(stun_attr_name(s.attrs[0].type), "relay token");
    EXPECT_EQ(s.attrs[1].type, kAttrMessageIntegrity);
    EXPECT_EQ(s.attrs[1].offset, 32u);
    EXPECT_STREQ(stun_attr_name(s.attrs[1].type), "MESSAGE-INTEGRITY");
    std::optional<std::array<uint8_t, 20>> mi = compute_message_integrity(m, s.attrs[1].offset, kMiKey);
    ASSERT_TRUE(mi);
    EXPECT_EQ(to_hex({mi->data(), 20}), "50c96f7efef837bbde7e1f534dae139816d3e015");
    EXPECT_EQ(verify_message_integrity(m, s.attrs[1], kMiKey), StunCheck::Good);
    Bytes wrong = kMiKey;
    wrong[0] ^= 1;
    EXPECT_EQ(verify_message_integrity(m, s.attrs[1], wrong), StunCheck::Bad);
    Bytes tampered = m;
    tampered[27] ^= 0x01;  // a token byte
    StunMessage t;
    ASSERT_EQ(parse_stun(tampered, t), StunStatus::Ok);
    EXPECT_EQ(verify_message_integrity(tampered, t.attrs[1], kMiKey), StunCheck::Bad);
}

TEST(MediaStun, WithFingerprint) {
    Bytes m = H(kWithFp);
    StunMessage s;
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    ASSERT_EQ(s.attrs.size(), 3u);
    EXPECT_EQ(s.attrs[2].type, kAttrFingerprint);
    EXPECT_STREQ(stun_attr_name(0x8028), "FINGERPRINT");
    EXPECT_EQ(compute_fingerprint(m, s.attrs[2].offset), std::optional<uint32_t>(0xade1f63cu));
    EXPECT_EQ(verify_fingerprint(m, s.attrs[2]), StunCheck::Good);
    // MI still verifies with the FINGERPRINT after it: its length only counts up to the MI.
    EXPECT_EQ(verify_message_integrity(m, s.attrs[1], kMiKey), StunCheck::Good);
    Bytes bad = m;
    bad[bad.size() - 1] ^= 0x80;
    ASSERT_EQ(parse_stun(bad, s), StunStatus::Ok);
    EXPECT_EQ(verify_fingerprint(bad, s.attrs[2]), StunCheck::Bad);
}

TEST(MediaStun, PingAndTypeNames) {
    StunMessage s;
    ASSERT_EQ(parse_stun(H("080100002112a442a0a1a2a3a4a5a6a7a8a9aaab"), s), StunStatus::Ok);
    EXPECT_EQ(s.type, 0x0801);
    EXPECT_EQ(stun_type_name(s.type), "WhatsApp ping");
    EXPECT_TRUE(s.attrs.empty());
    EXPECT_EQ(stun_type_name(0x0802), "WhatsApp pong");
    EXPECT_EQ(stun_type_name(0x0001), "Binding Request");
    EXPECT_EQ(stun_type_name(0x0101), "Binding Success");
    EXPECT_EQ(stun_type_name(0x0111), "Binding Error");
    EXPECT_EQ(stun_type_name(0x0103), "Allocate Success");
    EXPECT_EQ(stun_type_name(0x0113), "Allocate Error");
    EXPECT_EQ(stun_type_name(0x0803), "unknown WhatsApp 0x0803");
    EXPECT_EQ(stun_type_name(0x0805), "WhatsApp relay endpoint response");
    EXPECT_EQ(stun_type_name(0x0115), "unknown 0x0115");
    EXPECT_STREQ(stun_attr_name(0x4021), "receiver subscriptions");
    EXPECT_STREQ(stun_attr_name(0x4023), "native sender subscription");
    EXPECT_STREQ(stun_attr_name(0x4024), "stream descriptors");
    EXPECT_STREQ(stun_attr_name(0x4025), "sender subscriptions v2");
    EXPECT_STREQ(stun_attr_name(0x805A), "participant count");
    EXPECT_STREQ(stun_attr_name(0x0016), "WASM relay endpoint (XOR)");
    EXPECT_STREQ(stun_attr_name(0x0009), "ERROR-CODE");
    EXPECT_STREQ(stun_attr_name(0x0020), "XOR-MAPPED-ADDRESS");
    EXPECT_STREQ(stun_attr_name(0x0001), "MAPPED-ADDRESS");
    EXPECT_STREQ(stun_attr_name(0x1234), "unknown");
}

TEST(MediaStun, WasmAllocate) {
    Bytes m = H(kWasmAllocate);
    StunMessage s;
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    EXPECT_TRUE(s.warning.empty()) << s.warning;
    ASSERT_EQ(s.attrs.size(), 4u);
    EXPECT_EQ(s.attrs[0].type, 0x4000);
    EXPECT_EQ(s.attrs[1].type, 0x4024);
    EXPECT_EQ(s.attrs[2].type, 0x0016);
    EXPECT_EQ(s.attrs[3].type, 0x0008);
    EXPECT_EQ(verify_message_integrity(m, s.attrs[3], kMiKey), StunCheck::Good);

    std::optional<SockAddr> ep = decode_wasm_relay_endpoint(s.attrs[2].value);
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->to_string(), "157.240.226.133:3478");

    StreamDescriptors sd = decode_stream_descriptors(s.attrs[1].value);
    ASSERT_TRUE(sd.ok());
    const std::vector<StreamDescriptor> &d = sd.items;
    const uint32_t want[9][3] = {{0, 0, 0x45c15e4a}, {0, 1, 0xa5cbd625}, {0, 2, 0xff399256},
                                 {1, 0, 0xa6c7aef7}, {1, 1, 0xde6c662b}, {1, 2, 0x515bed5a},
                                 {2, 0, 0xb1db34c5}, {2, 1, 0xf6cc617d}, {2, 2, 0x965dcbb0}};
    ASSERT_EQ(d.size(), 9u);
    for (size_t i = 0; i < 9; i++) {
        EXPECT_EQ(d[i].stream_index, want[i][0]) << i;
        EXPECT_EQ(d[i].sub_type, want[i][1]) << i;
        EXPECT_EQ(d[i].ssrc, want[i][2]) << i;
        EXPECT_TRUE(d[i].ssrc.has_value());
        EXPECT_FALSE(d[i].android);
    }
    EXPECT_STREQ(stream_index_name(d[3].stream_index), "video0");
    EXPECT_STREQ(stream_subtype_name(d[5].sub_type), "NACK");
}

TEST(MediaStun, EveryTruncationIsBounded) {
    for (const char *hex : {kMinimalMi, kWithFp, kWasmAllocate}) {
        Bytes m = H(hex);
        for (size_t n = 0; n < m.size(); n++) {
            Bytes cut(m.begin(), m.begin() + long(n));  // exact-size heap copy: ASan sees overreads
            StunMessage s;
            StunStatus st = parse_stun(cut, s);
            bool ok = st == StunStatus::Ok;
            if (n < 20) {
                EXPECT_EQ(st, StunStatus::Short) << n;
                EXPECT_STREQ(stun_status_name(st), "STUN message shorter than its 20-byte header");
                continue;
            }
            ASSERT_TRUE(ok) << n;
            if (n > 20) {
                EXPECT_FALSE(s.warning.empty()) << n;
            }
            for (auto &a : s.attrs) {
                EXPECT_LE(a.value_offset + a.value.size, n);
                // Integrity checks over a truncated message never read past it.
                // A complete MI covers only what precedes it, so it still verifies once present.
                if (a.type == kAttrMessageIntegrity) {
                    EXPECT_EQ(verify_message_integrity(cut, a, kMiKey), StunCheck::Good);
                }
                if (a.type == kAttrFingerprint) {
                    EXPECT_NE(verify_fingerprint(cut, a), StunCheck::Good);
                }
            }
        }
    }
    StunMessage s;
    EXPECT_EQ(parse_stun(H("000300002112a443a0a1a2a3a4a5a6a7a8a9aaab"), s), StunStatus::BadMagic);
    EXPECT_EQ(s.type, 0x0003);  // the header fields read before the failure are kept
    EXPECT_EQ(parse_stun(H("c00300002112a442a0a1a2a3a4a5a6a7a8a9aaab"), s), StunStatus::TopBitsSet);
    EXPECT_STREQ(stun_status_name(StunStatus::BadMagic), "bad STUN magic cookie");
    // An attribute claiming more than the body holds stops the walk.
    ASSERT_EQ(parse_stun(H("000300082112a442a0a1a2a3a4a5a6a7a8a9aaab4000ffff10203040"), s), StunStatus::Ok);
    EXPECT_TRUE(s.attrs.empty());
    EXPECT_FALSE(s.warning.empty());
    // compute_* refuse offsets outside the message.
    Bytes m = H(kMinimalMi);
    EXPECT_EQ(compute_message_integrity(m, m.size() + 1, kMiKey), std::nullopt);
    EXPECT_EQ(compute_message_integrity(m, 10, kMiKey), std::nullopt);
    EXPECT_FALSE(compute_fingerprint(m, m.size() + 4));
}

TEST(MediaStun, AttributeDecoders) {
    std::optional<SockAddr> a = decode_wasm_relay_endpoint(H("00012c84bce246c7"));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->to_string(), "157.240.226.133:3478");
    EXPECT_EQ(a->port, 3478);
    EXPECT_FALSE(decode_wasm_relay_endpoint(H("00022c84bce246c7")));
    EXPECT_FALSE(decode_wasm_relay_endpoint(H("00012c84bce246")));
    // XOR-MAPPED-ADDRESS v4 (RFC 5769 §2.2 response: 192.0.2.1:32853).
    Bytes tx = H("b7e7a701bc34d686fa87dfae");
    ASSERT_TRUE(a = decode_xor_mapped_address(H("0001a147e112a643"), tx));
    EXPECT_EQ(a->to_string(), "192.0.2.1:32853");
    // v6 (RFC 5769 §2.3: 2001:db8:1234:5678:11:2233:4455:6677 port 32853).
    ASSERT_TRUE(a = decode_xor_mapped_address(H("0002a1470113a9faa5d3f179bc25f4b5bed2b9d9"), tx));
    EXPECT_EQ(a->to_string(), "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
    EXPECT_FALSE(decode_xor_mapped_address(H("0002a1470113a9faa5d3f179bc25f4b5bed2b9"), tx));
    EXPECT_FALSE(decode_xor_mapped_address(H("0002a1470113a9faa5d3f179bc25f4b5bed2b9d9"), {}));
    ASSERT_TRUE(a = decode_mapped_address(H("00010d96c0000201")));
    EXPECT_EQ(a->to_string(), "192.0.2.1:3478");

    std::optional<StunErrorCode> e = decode_error_code(H("000004014e6f7420666f756e64"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, 401);
    EXPECT_EQ(e->reason, "Not found");
    EXPECT_FALSE(decode_error_code(H("000004")));

    EXPECT_EQ(decode_participant_count(H("02")), std::optional<uint64_t>(2));
    EXPECT_EQ(decode_participant_count(H("ac02")), std::optional<uint64_t>(300));
    EXPECT_FALSE(decode_participant_count(H("ac")));
    EXPECT_FALSE(decode_participant_count(H("0203")));
    EXPECT_FALSE(decode_participant_count({}));

    EXPECT_EQ(decode_native_sender_sub(H("0112345678")), std::optional<uint32_t>(0x12345678u));
    EXPECT_FALSE(decode_native_sender_sub(H("0212345678")));
    EXPECT_FALSE(decode_native_sender_sub(H("01123456")));
}

TEST(MediaStun, GroupAllocateAttributes) {
    // 0x4024: nine stream descriptors + two HBH-FEC ones.
    StreamDescriptors sd = decode_stream_descriptors(
        H("0a06188cd889f5030a07100118a8b6e65f0a08100218d68ab9a10f0a08080118a6e2a3a7010a0a0801100118cfa6d8d80b0a0a08011002"
          "18809ec5c5090a08080218e38281870e0a0a0802100118968ab6a7070a0a080210021893cca2f50d0a0a0803100318b8f2858d0c0a0a08"
          "041003188499c8dd01"));
    ASSERT_EQ(sd.status, ProtoStatus::Ok);
    const std::vector<StreamDescriptor> &d = sd.items;
    const uint32_t ssrcs[11] = {0x3ea26c0c, 0x0bf99b28, 0xf42e4556, 0x14e8f126, 0xbb16134f, 0x98b14f00,
                                0xe0e04163, 0x74ed8516, 0xdea8a613, 0xc1a17938, 0x1bb20c84};
    ASSERT_EQ(d.size(), 11u);
    for (size_t i = 0; i < 11; i++) EXPECT_EQ(d[i].ssrc, ssrcs[i]) << i;
    for (size_t i = 0; i < 9; i++) {
        EXPECT_EQ(d[i].stream_index, i / 3);
        EXPECT_EQ(d[i].sub_type, i % 3);
    }
    EXPECT_EQ(d[9].stream_index, 3u);
    EXPECT_EQ(d[9].sub_type, 3u);
    EXPECT_EQ(d[10].stream_index, 4u);
    EXPECT_STREQ(stream_subtype_name(d[10].sub_type), "HBH-FEC");

    // 0x4025: video (pids), video1 (no pids), audio (pids), app data (pids).
    std::optional<SenderSubscriptions> subs = decode_sender_subscriptions(
        H("0a1f0a1d0a0fa6e2a3a701cfa6d8d80b809ec5c5091204080110011204080210010a130a110a0fe38281870e968ab6a70793cca2f50d0a"
          "1a0a180a0e8cd889f503a8b6e65fd68ab9a10f12020801120208020a110a0f0a05bedaf7980b1202080112020802"));
    ASSERT_TRUE(subs);
    const SenderSubscriptions &s = *subs;
    EXPECT_EQ(s.shape, SenderSubscriptions::GroupV2);
    ASSERT_EQ(s.entries.size(), 4u);
    EXPECT_EQ(s.entries[0].ssrcs, (std::vector<uint32_t>{0x14e8f126, 0xbb16134f, 0x98b14f00}));
    EXPECT_EQ(s.entries[0].pids, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(s.entries[1].ssrcs, (std::vector<uint32_t>{0xe0e04163, 0x74ed8516, 0xdea8a613}));
    EXPECT_TRUE(s.entries[1].pids.empty());
    EXPECT_EQ(s.entries[2].ssrcs, (std::vector<uint32_t>{0x3ea26c0c, 0x0bf99b28, 0xf42e4556}));
    EXPECT_EQ(s.entries[2].pids, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(s.entries[3].ssrcs, (std::vector<uint32_t>{0xb31ded3e}));
    EXPECT_EQ(s.entries[3].pids, (std::vector<int64_t>{1, 2}));

    // 0x4021: pids [1, 2].
    EXPECT_EQ(decode_receiver_subscriptions(H("1202080112020802")), (std::optional<std::vector<int64_t>>({1, 2})));
    EXPECT_EQ(decode_receiver_subscriptions(H("12020801120208")), std::nullopt);
    EXPECT_EQ(decode_receiver_subscriptions(H("1202100112020801")), std::nullopt);  // an entry without a pid
    // 0x805A: 2 participants.
    EXPECT_EQ(decode_participant_count(H("02")), std::optional<uint64_t>(2));
}

TEST(MediaStun, AndroidAndWasmProtobufShapes) {
    StreamDescriptors sd = decode_stream_descriptors(H("0a150a05617564696f12044f50555318f0d9a2a3022000"));
    ASSERT_EQ(sd.status, ProtoStatus::Ok);
    const std::vector<StreamDescriptor> &d = sd.items;
    ASSERT_EQ(d.size(), 1u);
    EXPECT_TRUE(d[0].android);
    EXPECT_EQ(d[0].stream_name, "audio");
    EXPECT_EQ(d[0].codec, "OPUS");
    EXPECT_EQ(d[0].ssrc, 0x12345678u);

    SenderSubscriptions s;
    ASSERT_TRUE(decode_sender_subscriptions(H("0a130a1108f0d9a2a3021209080e1205617564696f")));
    s = *decode_sender_subscriptions(H("0a130a1108f0d9a2a3021209080e1205617564696f"));
    EXPECT_EQ(s.shape, SenderSubscriptions::Android);
    ASSERT_EQ(s.entries.size(), 1u);
    EXPECT_EQ(s.entries[0].ssrcs, (std::vector<uint32_t>{0x12345678}));
    EXPECT_EQ(s.entries[0].pids, (std::vector<int64_t>{7}));
    EXPECT_EQ(s.entries[0].media, "audio");

    ASSERT_TRUE(decode_sender_subscriptions(H("0a080a0608f0d9a2a302")));
    s = *decode_sender_subscriptions(H("0a080a0608f0d9a2a302"));
    EXPECT_EQ(s.shape, SenderSubscriptions::Android);
    EXPECT_EQ(s.entries[0].ssrcs, (std::vector<uint32_t>{0x12345678}));
    EXPECT_TRUE(s.entries[0].pids.empty());

    ASSERT_TRUE(decode_sender_subscriptions(H("0a0a18f8acd1910128003000")));
    s = *decode_sender_subscriptions(H("0a0a18f8acd1910128003000"));
    EXPECT_EQ(s.shape, SenderSubscriptions::Wasm);
    EXPECT_EQ(s.entries[0].ssrcs, (std::vector<uint32_t>{0x12345678}));
    EXPECT_STREQ(subscription_shape_name(s.shape), "WASM voip.SenderSubscriptions");

    // Not a known shape -> nullopt (the dissector falls back to the generic tree).
    EXPECT_EQ(decode_sender_subscriptions(H("1202080112020802")), std::nullopt);
    EXPECT_EQ(decode_sender_subscriptions(H("0a0a18f8acd191")), std::nullopt);
    // Stream descriptors tell the failures apart and keep the entries decoded before one.
    StreamDescriptors bad = decode_stream_descriptors(H("0a0a18f8acd191"));
    EXPECT_EQ(bad.status, ProtoStatus::Malformed);
    EXPECT_TRUE(bad.items.empty());
    EXPECT_EQ(decode_stream_descriptors({}).status, ProtoStatus::Empty);
    EXPECT_STREQ(proto_status_name(ProtoStatus::Empty), "no entries");
    // A good WASM entry, then field 2 where only field 1 entries exist: the first is kept.
    StreamDescriptors partial = decode_stream_descriptors(H("0a06188cd889f503" "1200"));
    EXPECT_EQ(partial.status, ProtoStatus::WrongShape);
    EXPECT_FALSE(partial.ok());
    ASSERT_EQ(partial.items.size(), 1u);
    EXPECT_EQ(partial.items[0].ssrc, 0x3ea26c0cu);
    // The same entry, then a truncated one: Malformed, the first still kept.
    StreamDescriptors cut = decode_stream_descriptors(H("0a06188cd889f503" "0a0618"));
    EXPECT_EQ(cut.status, ProtoStatus::Malformed);
    ASSERT_EQ(cut.items.size(), 1u);
    // An entry without field 3 names no SSRC (nullopt, not 0).
    StreamDescriptors no_ssrc = decode_stream_descriptors(H("0a020801"));
    ASSERT_EQ(no_ssrc.status, ProtoStatus::Ok);
    ASSERT_EQ(no_ssrc.items.size(), 1u);
    EXPECT_EQ(no_ssrc.items[0].stream_index, 1u);
    EXPECT_EQ(no_ssrc.items[0].ssrc, std::nullopt);
    // An SSRC as a length-delimited field: WrongShape.
    EXPECT_EQ(decode_stream_descriptors(H("0a031a0100")).status, ProtoStatus::WrongShape);
}

TEST(MediaStun, GenericProtobufTree) {
    Bytes v = H("0a150a05617564696f12044f50555318f0d9a2a3022000");
    std::optional<std::vector<ProtoNode>> tree = protobuf_tree(v);
    ASSERT_TRUE(tree);
    std::vector<ProtoNode> t = *tree;
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].number, 1u);
    EXPECT_EQ(t[0].value_offset, 2u);
    ASSERT_EQ(t[0].children.size(), 4u);
    EXPECT_EQ(t[0].children[0].number, 1u);
    EXPECT_TRUE(t[0].children[0].printable);
    EXPECT_TRUE(t[0].children[0].children.empty());  // "audio" is not a message
    EXPECT_EQ(t[0].children[0].value_offset, 4u);
    EXPECT_EQ(t[0].children[1].offset, 9u);
    EXPECT_EQ(t[0].children[2].type, protowire::Varint);
    EXPECT_EQ(t[0].children[2].varint, 0x2468acf0u);
    EXPECT_EQ(t[0].children[2].offset, 15u);
    EXPECT_EQ(t[0].children[2].value_offset, 16u);
    EXPECT_EQ(t[0].children[3].varint, 0u);
    // Truncations never read out of bounds and report failure.
    for (size_t n = 1; n < v.size(); n++) {
        Bytes cut(v.begin(), v.begin() + long(n));
        EXPECT_EQ(protobuf_tree(cut), std::nullopt) << n;
    }
    // Depth limit stops recursion.
    tree = protobuf_tree(v, 0);
    ASSERT_TRUE(tree);
    t = *tree;
    EXPECT_TRUE(t[0].children.empty());
}

// ---- RTP --------------------------------------------------------------------------------------

TEST(MediaRtp, SpeechHeader16) {
    Bytes p = H("90f800010000000012345678debe0000");
    RtpHeader h;
    ASSERT_EQ(parse_rtp_header(p, h), RtpParseError::None);
    EXPECT_EQ(h.version, 2);
    EXPECT_TRUE(h.extension);
    EXPECT_TRUE(h.marker);
    EXPECT_EQ(h.payload_type, 120);
    EXPECT_EQ(h.seq, 1);
    EXPECT_EQ(h.timestamp, 0u);
    EXPECT_EQ(h.ssrc, 0x12345678u);
    EXPECT_TRUE(h.has_ext);
    EXPECT_FALSE(h.ext_without_x);
    EXPECT_EQ(h.ext_profile, kWarpExtProfile);
    EXPECT_EQ(h.ext_words, 0);
    EXPECT_EQ(h.n_elements, 0);
    EXPECT_EQ(h.header_len, 16u);
    EXPECT_EQ(h.payload_len, 0u);
    EXPECT_STREQ(warp_payload_type_name(h.payload_type), "WA audio (MLOW / Opus 16 kHz)");
}

TEST(MediaRtp, DtxHeader20) {
    Bytes p = H("907800020000014012345678debe000130010000");
    RtpHeader h;
    ASSERT_EQ(parse_rtp_header(p, h), RtpParseError::None);
    EXPECT_FALSE(h.marker);
    EXPECT_EQ(h.seq, 2);
    EXPECT_EQ(h.timestamp, 320u);
    EXPECT_EQ(h.header_len, 20u);
    ASSERT_EQ(h.n_elements, 1);
    EXPECT_EQ(h.elements[0].id, 3);
    EXPECT_EQ(h.elements[0].len, 1);
    EXPECT_EQ(h.elements[0].value_offset, 17u);
    EXPECT_STREQ(warp_ext_element_name(3, 1, false), "DTX/piggyback");
    WarpExtInfo w = decode_warp_ext(p, h, false);
    EXPECT_TRUE(w.dtx_piggyback);
    EXPECT_EQ(w.dtx_value, 0x01);
}

TEST(MediaRtp, AndroidVideoHeaders) {
    Bytes p = H("90e100010001bdc849c5fb8cdebe0003300951000061001d910c3f00");
    RtpHeader h;
    ASSERT_EQ(parse_rtp_header(p, h), RtpParseError::None);
    EXPECT_TRUE(h.marker);
    EXPECT_EQ(h.payload_type, 97);
    EXPECT_EQ(h.seq, 1);
    EXPECT_EQ(h.timestamp, 114120u);
    EXPECT_EQ(h.ssrc, 0x49c5fb8cu);
    EXPECT_EQ(h.header_len, 28u);
    EXPECT_EQ(to_hex(ByteView(p).sub(h.ext_data_offset, size_t(h.ext_words) * 4)), "300951000061001d910c3f00");
    ASSERT_EQ(h.n_elements, 4);
    EXPECT_EQ(h.elements[0].id, 3);
    EXPECT_EQ(h.elements[1].id, 5);
    EXPECT_EQ(h.elements[2].id, 6);
    EXPECT_EQ(h.elements[3].id, 9);
    EXPECT_STREQ(warp_ext_element_name(9, 2, true), "transport_sequence");
    WarpExtInfo w = decode_warp_ext(p, h, warp_pt_is_video(h.payload_type));
    EXPECT_TRUE(w.frame_info.has_value());
    EXPECT_EQ(w.frame_info, 0x09);
    EXPECT_TRUE(w.keyframe);
    EXPECT_TRUE(w.initial_bandwidth.has_value());
    EXPECT_EQ(w.initial_bandwidth, 0);
    EXPECT_EQ(w.short_offset, 29);
    EXPECT_EQ(w.transport_seq, 0x0c3f);

    Bytes d = H("90e1000700022ea29b1959f0debe00033001510000610024910a6a00");
    ASSERT_EQ(parse_rtp_header(d, h), RtpParseError::None);
    EXPECT_EQ(h.seq, 7);
    EXPECT_EQ(h.timestamp, 143010u);
    EXPECT_EQ(h.ssrc, 0x9b1959f0u);
    w = decode_warp_ext(d, h, true);
    EXPECT_EQ(w.frame_info, 0x01);
    EXPECT_FALSE(w.keyframe);
    EXPECT_EQ(w.short_offset, 36);
    EXPECT_EQ(w.transport_seq, 0x0a6a);

    Bytes wv = H("90e100000000000011223344debe0003300951000061000091000000");
    ASSERT_EQ(parse_rtp_header(wv, h), RtpParseError::None);
    w = decode_warp_ext(wv, h, true);
    EXPECT_TRUE(w.keyframe);
    EXPECT_EQ(h.ssrc, 0x11223344u);
    EXPECT_EQ(w.transport_seq, 0);
}

TEST(MediaRtp, DebeWithoutXBitIsAcceptedAndFlagged) {
    // R1: the spec writes the 16-byte speech header with X=0 but keeps DE BE 00 00.
    Bytes p = H("80f800010000000012345678debe0000aabbcc");
    RtpHeader h;
    ASSERT_EQ(parse_rtp_header(p, h), RtpParseError::None);
    EXPECT_FALSE(h.extension);
    EXPECT_TRUE(h.has_ext);
    EXPECT_TRUE(h.ext_without_x);
    EXPECT_EQ(h.header_len, 16u);
    EXPECT_EQ(h.payload_len, 3u);
    RtpParseOptions strict;
    strict.accept_debe_without_x = false;
    ASSERT_EQ(parse_rtp_header(p, h, strict), RtpParseError::None);
    EXPECT_FALSE(h.has_ext);
    EXPECT_EQ(h.header_len, 12u);
}

TEST(MediaRtp, Rfc8285AndCsrcAndPadding) {
    // BEDE profile, CC=1, P set with 2 bytes of padding.
    Bytes p = H("b1600005000000640000000100000002bede000110aa0000cafe0002");
    RtpHeader h;
    ASSERT_EQ(parse_rtp_header(p, h), RtpParseError::None);
    EXPECT_EQ(h.csrc_count, 1);
    EXPECT_EQ(h.csrc[0], 2u);
    EXPECT_EQ(h.ext_profile, kRfc8285OneByte);
    ASSERT_EQ(h.n_elements, 1);
    EXPECT_EQ(h.elements[0].id, 1);
    EXPECT_EQ(h.elements[0].len, 1);
    EXPECT_EQ(p[h.elements[0].value_offset], 0xaa);
    EXPECT_EQ(h.header_len, 24u);
    EXPECT_EQ(h.padding_len, 2);
    EXPECT_EQ(h.payload_len, 2u);
    // Padding count larger than the payload is flagged, not trusted.
    Bytes bad = H("a0600005000000640000000100ff");
    ASSERT_EQ(parse_rtp_header(bad, h), RtpParseError::None);
    EXPECT_TRUE(h.padding_invalid);
    EXPECT_EQ(h.payload_len, 2u);
    // An element claiming more bytes than the extension holds is cut, not overrun.
    Bytes over = H("9060000500000064aabbccdddebe00013f000000");
    ASSERT_EQ(parse_rtp_header(over, h), RtpParseError::None);
    EXPECT_TRUE(h.elements_truncated);
    EXPECT_EQ(h.n_elements, 0);
}

TEST(MediaRtp, EveryTruncationIsBounded) {
    for (const char *hex : {"90f800010000000012345678debe0000", "907800020000014012345678debe000130010000",
                            "90e100010001bdc849c5fb8cdebe0003300951000061001d910c3f00",
                            "b1600005000000640000000100000002bede000110aa0000cafe0002"}) {
        Bytes p = H(hex);
        RtpHeader full;
        ASSERT_EQ(parse_rtp_header(p, full), RtpParseError::None);
        for (size_t n = 0; n < full.header_len; n++) {
            Bytes cut(p.begin(), p.begin() + long(n));
            RtpHeader h;
            RtpParseError e = parse_rtp_header(cut, h);
            // With X=0-style DE BE detection, a cut 16-byte header may parse as a shorter header;
            // it must never claim bytes it does not have.
            if (e == RtpParseError::None) {
                EXPECT_LE(h.header_len, n) << hex << " " << n;
            } else {
                EXPECT_NE(rtp_parse_error_name(e), nullptr);
            }
            if (n < 12) {
                EXPECT_EQ(e, RtpParseError::TooShort);
            }
        }
    }
    RtpHeader h;
    EXPECT_EQ(parse_rtp_header(H("50f800010000000012345678"), h), RtpParseError::BadVersion);
    EXPECT_EQ(parse_rtp_header(H("82f80001000000001234567800000001"), h), RtpParseError::CsrcTruncated);
    EXPECT_EQ(parse_rtp_header(H("90f800010000000012345678debe0002aabbccdd"), h), RtpParseError::ExtTruncated);
}

// ---- RTCP -------------------------------------------------------------------------------------

TEST(MediaRtcp, Compact208And209) {
    RtcpCompound c;
    std::vector<RtcpPacket> v;
    ASSERT_EQ((c = parse_rtcp_compound(H("81d00002123456789abcdef0"))).status, RtcpStatus::Ok);
    v = c.packets;
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].pt, 208);
    EXPECT_EQ(v[0].count, 1);
    EXPECT_EQ(v[0].length_words, 2);
    EXPECT_EQ(v[0].sender_ssrc, 0x12345678u);
    EXPECT_EQ(v[0].remote_ssrc, 0x9abcdef0u);
    EXPECT_STREQ(rtcp_pt_name(208), "WA compact report");
    ASSERT_EQ((c = parse_rtcp_compound(H("81d1000112345678"))).status, RtcpStatus::Ok);
    v = c.packets;
    EXPECT_EQ(v[0].pt, 209);
    EXPECT_EQ(v[0].sender_ssrc, 0x12345678u);
    EXPECT_EQ(v[0].size, 8u);
}

TEST(MediaRtcp, SenderReportAndSdesCompound) {
    Bytes sr = H("80c8000612345678ea11180000000000000006400000000500000258");
    Bytes sdes = H("81ca0007123456780112363637373840706a3839396161622e6f726700000000");
    Bytes both = sr;
    both.insert(both.end(), sdes.begin(), sdes.end());
    RtcpCompound c;
    std::vector<RtcpPacket> v;
    ASSERT_EQ((c = parse_rtcp_compound(both)).status, RtcpStatus::Ok);
    v = c.packets;
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].pt, 200);
    ASSERT_TRUE(v[0].sender_info.has_value());
    EXPECT_EQ(v[0].sender_ssrc, 0x12345678u);
    EXPECT_EQ(v[0].sender_info->ntp_sec, 0xea111800u);  // 1718000000 + 2208988800
    EXPECT_EQ(v[0].sender_info->ntp_frac, 0u);
    EXPECT_EQ(v[0].sender_info->rtp_ts, 1600u);
    EXPECT_EQ(v[0].sender_info->packet_count, 5u);
    EXPECT_EQ(v[0].sender_info->octet_count, 600u);
    EXPECT_FALSE(v[1].sender_info.has_value());  // SDES has none
    EXPECT_TRUE(v[0].reports.empty());
    EXPECT_EQ(v[1].pt, 202);
    EXPECT_EQ(v[1].offset, 28u);
    ASSERT_EQ(v[1].sdes.size(), 1u);
    EXPECT_EQ(v[1].sdes[0].ssrc, 0x12345678u);
    ASSERT_EQ(v[1].sdes[0].items.size(), 1u);
    EXPECT_EQ(v[1].sdes[0].items[0].type, 1);
    EXPECT_EQ(std::string(v[1].sdes[0].items[0].value.begin(), v[1].sdes[0].items[0].value.end()),
              "66778@pj899aab.org");
    EXPECT_EQ(v[1].sdes[0].items[0].offset, 36u);

    ASSERT_EQ((c = parse_rtcp_compound(H("81ca00021234567800000000"))).status, RtcpStatus::Ok);
    v = c.packets;
    ASSERT_EQ(v[0].sdes.size(), 1u);
    EXPECT_TRUE(v[0].sdes[0].items.empty());

    for (size_t n = 0; n < both.size(); n++) {
        Bytes cut(both.begin(), both.begin() + long(n));
        // Cut at the SR/SDES boundary the SR alone is a complete compound.
        c = parse_rtcp_compound(cut);
        v = c.packets;
        EXPECT_EQ(c.ok(), n == sr.size()) << n;
        // Cut inside a header: HeaderCut; inside a body: that packet is kept with its error.
        RtcpStatus want = RtcpStatus::BadPacket;
        if (n == 0) want = RtcpStatus::Empty;
        else if (n == sr.size()) want = RtcpStatus::Ok;
        else if (n < 4 || (n > sr.size() && n < sr.size() + 4)) want = RtcpStatus::HeaderCut;
        EXPECT_EQ(c.status, want) << n;
        for (auto &p : v) {
            EXPECT_LE(p.offset + p.size, n);
            for (auto &c : p.sdes)
                for (auto &it : c.items) EXPECT_LE(size_t(it.value.data - cut.data()) + it.value.size, n);
        }
    }
}

TEST(MediaRtcp, WhatsAppProfileReportStride) {
    // RR with the 0x10 profile flag, count 1, one 48-byte block (24 bytes + 24 appended zeros).
    Bytes rr = H("91c9000d11111111"
                 "22222222"
                 "05000003"
                 "00001000"
                 "00000020"
                 "aabbccdd"
                 "00000100"
                 "000000000000000000000000000000000000000000000000");
    RtcpCompound c;
    std::vector<RtcpPacket> v;
    ASSERT_EQ((c = parse_rtcp_compound(rr)).status, RtcpStatus::Ok);
    v = c.packets;
    ASSERT_EQ(v.size(), 1u);
    EXPECT_TRUE(v[0].wa_profile);
    EXPECT_EQ(v[0].count, 1);
    EXPECT_EQ(v[0].report_stride, 48u);
    ASSERT_EQ(v[0].reports.size(), 1u);
    EXPECT_EQ(v[0].reports[0].ssrc, 0x22222222u);
    EXPECT_EQ(v[0].reports[0].fraction_lost, 5);
    EXPECT_EQ(v[0].reports[0].cumulative_lost, 3);
    EXPECT_EQ(v[0].reports[0].highest_seq, 0x1000u);
    EXPECT_EQ(v[0].reports[0].jitter, 0x20u);
    EXPECT_EQ(v[0].reports[0].lsr, 0xaabbccddu);
    EXPECT_EQ(v[0].reports[0].dlsr, 0x100u);
    EXPECT_EQ(v[0].reports[0].offset, 8u);
    // Without the flag the same packet is a 24-byte block with trailing data.
    Bytes std_rr = rr;
    std_rr[0] = 0x81;
    ASSERT_EQ((c = parse_rtcp_compound(std_rr)).status, RtcpStatus::Ok);
    v = c.packets;
    EXPECT_EQ(v[0].report_stride, 24u);
    // Negative cumulative loss (24-bit signed).
    Bytes neg = H("81c900071111111122222222" "05fffffe" "0000100000000020aabbccdd00000100");
    ASSERT_EQ((c = parse_rtcp_compound(neg)).status, RtcpStatus::Ok);
    v = c.packets;
    EXPECT_EQ(v[0].reports[0].cumulative_lost, -2);
    // A count larger than the blocks present is an error, not an overread.
    Bytes over = H("83c9000711111111222222220500000300001000" "00000020aabbccdd00000100");
    c = parse_rtcp_compound(over);
    v = c.packets;
    EXPECT_EQ(c.status, RtcpStatus::BadPacket);
    EXPECT_FALSE(v[0].error.empty());
    EXPECT_EQ(v[0].reports.size(), 1u);
}

TEST(MediaRtcp, FeedbackPackets) {
    // PSFB FMT 4 (FIR) with one row.
    RtcpCompound c;
    std::vector<RtcpPacket> v;
    ASSERT_EQ((c = parse_rtcp_compound(H("84ce0004111111110000000033333333" "07000000"))).status, RtcpStatus::Ok);
    v = c.packets;
    EXPECT_EQ(v[0].pt, 206);
    EXPECT_EQ(v[0].fmt, 4);
    EXPECT_EQ(v[0].sender_ssrc, 0x11111111u);
    EXPECT_EQ(v[0].media_ssrc, 0u);
    ASSERT_EQ(v[0].fir.size(), 1u);
    EXPECT_EQ(v[0].fir[0].ssrc, 0x33333333u);
    EXPECT_EQ(v[0].fir[0].seq, 7);
    // RTPFB FMT 1 (generic NACK): FCI exposed as bytes.
    Bytes nack = H("81cd00031111111122222222" "00100003");  // views point into this buffer
    ASSERT_EQ((c = parse_rtcp_compound(nack)).status, RtcpStatus::Ok);
    v = c.packets;
    EXPECT_EQ(v[0].pt, 205);
    EXPECT_EQ(v[0].fmt, 1);
    EXPECT_EQ(v[0].media_ssrc, 0x22222222u);
    EXPECT_EQ(to_hex(v[0].fci), "00100003");
    // Not RTCP at all.
    c = parse_rtcp_compound(H("41c9000111111111"));
    EXPECT_EQ(c.status, RtcpStatus::NotVersion2);
    EXPECT_TRUE(c.packets.empty());
    EXPECT_EQ(parse_rtcp_compound({}).status, RtcpStatus::Empty);
    // A good RR followed by 2 stray bytes: the RR is kept, the status names the cut header.
    c = parse_rtcp_compound(H("80c90001111111110000"));
    EXPECT_EQ(c.status, RtcpStatus::HeaderCut);
    ASSERT_EQ(c.packets.size(), 1u);
    EXPECT_EQ(c.packets[0].sender_ssrc, 0x11111111u);
    EXPECT_STREQ(rtcp_status_name(RtcpStatus::NotVersion2), "not RTCP version 2");
}

// ---- robustness: mutated vectors and random bytes through every parser ------------------------

static void run_all_parsers(const Bytes &b) {
    ByteView v(b);
    (void)classify(v);
    (void)unwrap_group_envelope(v);
    StunMessage s;
    if (parse_stun(v, s) == StunStatus::Ok) {
        for (auto &a : s.attrs) {
            (void)decode_xor_mapped_address(a.value, s.txid);
            (void)decode_mapped_address(a.value);
            (void)decode_wasm_relay_endpoint(a.value);
            (void)decode_error_code(a.value);
            (void)decode_participant_count(a.value);
            (void)decode_native_sender_sub(a.value);
            (void)decode_stream_descriptors(a.value);
            (void)decode_sender_subscriptions(a.value);
            (void)decode_receiver_subscriptions(a.value);
            (void)protobuf_tree(a.value);
            (void)verify_message_integrity(v, a, kMiKey);
            (void)verify_fingerprint(v, a);
        }
    }
    (void)decode_stream_descriptors(v);
    (void)decode_sender_subscriptions(v);
    (void)protobuf_tree(v);
    RtpHeader h;
    if (parse_rtp_header(v, h) == RtpParseError::None) {
        ASSERT_LE(h.header_len, b.size());
        ASSERT_LE(h.header_len + h.payload_len, b.size());
        for (uint8_t i = 0; i < h.n_elements; i++) ASSERT_LE(h.elements[i].value_offset + h.elements[i].len, b.size());
        (void)decode_warp_ext(v, h, true);
        (void)decode_warp_ext(v, h, false);
    }
    for (auto &p : parse_rtcp_compound(v).packets) ASSERT_LE(p.offset + p.size, b.size());
}

TEST(MediaRobustness, MutatedVectorsAndRandomBytes) {
    const char *seeds[] = {kMinimalMi, kWithFp, kWasmAllocate, "080100002112a442a0a1a2a3a4a5a6a7a8a9aaab",
                           "90e100010001bdc849c5fb8cdebe0003300951000061001d910c3f00",
                           "907800020000014012345678debe000130010000",
                           "80c8000612345678ea1118000000000000000640000000050000025881ca0007123456780112363637373840706a3839396161622e6f726700000000",
                           "0902336e0100018890e1001300120c96772e6aa9"};
    uint32_t rng = 12345;
    auto next = [&] {
        rng = rng * 1664525u + 1013904223u;
        return rng >> 8;
    };
    for (const char *hex : seeds) {
        Bytes base = H(hex);
        for (int iter = 0; iter < 3000; iter++) {
            Bytes m = base;
            int flips = 1 + int(next() % 4);
            for (int f = 0; f < flips; f++) m[next() % m.size()] = uint8_t(next());
            if (next() % 4 == 0) m.resize(next() % (m.size() + 1));
            run_all_parsers(m);
        }
    }
    for (int iter = 0; iter < 5000; iter++) {
        Bytes m(next() % 96);
        for (auto &x : m) x = uint8_t(next());
        if (m.size() >= 8 && iter % 3 == 0) {  // steer some into each classifier branch
            m[0] = iter % 2 ? 0x00 : 0x80;
            put_be32(m.data() + 4, 0x2112A442);
        }
        run_all_parsers(m);
    }
}

TEST(MediaStun, TokenAttributeBytes) {
    Bytes m = H(kMinimalMi);
    EXPECT_EQ(to_hex(ByteView(m).sub(20, 12)), "400000081020304050607080");  // attr_token vector
}

static size_t next_len(uint32_t &rng) {
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 16) % 40;
}

TEST(MediaRtp, LocateAgreesWithFullParse) {
    uint32_t rng = 99;
    for (int iter = 0; iter < 20000; iter++) {
        Bytes m(next_len(rng));
        for (auto &x : m) {
            rng = rng * 1664525u + 1013904223u;
            x = uint8_t(rng >> 24);
        }
        if (m.size() > 0 && iter % 2) m[0] = uint8_t(0x80 | (m[0] & 0x3f));
        if (m.size() > 13 && iter % 4 == 1) {
            m[12] = 0xDE;
            m[13] = 0xBE;
        }
        RtpHeader h;
        RtpLocation loc;
        RtpParseOptions po;
        po.interpret_padding = false;
        RtpParseError a = parse_rtp_header(m, h, po), b = locate_rtp_payload(m, loc);
        ASSERT_EQ(a, b);
        if (a == RtpParseError::None) {
            ASSERT_EQ(h.header_len, loc.header_len);
            ASSERT_EQ(h.seq, loc.seq);
            ASSERT_EQ(h.ssrc, loc.ssrc);
        }
    }
}

TEST(MediaStun, UnalignedBodyLengthIsNotedNotMalformed) {
    // Real 2019 relays: body length 5 = one attribute of 1 byte without its padding.
    Bytes m = {0x00, 0x03, 0x00, 0x05, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
               0x40, 0x00, 0x00, 0x01, 0xAB};
    StunMessage s;
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    EXPECT_TRUE(s.length_unaligned);
    EXPECT_TRUE(s.warning.empty()) << s.warning;
    ASSERT_EQ(s.attrs.size(), 1u);
    EXPECT_EQ(s.attrs[0].length, 1u);
    // A body length past the datagram is still a warning.
    m[3] = 0x09;
    StunMessage t;
    ASSERT_EQ(parse_stun(m, t), StunStatus::Ok);
    EXPECT_FALSE(t.warning.empty());
}

// ---- the WhatsApp dialects of 2015-2023 (issue 12) -----------------------------------------------

namespace {
// A STUN message from raw TLVs (no padding added: the caller writes what it wants on the wire).
Bytes stun_raw(uint16_t type, const Bytes &body, bool cookie = true) {
    Bytes m = {uint8_t(type >> 8), uint8_t(type), uint8_t(body.size() >> 8), uint8_t(body.size())};
    if (cookie) m.insert(m.end(), {0x21, 0x12, 0xA4, 0x42});
    for (int i = 0; i < (cookie ? 12 : 16); i++) m.push_back(uint8_t(0xA0 + i));
    m.insert(m.end(), body.begin(), body.end());
    return m;
}
Bytes tlv(uint16_t type, size_t len, uint8_t fill, bool pad) {
    Bytes t = {uint8_t(type >> 8), uint8_t(type), uint8_t(len >> 8), uint8_t(len)};
    for (size_t i = 0; i < len; i++) t.push_back(uint8_t(fill + i));
    if (pad)
        while (t.size() % 4) t.push_back(0);
    return t;
}
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto &p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
Bytes wa_token(uint32_t ssrc, size_t len) {
    Bytes v = {0x00, 0x22, 0x00, uint8_t(len), 0x03, uint8_t(ssrc >> 24), uint8_t(ssrc >> 16), uint8_t(ssrc >> 8),
               uint8_t(ssrc)};
    for (size_t i = 5; i < len; i++) v.push_back(uint8_t(0x50 + i));
    return v;
}
}  // namespace

TEST(MediaStunDialect, PaddedWalk) {
    Bytes m = stun_raw(0x0003, cat({tlv(0x4000, 102, 1, true), tlv(0x4003, 9, 7, true)}));
    std::vector<uint16_t> seen;
    StunWalk w = stun_for_each_attribute(m, [&](const StunAttr &a) {
        seen.push_back(a.type);
        return true;
    });
    EXPECT_EQ(w.layout, StunLayout::Padded);
    EXPECT_EQ(w.end, m.size());
    EXPECT_EQ(seen, (std::vector<uint16_t>{0x4000, 0x4003}));
    StunMessage s;
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    EXPECT_EQ(s.layout, StunLayout::Padded);
    EXPECT_TRUE(s.warning.empty());
    EXPECT_STREQ(stun_layout_name(s.layout), "padded");
}

TEST(MediaStunDialect, UnpaddedAllocateOf164Bytes) {
    // Clients up to 2020: 0x4000 (102) then three 0x0022 (16, 14, 16), back to back.
    Bytes body = cat({tlv(0x4000, 102, 1, false), wa_token(0xCAFEF00D, 16), wa_token(0x11223344, 14),
                      wa_token(0x55667788, 16)});
    ASSERT_EQ(body.size(), 164u);
    Bytes m = stun_raw(0x0003, body);
    // The padded walk does not end at the message length; the unpadded one does.
    EXPECT_FALSE(stun_walk_fits(m, m.size(), true));
    EXPECT_TRUE(stun_walk_fits(m, m.size(), false));
    StunMessage s;
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    EXPECT_TRUE(s.warning.empty()) << s.warning;
    EXPECT_EQ(s.layout, StunLayout::Unpadded);
    ASSERT_EQ(s.attrs.size(), 4u);
    EXPECT_EQ(s.attrs[1].offset, 126u);
    EXPECT_EQ(s.attrs[2].offset, 146u);
    EXPECT_EQ(s.attrs[3].offset, 164u);
    EXPECT_EQ(s.attrs[3].length, 16u);
    EXPECT_STREQ(stun_attr_name(s.attrs[1].type), "WhatsApp stream token (not RESERVATION-TOKEN)");
    std::optional<WaToken> tk = decode_wa_token(s.attrs[1].value);
    ASSERT_TRUE(tk);
    EXPECT_EQ(tk->kind, 0x03);
    EXPECT_EQ(tk->ssrc, 0xCAFEF00Du);
    EXPECT_EQ(tk->rest.size, 11u);
    ASSERT_TRUE(tk = decode_wa_token(s.attrs[2].value));
    EXPECT_EQ(tk->ssrc, 0x11223344u);
    EXPECT_EQ(tk->rest.size, 9u);
    // RFC 5766's 8-byte RESERVATION-TOKEN is not WhatsApp's.
    EXPECT_FALSE(decode_wa_token(H("0102030405060708")));
    EXPECT_FALSE(decode_wa_token(H("04a0a1a2a3a4a5a6a7a8a9aaabac")));
}

TEST(MediaStunDialect, OldAllocateWithUnalignedLength) {
    // Older clients: 0x4000 / 0x4001 (102) and 0x4003 (9): a body of 119 bytes.
    for (uint16_t token : {uint16_t(0x4000), uint16_t(0x4001)}) {
        Bytes m = stun_raw(0x0003, cat({tlv(token, 102, 1, false), tlv(0x4003, 9, 9, false)}));
        StunMessage s;
        ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
        EXPECT_EQ(s.length, 119u);
        EXPECT_TRUE(s.length_unaligned);
        EXPECT_TRUE(s.warning.empty()) << s.warning;
        EXPECT_EQ(s.layout, StunLayout::Unpadded);
        ASSERT_EQ(s.attrs.size(), 2u);
        EXPECT_EQ(s.attrs[0].type, token);
        EXPECT_EQ(s.attrs[1].type, 0x4003);
        EXPECT_EQ(s.attrs[1].length, 9u);
        EXPECT_EQ(s.attrs[1].value[0], 9);
    }
    EXPECT_STREQ(stun_attr_name(0x4001), "relay token (0x4001)");
    EXPECT_STREQ(stun_attr_name(0x4003), "WhatsApp (unknown)");
}

TEST(MediaStunDialect, TrailingBytesCookielessPingsAnd802b) {
    // A ping with bytes past its declared length: they are trailing data, the message is clean.
    Bytes ping = stun_raw(0x0801, {});
    ping.insert(ping.end(), {0xDE, 0xAD, 0xBE, 0xEF, 0x01});
    StunMessage s;
    ASSERT_EQ(parse_stun(ping, s), StunStatus::Ok);
    EXPECT_TRUE(s.warning.empty());
    EXPECT_EQ(to_hex(s.trailing), "deadbeef01");
    EXPECT_TRUE(s.attrs.empty());
    // Without the cookie (RFC 3489 header): a WhatsApp type parses with a 16-byte txid...
    Bytes old = stun_raw(0x0802, {}, false);
    old.insert(old.end(), {0x00, 0x07});
    ASSERT_EQ(parse_stun(old, s), StunStatus::Ok);
    EXPECT_FALSE(s.has_cookie);
    EXPECT_EQ(s.txid.size, 16u);
    EXPECT_EQ(s.txid[0], 0xA0);
    EXPECT_EQ(to_hex(s.trailing), "0007");
    // ...any other type does not.
    EXPECT_EQ(parse_stun(stun_raw(0x0001, {}, false), s), StunStatus::BadMagic);
    // classify: cookieless pings are STUN only on a flow already known to be WhatsApp's.
    EXPECT_EQ(classify(old), PacketKind::Other);
    EXPECT_EQ(classify(old, true), PacketKind::Stun);
    EXPECT_EQ(classify(stun_raw(0x0001, {}, false), true), PacketKind::Other);
    EXPECT_EQ(classify(stun_raw(0x0806, {}, false), true), PacketKind::Other);
    Bytes lying = stun_raw(0x0801, {}, false);
    lying[3] = 8;  // declares a body the datagram does not have
    EXPECT_EQ(classify(lying, true), PacketKind::Other);
    // 0x802b of length 4: its top bit set, yet STUN (with the cookie), its body not attributes.
    Bytes m = stun_raw(0x802B, H("00000007"));
    EXPECT_EQ(classify(m), PacketKind::Stun);
    ASSERT_EQ(parse_stun(m, s), StunStatus::Ok);
    EXPECT_EQ(s.type, 0x802B);
    EXPECT_TRUE(s.warning.empty()) << s.warning;
    EXPECT_EQ(s.layout, StunLayout::Opaque);
    EXPECT_EQ(stun_type_name(0x802B), "WhatsApp 0x802b");
    // RTP with PT 43 and no cookie stays RTP.
    EXPECT_EQ(classify(H("802b000412345678aabbccdd")), PacketKind::Rtp);
    // An RFC type whose body fits no layout is still malformed.
    ASSERT_EQ(parse_stun(stun_raw(0x0001, H("00000007")), s), StunStatus::Ok);
    EXPECT_EQ(s.layout, StunLayout::Broken);
    EXPECT_FALSE(s.warning.empty());
}

TEST(MediaStunDialect, RelayEndpointRequestAndTime) {
    // 0x0804: 0x4007, 0x0016 (relay endpoint), 0x4004 zero padding, MESSAGE-INTEGRITY.
    Bytes ep = H("0016000800012c84bce246c7");
    Bytes body = cat({tlv(0x4007, 6, 0x30, true), ep, H("400400080000000000000000")});
    Bytes pre = stun_raw(0x0804, body);
    size_t mi_at = pre.size();
    // MI over the header with the length counting it, then the attributes before it.
    Bytes with_mi = stun_raw(0x0804, cat({body, tlv(0x0008, 20, 0, true)}));
    std::optional<std::array<uint8_t, 20>> mac = compute_message_integrity(with_mi, mi_at, kMiKey);
    ASSERT_TRUE(mac);
    std::copy(mac->begin(), mac->end(), with_mi.begin() + long(mi_at) + 4);
    StunMessage s;
    ASSERT_EQ(parse_stun(with_mi, s), StunStatus::Ok);
    EXPECT_EQ(s.layout, StunLayout::Padded);
    ASSERT_EQ(s.attrs.size(), 4u);
    EXPECT_EQ(stun_type_name(s.type), "WhatsApp relay endpoint request");
    std::optional<SockAddr> a = decode_wasm_relay_endpoint(s.attrs[1].value);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->to_string(), "157.240.226.133:3478");
    EXPECT_TRUE(is_zero_padding(s.attrs[2].value));
    EXPECT_FALSE(is_zero_padding(H("0001")));
    EXPECT_STREQ(stun_attr_name(0x4004), "zero padding");
    EXPECT_EQ(verify_message_integrity(with_mi, s.attrs[3], kMiKey), StunCheck::Good);
    // 0x4002 from the 2019 capture: 0x0000016b8e034333 ms = 2019-06-25 09:41:46.931 UTC.
    EXPECT_EQ(decode_relay_time(H("0000016b8e034333")), std::optional<uint64_t>(1561455706931ull));
    EXPECT_FALSE(decode_relay_time(H("0000016b8e0343")));
    EXPECT_STREQ(stun_attr_name(0x4002), "relay time");
    // IPv6 relay endpoint: family 2, XOR with cookie and txid like XOR-MAPPED-ADDRESS.
    Bytes txid = H("a0a1a2a3a4a5a6a7a8a9aaab");
    Bytes v6 = H("0002");
    v6.push_back(uint8_t(0x0d ^ 0x21));
    v6.push_back(uint8_t(0x96 ^ 0x12));
    Bytes addr = H("20010db8000300000000000000000010"), mask = cat({H("2112a442"), txid});
    for (int i = 0; i < 16; i++) v6.push_back(uint8_t(addr[size_t(i)] ^ mask[size_t(i)]));
    ASSERT_TRUE(a = decode_wasm_relay_endpoint(v6, txid));
    EXPECT_EQ(a->to_string(), "[2001:db8:3:0:0:0:0:10]:3478");
    EXPECT_FALSE(decode_wasm_relay_endpoint(v6));  // v6 needs the txid
}

TEST(MediaStunDialect, WalkerStopsWhenAsked) {
    Bytes m = stun_raw(0x0003, cat({tlv(0x0006, 4, 1, true), tlv(0x4000, 8, 1, true), tlv(0x0024, 4, 1, true)}));
    int calls = 0;
    stun_for_each_attribute(m, [&](const StunAttr &a) {
        calls++;
        return (a.type & 0xFF00) != 0x4000;
    });
    EXPECT_EQ(calls, 2);
    // Every truncation of an unpadded message stays within the bytes given.
    Bytes u = stun_raw(0x0003, cat({tlv(0x4000, 102, 1, false), wa_token(1, 16), wa_token(2, 14), wa_token(3, 16)}));
    for (size_t n = 0; n < u.size(); n++) {
        Bytes cut(u.begin(), u.begin() + long(n));
        StunMessage s;
        if (parse_stun(cut, s) != StunStatus::Ok) continue;
        for (const auto &a : s.attrs) EXPECT_LE(a.value_offset + a.value.size, n);
        if (n > 20) {
            EXPECT_FALSE(s.warning.empty()) << n;
        }
    }
}

TEST(MediaRtpDialect, ExtElementsNeverUnnamed) {
    // Real 2023 media carries element 13: it is "unknown", never a null name.
    EXPECT_STREQ(warp_ext_element_name(13, 2, false), "unknown");
    EXPECT_STREQ(warp_ext_element_name(13, 2, true), "unknown");
    EXPECT_STREQ(warp_ext_element_name(3, 2, false), "unknown");
    // The block as rtp's hdr_ext table hands it over: data only, offsets relative to it.
    RtpHeader h;
    parse_warp_ext_elements(H("3001d1aabb00"), h);
    ASSERT_EQ(h.n_elements, 2u);
    EXPECT_EQ(h.elements[0].id, 3);
    EXPECT_EQ(h.elements[0].len, 1);
    EXPECT_EQ(h.elements[0].value_offset, 1u);
    EXPECT_EQ(h.elements[1].id, 13);
    EXPECT_EQ(h.elements[1].len, 2);
    EXPECT_EQ(h.elements[1].value_offset, 3u);
    WarpExtInfo w = decode_warp_ext(H("3001d1aabb00"), h, false);
    EXPECT_TRUE(w.dtx_piggyback);
    EXPECT_EQ(w.dtx_value, 1);
}

// ---- message classes and WhatsApp marks (one home for the 0x0110 / 0x08xx / 0x40xx tests) --------

TEST(MediaStunClass, ClassBitsOfKnownTypes) {
    EXPECT_EQ(stun_class(0x0001), StunClass::Request);          // Binding request
    EXPECT_EQ(stun_class(0x0003), StunClass::Request);          // Allocate request
    EXPECT_EQ(stun_class(0x0011), StunClass::Indication);       // Binding indication
    EXPECT_EQ(stun_class(0x0016), StunClass::Indication);       // Send indication
    EXPECT_EQ(stun_class(0x0101), StunClass::SuccessResponse);  // Binding success
    EXPECT_EQ(stun_class(0x0103), StunClass::SuccessResponse);  // Allocate success
    EXPECT_EQ(stun_class(0x0113), StunClass::ErrorResponse);    // Allocate error
    EXPECT_EQ(stun_class(0x0114), StunClass::ErrorResponse);    // Refresh error
    EXPECT_EQ(stun_class(0x0801), StunClass::Request);          // WhatsApp ping
    EXPECT_EQ(stun_class(0x0802), StunClass::Request);          // its pong: request-class bits
    EXPECT_STREQ(stun_class_name(StunClass::SuccessResponse), "success response");
    EXPECT_STREQ(stun_class_name(StunClass::Indication), "indication");
}

TEST(MediaStunClass, ResponsesAnswerWithTheSameTransactionId) {
    for (uint16_t t : {0x0101, 0x0103, 0x0104, 0x0111, 0x0113, 0x0114, 0x0802, 0x0805})
        EXPECT_TRUE(stun_is_response(t)) << std::hex << t;
    for (uint16_t t : {0x0001, 0x0003, 0x0004, 0x0011, 0x0016, 0x0801, 0x0803, 0x802B})
        EXPECT_FALSE(stun_is_response(t)) << std::hex << t;
}

TEST(MediaStunClass, WhatsAppMarks) {
    // A plain ICE Binding request (PRIORITY, USE-CANDIDATE, 0x805A vendor range): no marks.
    EXPECT_FALSE(stun_has_wa_marks(stun_raw(0x0001, cat({tlv(0x0024, 4, 1, true), tlv(0x805A, 1, 3, true)}))));
    // The 0x08xx ping family and any 0x40xx attribute are WhatsApp's.
    EXPECT_TRUE(stun_has_wa_marks(stun_raw(0x0801, {})));
    EXPECT_TRUE(stun_has_wa_marks(stun_raw(0x0003, cat({tlv(0x0024, 4, 1, true), tlv(0x4000, 102, 1, true)}))));
    // Pre-2021 clients write the TLVs unpadded: the 0x40xx after a 5-byte value is still found.
    EXPECT_TRUE(stun_has_wa_marks(stun_raw(0x0003, cat({tlv(0x0006, 5, 1, false), tlv(0x4024, 3, 1, false)}))));
    // A 0x40xx TLV whose value overruns the message counts too.
    Bytes over = stun_raw(0x0001, cat({tlv(0x0024, 4, 1, true), Bytes{0x40, 0x25, 0x00, 0x40}}));
    EXPECT_TRUE(stun_has_wa_marks(over));
    // Without the magic cookie (RFC 3489 shape), or shorter than a header: no marks.
    EXPECT_FALSE(stun_has_wa_marks(stun_raw(0x0801, {}, false)));
    Bytes shorter = stun_raw(0x0801, {});
    shorter.pop_back();
    EXPECT_FALSE(stun_has_wa_marks(shorter));
    EXPECT_TRUE(stun_is_wa_attr(kAttrStreamDescriptors));
    EXPECT_FALSE(stun_is_wa_attr(kAttrParticipantCount));
}

// RFC 3550 A.1 extension relative to the highest sequence number seen (used by the calls report
// and the calls inferred without keys).
TEST(MediaRtpExtendSeq, WrapAndReorderBothSides) {
    EXPECT_EQ(wacall::media::extend_seq(0x10005, 6), 0x10006u);         // in order
    EXPECT_EQ(wacall::media::extend_seq(0x1FFFE, 1), 0x20001u);         // across the wrap
    EXPECT_EQ(wacall::media::extend_seq(0x20001, 0xFFFE), 0x1FFFEu);    // late, from before the wrap
    EXPECT_EQ(wacall::media::extend_seq(0x0FFFE, 0xFFF0), 0x0FFF0u);    // reordered in the first cycle
    EXPECT_EQ(wacall::media::extend_seq(5, 0xFFFF), 0xFFFFu);           // no cycle below zero
}
