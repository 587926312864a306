// Media-plane crypto pinned to the reference digest §5.3 KATs (kats.json) and to values
// recomputed independently with Python's `cryptography` (noted where used): WAHKDF, the RFC 3711
// KDF, E2E SRTP with the WARP MI tag, the ROC estimator, SRTCP, SFrame, HBH and SSRC derivation.
#include "media/hbh.h"
#include "media/sframe.h"
#include "media/srtp.h"
#include "media/ssrc.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <chrono>
#include <cstring>

using namespace wacall;
using wacall::test::H;
using namespace wacall::media;

static const Bytes kCallKey = H("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
static const Bytes kHbhKey = H("404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d");
static const char *kSelf = "111111111111111:0@lid";
static const char *kPeer = "222222222222222:0@lid";
static const char *kPayload = "102132435465768798a9bacb";

// ---- WAHKDF + KDF -----------------------------------------------------------------------------

TEST(MediaSrtpKeys, WahkdfAndSessionKeys) {
    crypto::init();
    std::optional<std::array<uint8_t, 46>> okm = wahkdf_okm(kCallKey, kPeer);
    ASSERT_TRUE(okm);
    EXPECT_EQ(to_hex({okm->data(), 46}),
              "3f5423fb6f67e4c588bf5741a3a4e92c749ee99101a47c82bb5dacec40cfc7b95d387fe9ff466f78db6cc4fdaa30");
    std::optional<SrtpMaster> m = wahkdf(kCallKey, kPeer);
    ASSERT_TRUE(m);
    EXPECT_EQ(to_hex({m->key, 16}), "3f5423fb6f67e4c588bf5741a3a4e92c");
    EXPECT_EQ(to_hex({m->salt, 14}), "749ee99101a47c82bb5dacec40cf");
    // The free functions give the same session keys as StreamKeys (checked below).
    std::optional<SessionKeys> rtp_keys = derive_session_keys(*m, false), rtcp_keys = derive_session_keys(*m, true);
    ASSERT_TRUE(rtp_keys && rtcp_keys);
    EXPECT_EQ(to_hex({rtp_keys->cipher_key, 16}), "747055a9d18be0fcdc0e29d871309081");
    EXPECT_EQ(to_hex({rtcp_keys->salt, 14}), "bf59bef19b9ed5ec160013ef4a59");
    // srtp_kdf by label, from the raw master: label 1 is the RTP auth key.
    std::optional<std::array<uint8_t, 20>> auth = srtp_kdf<20>(ByteView(m->key, 16), ByteView(m->salt, 14), 1);
    ASSERT_TRUE(auth);
    EXPECT_EQ(to_hex({auth->data(), 20}), "8eff4bb04971d92512b034ce0ebc466059bfc6ea");
    EXPECT_EQ(srtp_kdf<20>(ByteView(m->key, 16), ByteView(m->salt, 13), 1), std::nullopt);  // salt not 14 bytes
    EXPECT_EQ(srtp_kdf<16>(ByteView(m->key, 15), ByteView(m->salt, 14), 0), std::nullopt);  // no AES key size
    crypto::AesCtr unkeyed;
    EXPECT_EQ(srtp_kdf<16>(unkeyed, m->salt, 0), std::nullopt);

    StreamKeys peer, self;
    ASSERT_TRUE(peer.derive(kCallKey, kPeer));
    ASSERT_TRUE(self.derive(kCallKey, kSelf));
    EXPECT_EQ(to_hex({peer.rtp.keys.cipher_key, 16}), "747055a9d18be0fcdc0e29d871309081");
    EXPECT_EQ(to_hex({peer.rtp.keys.salt, 14}), "10fb8133eff7639cc0d06788f49c");
    EXPECT_EQ(to_hex({peer.rtp.keys.auth_key, 20}), "8eff4bb04971d92512b034ce0ebc466059bfc6ea");
    EXPECT_EQ(to_hex({self.rtp.keys.cipher_key, 16}), "261bde5b556020e3e6da0f5e3132db57");
    EXPECT_EQ(to_hex({self.rtp.keys.salt, 14}), "44224a8c019b379c4bbf7dda284a");
    EXPECT_EQ(to_hex({self.rtp.keys.auth_key, 20}), "56b2655b60a1c17c03dfe94950d5df233481ad41");
    // SRTCP labels 3/4/5 (Python recomputation, no repo KAT).
    EXPECT_EQ(to_hex({peer.rtcp.keys.cipher_key, 16}), "b1af338c6cec85a4f4b02c92cdd9eb58");
    EXPECT_EQ(to_hex({peer.rtcp.keys.auth_key, 20}), "1cdb612a0ec06924c3c59669bbfeb96f0808e702");
    EXPECT_EQ(to_hex({peer.rtcp.keys.salt, 14}), "bf59bef19b9ed5ec160013ef4a59");

    // A short call key yields no key at all.
    EXPECT_EQ(wahkdf(ByteView(kCallKey).sub(0, 31), kPeer), std::nullopt);
    EXPECT_EQ(wahkdf_okm(ByteView(kCallKey).sub(0, 31), kPeer), std::nullopt);
    StreamKeys none;
    EXPECT_FALSE(none.derive(ByteView(kCallKey).sub(0, 16), kPeer));
    EXPECT_FALSE(none.valid());
}

TEST(MediaSrtpKeys, DerivationIsCheap) {
    crypto::init();
    constexpr int kN = 2000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; i++) {
        StreamKeys k;
        ASSERT_TRUE(k.derive(kCallKey, kPeer));
    }
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kN;
    RecordProperty("derive_us", std::to_string(us));
    std::printf("[ info ] StreamKeys::derive: %.2f us\n", us);
    EXPECT_LT(us, 200.0);  // target 20 us in release builds; loose so sanitizer builds pass
}

// ---- E2E SRTP ---------------------------------------------------------------------------------

TEST(MediaSrtp, IvAndCipherKats) {
    StreamKeys peer;
    ASSERT_TRUE(peer.derive(kCallKey, kPeer));
    uint8_t iv[16];
    build_srtp_iv(peer.rtp.keys.salt, 0x12345678, 7, IvLayout::Rfc3711, iv);
    EXPECT_EQ(to_hex({iv, 16}), "10fb8133fdc335e4c0d06788f49b0000");
    build_srtp_iv(peer.rtp.keys.salt, 0x12345678, 7, IvLayout::SpecRightAligned, iv);
    EXPECT_EQ(to_hex({iv, 16}), "000010fb9307b98f639cc0d0678ff49c");  // Python recomputation

    // warp_mi_tag4 = HMAC-SHA1(peer authKey, samplePacket ‖ 00000000)[0:4].
    uint8_t tag[4];
    warp_mi_tag(peer.rtp.auth, H("90780007000003c012345678deadbeef"), 0, tag, 4);
    EXPECT_EQ(to_hex({tag, 4}), "53fada83");

    // cipher_out: the payload under the peer keys, SSRC 0x12345678, seq 7, ROC 0. A plain 12-byte
    // header and the 16-byte WARP header give the same ciphertext (the IV sees only SSRC/index).
    for (const char *hdr : {"80780007000003c012345678", "90780007000003c012345678debe0000"}) {
        Bytes plain = H(std::string(hdr) + kPayload);
        uint8_t out[64];
        size_t n;
        ASSERT_EQ(e2e_protect(peer, plain, 0, {}, out, sizeof out, n), SrtpStatus::Ok);
        ASSERT_EQ(n, plain.size() + 4);
        size_t hl = std::strlen(hdr) / 2;
        EXPECT_EQ(to_hex(ByteView(out, n).sub(0, hl)), hdr);
        EXPECT_EQ(to_hex(ByteView(out, n).sub(hl, 12)), "17b30591a2650ed7bbae9c5a");
    }
}

static const char *kProtected4 = "90780007000003c012345678debe000017b30591a2650ed7bbae9c5a1d591454";

TEST(MediaSrtp, UnprotectPinnedPacket) {
    StreamKeys peer;
    ASSERT_TRUE(peer.derive(kCallKey, kPeer));
    Bytes wire = H(kProtected4);  // Python: header16 ‖ cipher_out ‖ HMAC(..., ROC 0)[0:4]
    uint8_t out[64];
    RtpUnprotectInfo info;
    ASSERT_EQ(e2e_unprotect(peer, wire, 0, {}, out, sizeof out, &info), SrtpStatus::Ok);
    EXPECT_EQ(info.header_len, 16u);
    EXPECT_EQ(info.payload_len, 12u);
    EXPECT_EQ(info.out_len, 28u);
    EXPECT_EQ(info.seq, 7);
    EXPECT_EQ(info.ssrc, 0x12345678u);
    EXPECT_EQ(to_hex({out, info.out_len}), std::string("90780007000003c012345678debe0000") + kPayload);

    // 10-byte tag and ROC 1 (Python recomputations).
    E2EOptions t10;
    t10.tag_len = 10;
    ASSERT_EQ(e2e_unprotect(peer, H("90780007000003c012345678debe000017b30591a2650ed7bbae9c5a1d5914543fb7f0634328"), 0,
                            t10, out, sizeof out, &info),
              SrtpStatus::Ok);
    EXPECT_EQ(to_hex(ByteView(out, info.out_len).sub(16)), kPayload);
    Bytes roc1 = H("90780007000003c012345678debe00002db58377474e4ac15bd66bebfa9eb741");
    ASSERT_EQ(e2e_unprotect(peer, roc1, 1, {}, out, sizeof out, &info), SrtpStatus::Ok);
    EXPECT_EQ(to_hex(ByteView(out, info.out_len).sub(16)), kPayload);
    EXPECT_EQ(e2e_unprotect(peer, roc1, 0, {}, out, sizeof out, &info), SrtpStatus::BadTag);

    // In place.
    Bytes inplace = wire;
    ASSERT_EQ(e2e_unprotect(peer, inplace, 0, {}, inplace.data(), inplace.size(), &info), SrtpStatus::Ok);
    EXPECT_EQ(to_hex(ByteView(inplace).sub(16, 12)), kPayload);
}

TEST(MediaSrtp, SpecAlternatives) {
    StreamKeys peer;
    ASSERT_TRUE(peer.derive(kCallKey, kPeer, /*with_spec_warp_key=*/true));
    ASSERT_TRUE(peer.has_spec_warp_auth);
    E2EOptions spec;
    spec.tag_key = TagKey::SpecWarpAuthKey;
    spec.iv_layout = IvLayout::SpecRightAligned;
    // Python: right-aligned IV, tag keyed by HKDF(empty salt, callKey, "warp auth key", 32)
    // = 6c768f61c7bd16f8c022b58d6a9f01ab832abe95e27538a7d6c584a26b8e0734.
    Bytes wire = H("90780007000003c012345678debe000078dc74b187234c07a62875febe20f9ee");
    uint8_t out[64];
    RtpUnprotectInfo info;
    ASSERT_EQ(e2e_unprotect(peer, wire, 0, spec, out, sizeof out, &info), SrtpStatus::Ok);
    EXPECT_EQ(to_hex(ByteView(out, info.out_len).sub(16)), kPayload);
    // The reference defaults reject that packet, and the spec options reject the reference one.
    EXPECT_EQ(e2e_unprotect(peer, wire, 0, {}, out, sizeof out, &info), SrtpStatus::BadTag);
    EXPECT_EQ(e2e_unprotect(peer, H(kProtected4), 0, spec, out, sizeof out, &info), SrtpStatus::BadTag);
    // Spec tag key without having derived it is a parameter error, not a silent fallback.
    StreamKeys plain;
    ASSERT_TRUE(plain.derive(kCallKey, kPeer));
    EXPECT_EQ(e2e_unprotect(plain, wire, 0, spec, out, sizeof out, &info), SrtpStatus::BadParam);
}

TEST(MediaSrtp, ForgedTagsAndBadInputs) {
    StreamKeys peer;
    ASSERT_TRUE(peer.derive(kCallKey, kPeer));
    Bytes wire = H(kProtected4);
    const std::string plain_hex = std::string("90780007000003c012345678debe0000") + kPayload;
    // Flip every bit of tag and body in turn: always BadTag and the output buffer is untouched.
    for (size_t i = 0; i < wire.size(); i++) {
        for (int bit = 0; bit < 8; bit++) {
            Bytes f = wire;
            f[i] ^= uint8_t(1 << bit);
            uint8_t out[64];
            std::memset(out, 0xAA, sizeof out);
            SrtpStatus st = e2e_unprotect(peer, f, 0, {}, out, sizeof out);
            ASSERT_NE(st, SrtpStatus::Ok) << i << "/" << bit;
            for (uint8_t b : out) ASSERT_EQ(b, 0xAA);
        }
    }
    // The wrong sender's keys fail.
    StreamKeys self;
    ASSERT_TRUE(self.derive(kCallKey, kSelf));
    uint8_t out[64];
    EXPECT_EQ(e2e_unprotect(self, wire, 0, {}, out, sizeof out), SrtpStatus::BadTag);
    // Sizes.
    for (size_t n = 0; n < 16; n++)
        EXPECT_EQ(e2e_unprotect(peer, ByteView(wire).sub(0, n), 0, {}, out, sizeof out), SrtpStatus::TooShort) << n;
    uint8_t hdr_only_tag[20];
    Bytes hdr = H("90780007000003c012345678debe0000");
    std::memcpy(hdr_only_tag, hdr.data(), 16);
    warp_mi_tag(peer.rtp.auth, hdr, 0, hdr_only_tag + 16, 4);
    EXPECT_EQ(e2e_unprotect(peer, ByteView(hdr_only_tag, 20), 0, {}, out, sizeof out), SrtpStatus::NoPayload);
    EXPECT_EQ(e2e_unprotect(peer, H("90780007000003c012345678debe0005aabbccdd00000000"), 0, {}, out, sizeof out),
              SrtpStatus::BadHeader);
    E2EOptions bad;
    bad.tag_len = 0;
    EXPECT_EQ(e2e_unprotect(peer, wire, 0, bad, out, sizeof out), SrtpStatus::BadParam);
    bad.tag_len = 21;
    EXPECT_EQ(e2e_unprotect(peer, wire, 0, bad, out, sizeof out), SrtpStatus::BadParam);
    EXPECT_EQ(e2e_unprotect(peer, wire, 0, {}, out, 27), SrtpStatus::BadParam);  // buffer too small
    EXPECT_EQ(e2e_unprotect(peer, wire, 0, {}, out, 28), SrtpStatus::Ok);
    EXPECT_EQ(to_hex({out, 28}), plain_hex);
}

TEST(MediaSrtp, EveryTagLengthRoundTrips) {
    StreamKeys k;
    ASSERT_TRUE(k.derive(kCallKey, kSelf));
    Bytes plain = H(std::string("907800020000014012345678debe000130010000") + kPayload);
    for (size_t t = 1; t <= 20; t++) {
        E2EOptions o;
        o.tag_len = t;
        uint8_t wire[64], back[64];
        size_t n;
        ASSERT_EQ(e2e_protect(k, plain, 3, o, wire, sizeof wire, n), SrtpStatus::Ok);
        ASSERT_EQ(n, plain.size() + t);
        EXPECT_NE(to_hex(ByteView(wire, n).sub(20, 12)), kPayload);
        RtpUnprotectInfo info;
        ASSERT_EQ(e2e_unprotect(k, ByteView(wire, n), 3, o, back, sizeof back, &info), SrtpStatus::Ok) << t;
        EXPECT_EQ(to_hex({back, info.out_len}), to_hex(plain));
        EXPECT_EQ(info.header_len, 20u);
    }
}

// ---- ROC --------------------------------------------------------------------------------------

TEST(MediaRoc, WrapReorderAndLoss) {
    RocEstimator r;
    EXPECT_EQ(r.estimate(65530), 0u);
    r.commit(65530, 0);
    EXPECT_EQ(r.estimate(65535), 0u);
    r.commit(65535, 0);
    EXPECT_EQ(r.estimate(0), 1u);  // wrap 65535 -> 0
    r.commit(0, 1);
    EXPECT_EQ(r.highest_seq(), 0);
    EXPECT_EQ(r.roc(), 1u);
    EXPECT_EQ(r.estimate(65534), 0u);  // a late packet from before the wrap
    r.commit(65534, 0);                // must not move the highest index back
    EXPECT_EQ(r.roc(), 1u);
    EXPECT_EQ(r.highest_seq(), 0);
    EXPECT_EQ(r.estimate(1), 1u);
    // Large loss: a jump of 32000 stays in the same ROC, then a wrap after it is still found.
    r.commit(1, 1);
    EXPECT_EQ(r.estimate(32001), 1u);
    r.commit(32001, 1);
    EXPECT_EQ(r.estimate(64000), 1u);
    r.commit(64000, 1);
    EXPECT_EQ(r.estimate(500), 2u);  // lost ~2000 packets across the wrap
    r.commit(500, 2);
    EXPECT_EQ(r.estimate(63000), 1u);  // very late reordered packet from the previous cycle
    EXPECT_EQ(r.estimate(20000), 2u);
    // Reordering around the wrap before the new cycle was seen.
    RocEstimator q(5);
    q.commit(65533, 5);
    EXPECT_EQ(q.estimate(1), 6u);
    q.commit(1, 6);
    EXPECT_EQ(q.estimate(65535), 5u);
    EXPECT_EQ(q.estimate(0), 6u);
    EXPECT_EQ(q.estimate(2), 6u);
}

TEST(MediaRoc, TrackedUnprotectAcrossWrapWithReordering) {
    StreamKeys k;
    ASSERT_TRUE(k.derive(kCallKey, kSelf));
    // Sender side: seq 65500 .. 65535, 0 .. 99 (ROC 0 then 1).
    std::vector<Bytes> wire;
    std::vector<uint16_t> seqs;
    for (uint32_t i = 0; i < 136; i++) {
        uint16_t seq = uint16_t(65500 + i);
        uint32_t roc = (65500 + i) >> 16;
        Bytes p = H(std::string("90f8000000000000cafebabedebe0000") + kPayload);
        put_be16(p.data() + 2, seq);
        p.push_back(uint8_t(i));
        Bytes w(p.size() + 4);
        size_t n;
        EXPECT_EQ(e2e_protect(k, p, roc, {}, w.data(), w.size(), n), SrtpStatus::Ok);
        wire.push_back(w);
        seqs.push_back(seq);
    }
    // Receiver: swap neighbours (including across the wrap) and drop a few.
    std::vector<size_t> order;
    for (size_t i = 0; i + 1 < wire.size(); i += 2) {
        order.push_back(i + 1);
        order.push_back(i);
    }
    RocEstimator est;
    // estimate -> verify -> commit, the reference receive order (MediaReceiver's per stream).
    auto tracked = [&](ByteView packet, uint8_t *out, size_t cap, RtpUnprotectInfo *info) {
        uint16_t seq = be16(packet.data + 2);
        uint32_t roc = est.estimate(seq);
        SrtpStatus st = e2e_unprotect(k, packet, roc, {}, out, cap, info);
        if (st == SrtpStatus::Ok) est.commit(seq, roc);
        return st;
    };
    size_t ok = 0;
    for (size_t idx : order) {
        if (idx % 17 == 5) continue;  // loss
        uint8_t out[64];
        RtpUnprotectInfo info;
        SrtpStatus st = tracked(wire[idx], out, sizeof out, &info);
        ASSERT_EQ(st, SrtpStatus::Ok) << "seq " << seqs[idx];
        EXPECT_EQ(out[info.out_len - 1], uint8_t(idx));
        EXPECT_EQ(info.roc, (65500 + idx) >> 16);
        ok++;
    }
    EXPECT_GT(ok, 120u);
    EXPECT_EQ(est.roc(), 1u);
    EXPECT_EQ(est.highest_seq(), 99);
    // A forged packet does not advance the estimator.
    Bytes forged = wire.back();
    forged[forged.size() - 1] ^= 1;
    put_be16(forged.data() + 2, 30000);
    uint8_t out[64];
    EXPECT_EQ(tracked(forged, out, sizeof out, nullptr), SrtpStatus::BadTag);
    EXPECT_EQ(est.highest_seq(), 99);
}

TEST(MediaSrtp, Throughput) {
    StreamKeys k;
    ASSERT_TRUE(k.derive(kCallKey, kSelf));
    Bytes plain(16 + 100, 0x5a);
    Bytes hdr = H("90f800010000000012345678debe0000");
    std::copy(hdr.begin(), hdr.end(), plain.begin());
    uint8_t wire[160], out[160];
    size_t n;
    ASSERT_EQ(e2e_protect(k, plain, 0, {}, wire, sizeof wire, n), SrtpStatus::Ok);
    constexpr int kN = 200000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; i++)
        if (e2e_unprotect(k, ByteView(wire, n), 0, {}, out, sizeof out) != SrtpStatus::Ok) FAIL();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double pps = kN / s;
    RecordProperty("unprotect_pps", std::to_string(pps));
    std::printf("[ info ] e2e_unprotect (100-byte payload): %.2f M packets/s\n", pps / 1e6);
    EXPECT_GT(pps, 200000.0);  // target 2M/s in release builds; loose so sanitizer builds pass
}

// ---- SRTCP ------------------------------------------------------------------------------------

static const char *kSr = "80c8000612345678ea11180000000000000006400000000500000258";
static const char *kSrProtected =
    "80c80006123456787d74643dbb62b23f5005bf9b4296de885c3ff6e280000001cc486281b0510f8b2a83";

TEST(MediaSrtcp, HbhUplinkSrIndex1) {
    HbhKeys hk;
    ASSERT_TRUE(hk.init_hkdf(kHbhKey, HbhLabelPair::UplinkSrtcp));
    Bytes sr = H(kSr);
    uint8_t wire[64];
    size_t n;
    ASSERT_EQ(srtcp_protect(hk.rtcp, sr, 1, true, wire, sizeof wire, n), SrtpStatus::Ok);
    EXPECT_EQ(to_hex({wire, n}), kSrProtected);

    uint8_t back[64];
    SrtcpInfo info;
    ASSERT_EQ(srtcp_unprotect(hk.rtcp, H(kSrProtected), back, sizeof back, &info), SrtpStatus::Ok);
    EXPECT_EQ(to_hex({back, info.out_len}), kSr);
    EXPECT_EQ(info.index, 1u);
    EXPECT_TRUE(info.encrypted);
    EXPECT_EQ(info.ssrc, 0x12345678u);

    // Forgery anywhere is rejected without writing plaintext.
    Bytes p = H(kSrProtected);
    for (size_t i = 0; i < p.size(); i++) {
        Bytes f = p;
        f[i] ^= 0x04;
        std::memset(back, 0xAA, sizeof back);
        ASSERT_EQ(srtcp_unprotect(hk.rtcp, f, back, sizeof back), SrtpStatus::BadTag) << i;
        for (uint8_t b : back) ASSERT_EQ(b, 0xAA);
    }
    for (size_t len = 0; len < 22; len++)
        EXPECT_EQ(srtcp_unprotect(hk.rtcp, ByteView(p).sub(0, len), back, sizeof back), SrtpStatus::TooShort);
    // The downlink keys do not verify uplink traffic.
    HbhKeys down;
    ASSERT_TRUE(down.init_hkdf(kHbhKey, HbhLabelPair::DownlinkSrtcp));
    EXPECT_EQ(srtcp_unprotect(down.rtcp, p, back, sizeof back), SrtpStatus::BadTag);
}

TEST(MediaSrtcp, E2eRoundTripAndUnencrypted) {
    StreamKeys k;
    ASSERT_TRUE(k.derive(kCallKey, kSelf));
    Bytes compound = H(std::string(kSr) + "81ca0007123456780112363637373840706a3839396161622e6f726700000000");
    for (bool enc : {true, false}) {
        uint8_t wire[128], back[128];
        size_t n;
        ASSERT_EQ(srtcp_protect(k.rtcp, compound, 0x7fffffff, enc, wire, sizeof wire, n), SrtpStatus::Ok);
        EXPECT_EQ(n, compound.size() + 14);
        EXPECT_EQ(to_hex(ByteView(wire, 8)), to_hex(ByteView(compound).sub(0, 8)));  // first 8 bytes clear
        EXPECT_EQ(ByteView(wire, n).sub(8, compound.size() - 8).to_bytes() == ByteView(compound).sub(8).to_bytes(), !enc);
        EXPECT_EQ(be32(wire + compound.size()), (enc ? 0x80000000u : 0u) | 0x7fffffffu);
        SrtcpInfo info;
        ASSERT_EQ(srtcp_unprotect(k.rtcp, ByteView(wire, n), back, sizeof back, &info), SrtpStatus::Ok);
        EXPECT_EQ(to_hex({back, info.out_len}), to_hex(compound));
        EXPECT_EQ(info.encrypted, enc);
        EXPECT_EQ(info.index, 0x7fffffffu);
    }
    uint8_t wire[128];
    size_t n;
    EXPECT_EQ(srtcp_protect(k.rtcp, compound, 0x80000000u, true, wire, sizeof wire, n), SrtpStatus::BadParam);
}

// ---- SFrame -----------------------------------------------------------------------------------

TEST(MediaSFrame, KeysNonceHeaderAndEncrypt) {
    std::optional<std::array<uint8_t, 32>> k32 = sframe_derive_key32(kCallKey, kPeer);
    ASSERT_TRUE(k32);
    EXPECT_EQ(to_hex({k32->data(), 32}), "e77cc4666a53d2264ba278b3e2b9ba1cc41ac0e3b587b09db3dd3fa646d51ae9");
    k32 = sframe_derive_key32(kCallKey, kSelf);
    ASSERT_TRUE(k32);
    EXPECT_EQ(to_hex({k32->data(), 32}), "07e656b474ef306e7e5353f94057a8904821c0f2247b867c102e7ef4cc0dd95c");
    EXPECT_EQ(sframe_derive_key32(ByteView(kCallKey).sub(0, 31), kPeer), std::nullopt);
    uint8_t nonce[16];
    sframe_nonce(5, nonce);
    EXPECT_EQ(to_hex({nonce, 16}), "00000000000000000500000000000000");
    uint8_t hdr[21];
    ASSERT_EQ(sframe_write_header(5, 0, hdr, sizeof hdr), 3u);
    EXPECT_EQ(to_hex({hdr, 3}), "050003");
    ASSERT_EQ(sframe_write_header(300, 1, hdr, sizeof hdr), 4u);
    EXPECT_EQ(to_hex({hdr, 4}), "ac020104");

    SFrameKey key;
    ASSERT_TRUE(key.derive(kCallKey, kPeer));
    uint8_t out[64];
    size_t n;
    ASSERT_TRUE(sframe_encrypt(key, 5, 0, H(kPayload), {}, out, sizeof out, n));
    EXPECT_EQ(to_hex({out, n}), "e5ef789f9fa501842a9ff5f54cc12a630d12008f1bb39060c951724f050003");
}

TEST(MediaSFrame, DecryptAndFallbacks) {
    SFrameKey key;
    ASSERT_TRUE(key.derive(kCallKey, kPeer));
    Bytes frame = H("e5ef789f9fa501842a9ff5f54cc12a630d12008f1bb39060c951724f050003");
    uint8_t out[64];
    size_t n;
    SFrameHeader h;
    ASSERT_EQ(sframe_decrypt(key, frame, {}, out, sizeof out, n, &h), SFrameStatus::Ok);
    EXPECT_EQ(to_hex({out, n}), kPayload);
    EXPECT_EQ(h.counter, 5u);
    EXPECT_EQ(h.key_id, 0u);
    EXPECT_EQ(h.header_len, 3);
    // The receiver's own key (reference direction) vs the other id: the wrong one fails.
    SFrameKey other;
    ASSERT_TRUE(other.derive(kCallKey, kSelf));
    EXPECT_EQ(sframe_decrypt(other, frame, {}, out, sizeof out, n), SFrameStatus::BadTag);
    for (size_t i = 0; i < 12; i++) EXPECT_EQ(out[i], 0) << "no unauthenticated plaintext";
    // Tampering: ciphertext and tag bytes fail, and so does the counter (it feeds the nonce). The
    // key_id byte (offset 29) is not authenticated in the reference (X3): flipping it still decrypts.
    for (size_t i = 0; i + 1 < frame.size(); i++) {
        Bytes f = frame;
        f[i] ^= 0x01;
        SFrameStatus st = sframe_decrypt(key, f, {}, out, sizeof out, n);
        if (i == 29) {
            EXPECT_EQ(st, SFrameStatus::Ok);
        } else {
            EXPECT_NE(st, SFrameStatus::Ok) << i;
        }
    }
    // With the spec's header-as-AAD option the same frame does not verify at all.
    SFrameOptions aad;
    aad.header_as_aad = true;
    EXPECT_EQ(sframe_decrypt(key, frame, aad, out, sizeof out, n), SFrameStatus::BadTag);
    // Plain Opus frames that must be treated as not SFrame.
    for (const char *plain : {"00", "90b81414c4", "12101a759d3399bbaefb874fd75a004af7c0", "9036ba6ffa40",
                              "1236262b4ac920b1206166637b5af2"}) {
        EXPECT_EQ(sframe_decrypt(key, H(plain), {}, out, sizeof out, n), SFrameStatus::NotSFrame) << plain;
    }
    // The 24-byte WASM priming frame: long enough, but its last byte is no header length.
    EXPECT_EQ(sframe_decrypt(key, H("3236262b4acb1b5fba91687eb8509358e6d0a3a9d71d818c"), {}, out, sizeof out, n),
              SFrameStatus::NotSFrame);
    // Long enough with a plausible header but not SFrame: tag failure -> plain bytes.
    EXPECT_EQ(sframe_decrypt(key, H("000102030405060708090a0b0c0d0e0f10050003"), {}, out, sizeof out, n),
              SFrameStatus::BadTag);
    // Header varints that do not fill the header exactly are rejected, and the status says why.
    EXPECT_EQ(sframe_parse_header(H("000102030405060708090a0b0c0d0e0f1005000004")).status, SFrameHeaderStatus::BadVarint);
    EXPECT_EQ(sframe_parse_header(H("000102030405060708090a0b0c0d0e0f10ff0003")).status, SFrameHeaderStatus::BadVarint);
    EXPECT_EQ(sframe_parse_header(H("000102030405060708090a0b0c0d0e0f10050002")).status, SFrameHeaderStatus::BadLength);
    EXPECT_EQ(sframe_parse_header(H("0001020304050607080900000000000000000000ff")).status, SFrameHeaderStatus::BadLength);
    // Truncated below tag + smallest header: TooShort, header left zero.
    SFrameHeaderResult cut18 = sframe_parse_header(H("000102030405060708090a0b0c0d0e0f0003"));
    EXPECT_EQ(cut18.status, SFrameHeaderStatus::TooShort);
    EXPECT_FALSE(cut18.ok());
    EXPECT_EQ(cut18.header.header_len, 0u);
    EXPECT_STREQ(sframe_header_status_name(SFrameHeaderStatus::TooShort), "shorter than tag and header");
    // A good header: counter 5, key id 0, 3 bytes after 17 bytes of ciphertext + tag.
    SFrameHeaderResult good = sframe_parse_header(H("000102030405060708090a0b0c0d0e0f10050003"));
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(good.header.counter, 5u);
    EXPECT_EQ(good.header.key_id, 0u);
    EXPECT_EQ(good.header.header_len, 3u);
    EXPECT_EQ(good.header.header_offset, 17u);
    EXPECT_EQ(good.header.ct_len, 1u);
    for (size_t len = 0; len < frame.size(); len++) {
        Bytes cut(frame.begin(), frame.begin() + long(len));
        EXPECT_NE(sframe_decrypt(key, cut, {}, out, sizeof out, n), SFrameStatus::Ok) << len;
    }
}

TEST(MediaSFrame, HeaderAsAadOption) {
    SFrameKey key;
    ASSERT_TRUE(key.derive(kCallKey, kSelf));
    SFrameOptions aad;
    aad.header_as_aad = true;
    uint8_t wire[64], out[64];
    size_t n, m;
    ASSERT_TRUE(sframe_encrypt(key, 1234567, 2, H(kPayload), aad, wire, sizeof wire, n));
    ASSERT_EQ(sframe_decrypt(key, ByteView(wire, n), aad, out, sizeof out, m), SFrameStatus::Ok);
    EXPECT_EQ(to_hex({out, m}), kPayload);
    EXPECT_EQ(sframe_decrypt(key, ByteView(wire, n), {}, out, sizeof out, m), SFrameStatus::BadTag);
}

// ---- HBH --------------------------------------------------------------------------------------

TEST(MediaHbh, TwoStageHkdfVectors) {
    std::optional<HbhDerived> d = hbh_derive_key30(kHbhKey, HbhLabelPair::UplinkSrtcp);
    ASSERT_TRUE(d);
    EXPECT_EQ(to_hex({d->salt32.data(), 32}), "501238bf8f996669b5172c9aa47338eb7de4d12ddba98eea1e531a694f894129");
    EXPECT_EQ(to_hex({d->key30.data(), 30}), "f77854760b4340f0eabbe93930eafe0310c8f699d1ebaf1f609a1781f3fc");
    const struct {
        HbhLabelPair pair;
        const char *key30;
    } more[] = {{HbhLabelPair::DownlinkSrtcp, "707aad5216a25868eea63a32403b9d0c643644f691145e02b6d7d3776301"},
                {HbhLabelPair::SharedSrtp, "693a8070145a5d26d39183593d1b648e895a8a3f2354ab38e718cbd93822"},
                {HbhLabelPair::SharedSrtcp, "4ad41608b1fe681b56e8230ba5fea1060de1e767fb1275d4dcf85ce3cea9"}};
    for (const auto &v : more) {
        d = hbh_derive_key30(kHbhKey, v.pair);
        ASSERT_TRUE(d);
        EXPECT_EQ(to_hex({d->key30.data(), 30}), v.key30);
    }
    EXPECT_EQ(hbh_derive_key30(ByteView(kHbhKey).sub(0, 29), HbhLabelPair::SharedSrtp), std::nullopt);
    EXPECT_STREQ(hbh_salt_label(HbhLabelPair::UplinkSrtcp), "uplink hbh srtcp salt");
    EXPECT_STREQ(hbh_key_label(HbhLabelPair::SharedSrtp), "hbh srtp key");

    HbhKeys k;
    ASSERT_TRUE(k.init_hkdf(kHbhKey, HbhLabelPair::UplinkSrtcp));
    EXPECT_EQ(to_hex({k.master.key, 16}), "f77854760b4340f0eabbe93930eafe03");
    EXPECT_EQ(to_hex({k.master.salt, 14}), "10c8f699d1ebaf1f609a1781f3fc");
    EXPECT_EQ(to_hex({k.rtp.keys.cipher_key, 16}), "cf8c0c31437c9a5ab292cbdaa533c2c0");
    EXPECT_EQ(to_hex({k.rtp.keys.salt, 14}), "30879d9e6a76f04e7349f40066a7");
    EXPECT_EQ(to_hex({k.rtp.keys.auth_key, 20}), "b012d6003068b460da0121866712a335987d72b8");
    EXPECT_EQ(to_hex({k.rtcp.keys.cipher_key, 16}), "f065528cfce4757f444bb8b5892aad7c");
    EXPECT_EQ(to_hex({k.rtcp.keys.salt, 14}), "54bc95ca04c05be16456f0f12dc0");
    EXPECT_EQ(to_hex({k.rtcp.keys.auth_key, 20}), "6e6b37a126a522302a578c9713d38e85606048eb");
    Bytes icm(k.rtp.keys.cipher_key, k.rtp.keys.cipher_key + 16);
    icm.insert(icm.end(), k.rtp.keys.salt, k.rtp.keys.salt + 14);
    EXPECT_EQ(to_hex(icm), "cf8c0c31437c9a5ab292cbdaa533c2c030879d9e6a76f04e7349f40066a7");
}

TEST(MediaHbh, Rfc3711OnlyDerivation) {
    // Version A: the relay's 30 bytes are master key ‖ salt (Python recomputation).
    HbhKeys k;
    ASSERT_TRUE(k.init_rfc3711(kHbhKey));
    EXPECT_EQ(to_hex({k.rtp.keys.cipher_key, 16}), "bce3e2d210a20a92e1eb742455a84d8a");
    EXPECT_EQ(to_hex({k.rtp.keys.auth_key, 20}), "d9c31523d6a3018dc5dc7a11efc9652f528d815c");
    EXPECT_EQ(to_hex({k.rtp.keys.salt, 14}), "8189e85c364397ea27806fd21379");
    EXPECT_EQ(to_hex({k.rtcp.keys.cipher_key, 16}), "dda4a870bac4a6e426593fb0322bbf9e");
    EXPECT_EQ(to_hex({k.rtcp.keys.auth_key, 20}), "6ab6f15a18bafc8e125240050a9414ac622ca208");
    EXPECT_EQ(to_hex({k.rtcp.keys.salt, 14}), "2038df066d0868d018c16b8fdc29");
    EXPECT_FALSE(k.init_rfc3711(ByteView(kHbhKey).sub(0, 16)));
}

TEST(MediaHbh, RtpNonceCipherAndPacket) {
    uint8_t nonce[16];
    hbh_rtp_icm_nonce(0x12345678, 7, nonce);
    EXPECT_EQ(to_hex({nonce, 16}), "00000000123456780000000000070000");
    HbhKeys k;
    ASSERT_TRUE(k.init_hkdf(kHbhKey, HbhLabelPair::UplinkSrtcp));
    Bytes pay = H(kPayload);
    uint8_t ct[12];
    ASSERT_TRUE(hbh_icm_crypt(k.ecb, k.rtp.keys.salt, nonce, pay.data(), ct, 12));
    EXPECT_EQ(to_hex({ct, 12}), "363ea223cb020f6d58cea9ee");

    // Full HBH SRTP packet with a 10-byte tag (Python recomputation).
    Bytes plain = H(std::string("80780007000003c012345678") + kPayload);
    uint8_t wire[64], back[64];
    size_t n;
    ASSERT_EQ(hbh_rtp_protect(k, plain, 0, 10, wire, sizeof wire, n), SrtpStatus::Ok);
    EXPECT_EQ(to_hex({wire, n}), "80780007000003c012345678363ea223cb020f6d58cea9eea7591f72b5d73359c15b");
    RtpUnprotectInfo info;
    ASSERT_EQ(hbh_rtp_unprotect(k, ByteView(wire, n), 0, 10, back, sizeof back, &info), SrtpStatus::Ok);
    EXPECT_EQ(to_hex({back, info.out_len}), to_hex(plain));
    wire[n - 1] ^= 1;
    std::memset(back, 0xAA, sizeof back);
    EXPECT_EQ(hbh_rtp_unprotect(k, ByteView(wire, n), 0, 10, back, sizeof back), SrtpStatus::BadTag);
    for (uint8_t b : back) ASSERT_EQ(b, 0xAA);
}

TEST(MediaHbh, IcmCarryStaysInLowSixteenBits) {
    HbhKeys k;
    ASSERT_TRUE(k.init_hkdf(kHbhKey, HbhLabelPair::SharedSrtp));
    // Choose a nonce whose counter word (bytes 14..15 after the salt XOR) is 0xfffe.
    uint8_t nonce[16] = {};
    nonce[14] = 0xff;
    nonce[15] = 0xfe;
    uint8_t zeros[48] = {}, ks[48];
    ASSERT_TRUE(hbh_icm_crypt(k.ecb, k.rtp.keys.salt, nonce, zeros, ks, sizeof ks));
    // Expected: block i = AES(salt ‖ (0xfffe + i) mod 2^16), byte 13 never touched.
    crypto::AesEcb ecb;
    ASSERT_TRUE(ecb.set_key(ByteView(k.rtp.keys.cipher_key, 16)));
    for (int i = 0; i < 3; i++) {
        uint8_t blk[16] = {}, want[16];
        std::memcpy(blk, k.rtp.keys.salt, 14);
        put_be16(blk + 14, uint16_t(0xfffe + i));
        ASSERT_TRUE(ecb.encrypt(blk, want, 16));
        EXPECT_EQ(to_hex({ks + 16 * i, 16}), to_hex({want, 16})) << i;
    }
    // A full 128-bit counter (AesCtr) differs in the third block: it carries into byte 13.
    crypto::AesCtr ctr;
    ASSERT_TRUE(ctr.set_key(ByteView(k.rtp.keys.cipher_key, 16)));
    uint8_t iv[16] = {}, ks2[48];
    std::memcpy(iv, k.rtp.keys.salt, 14);
    iv[14] = 0xff;
    iv[15] = 0xfe;
    ASSERT_TRUE(ctr.crypt(iv, zeros, ks2, sizeof ks2));
    EXPECT_EQ(to_hex({ks, 32}), to_hex({ks2, 32}));
    EXPECT_NE(to_hex({ks + 32, 16}), to_hex({ks2 + 32, 16}));
    // Long inputs (more than one batch of blocks) match block-by-block expectations too.
    uint8_t big_in[300] = {}, big[300];
    ASSERT_TRUE(hbh_icm_crypt(k.ecb, k.rtp.keys.salt, nonce, big_in, big, sizeof big));
    EXPECT_EQ(to_hex({big, 48}), to_hex({ks, 48}));
}

// ---- SSRC / participant ids -------------------------------------------------------------------

TEST(MediaSsrc, DerivationVectors) {
    EXPECT_EQ(derive_ssrc("00112233445566778899AABBCCDDEEFF", kPeer, 0), 1805509457u);  // 0x6B9DE351
    EXPECT_EQ(derive_ssrc("00112233445566778899AABBCCDDEEFF", kPeer, 1), 2479325408u);  // 0x93C780E0
    EXPECT_EQ(derive_ssrc("CALL-ID-0001", "12345:0@lid", 2), 0xf8d70484u);
    // The call-id is case-sensitive.
    EXPECT_NE(derive_ssrc("00112233445566778899aabbccddeeff", kPeer, 0), 1805509457u);
    uint32_t all[9];
    derive_all_ssrcs("00112233445566778899AABBCCDDEEFF", kPeer, all);
    EXPECT_EQ(all[0], 1805509457u);  // stream 0 = slot word 0
    EXPECT_EQ(all[1], 2479325408u);  // stream 1 = slot word 1
    EXPECT_EQ(all[3], derive_ssrc("00112233445566778899AABBCCDDEEFF", kPeer, 2));
    const char *names[9] = {"audio", "audio FEC", "audio NACK", "video", "video FEC",
                            "video NACK", "HBH-FEC tx", "HBH-FEC rx", "app data"};
    for (int i = 0; i < 9; i++) EXPECT_STREQ(slot_name(kSlotWords[i]), names[i]);
    EXPECT_STREQ(slot_name(9), "unknown");
}

// The bulk path (extract once per call and slot) gives exactly derive_ssrc's values.
TEST(MediaSsrc, BulkDerivationMatchesSingle) {
    SsrcDeriver d;
    std::vector<std::string> parts = {kPeer, "12345:0@lid", "", "99:3@s.whatsapp.net"};
    std::vector<SsrcDeriver::Ssrcs> out;
    // The derived vectors, or a failed assertion: derive returns nullopt only if libgcrypt fails.
    auto derive = [&d](std::string_view call, const std::vector<std::string> &ps, uint16_t slots = SsrcDeriver::kAllSlots) {
        std::optional<std::vector<SsrcDeriver::Ssrcs>> r = d.derive(call, ps, slots);
        EXPECT_TRUE(r.has_value()) << call;
        return r.value_or(std::vector<SsrcDeriver::Ssrcs>{});
    };
    for (const char *call : {"00112233445566778899AABBCCDDEEFF", "CALL-ID-0001"}) {
        out = derive(call, parts);
        ASSERT_EQ(out.size(), parts.size());
        for (size_t p = 0; p < parts.size(); p++)
            for (int i = 0; i < 9; i++) EXPECT_EQ(out[p][i], derive_ssrc(call, parts[p], kSlotWords[i])) << call << p << i;
    }
    EXPECT_EQ(out[1][3], 0xf8d70484u);  // CALL-ID-0001, 12345:0@lid, slot word 2 (vector above)
    out = derive("00112233445566778899AABBCCDDEEFF", {kPeer});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0][0], 1805509457u);
    std::optional<std::vector<SsrcDeriver::Ssrcs>> none = d.derive("x", {});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    // A slot mask derives only those streams (the key log's audio-first tier), the rest stay 0.
    out = derive("CALL-ID-0001", parts, 0x009);  // streams 0 (audio) and 3 (video)
    ASSERT_EQ(out.size(), parts.size());
    for (size_t p = 0; p < parts.size(); p++)
        for (int i = 0; i < 9; i++)
            EXPECT_EQ(out[p][i], i == 0 || i == 3 ? derive_ssrc("CALL-ID-0001", parts[p], kSlotWords[i]) : 0u) << p << i;
    EXPECT_EQ(out[1][3], 0xf8d70484u);
}

TEST(MediaSsrc, ParticipantIdNormalisation) {
    EXPECT_EQ(format_participant_id("12345@lid"), "12345:0@lid");
    EXPECT_EQ(format_participant_id("12345:6@lid"), "12345:6@lid");
    EXPECT_EQ(format_participant_id("12345@lid/abc"), "12345:0@lid");
    EXPECT_EQ(format_participant_id("12345:3@lid/res"), "12345:3@lid");
    EXPECT_EQ(format_participant_id("4915112345678@s.whatsapp.net"), "4915112345678@s.whatsapp.net");
    EXPECT_EQ(format_participant_id("4915112345678:2@s.whatsapp.net"), "4915112345678:2@s.whatsapp.net");
    EXPECT_EQ(format_participant_id("nodomain"), "nodomain");
    EXPECT_EQ(format_participant_id("@lid"), "@lid");
    EXPECT_EQ(format_participant_id(""), "");
}

TEST(MediaHbh, StripBothPlacementsRoundTripToTheE2EPacket) {
    StreamKeys e2e;
    ASSERT_TRUE(e2e.derive(kCallKey, kPeer));
    HbhKeys hk;
    ASSERT_TRUE(hk.init_rfc3711(kHbhKey));
    Bytes plain = H(std::string("80780007000003c012345678") + kPayload);
    uint8_t e2e_pkt[64];
    size_t e2e_len = 0;
    ASSERT_EQ(e2e_protect(e2e, plain, 0, E2EOptions(), e2e_pkt, sizeof e2e_pkt, e2e_len), SrtpStatus::Ok);
    for (HbhPlacement pl : {HbhPlacement::MiInside, HbhPlacement::MiOutside}) {
        for (size_t tag : {size_t(4), size_t(10)}) {
            uint8_t wire[80], back[80], dec[80];
            size_t n = 0, m = 0;
            ASSERT_EQ(hbh_wrap(hk, ByteView(e2e_pkt, e2e_len), 0, tag, pl, 4, wire, sizeof wire, n), SrtpStatus::Ok);
            ASSERT_EQ(n, e2e_len + tag);
            // The header stays clear, the E2E ciphertext does not.
            EXPECT_EQ(to_hex({wire, 12}), to_hex({e2e_pkt, 12}));
            EXPECT_NE(to_hex({wire + 12, 12}), to_hex({e2e_pkt + 12, 12}));
            ASSERT_EQ(hbh_strip(hk, ByteView(wire, n), 0, tag, pl, 4, back, sizeof back, m), SrtpStatus::Ok);
            EXPECT_EQ(to_hex({back, m}), to_hex({e2e_pkt, e2e_len}));
            RtpUnprotectInfo info;
            ASSERT_EQ(e2e_unprotect(e2e, ByteView(back, m), 0, E2EOptions(), dec, sizeof dec, &info), SrtpStatus::Ok);
            EXPECT_EQ(to_hex({dec, info.out_len}), to_hex(plain));
            // The wrong tag length or the other placement never yields a packet.
            std::memset(back, 0xAA, sizeof back);
            EXPECT_EQ(hbh_strip(hk, ByteView(wire, n), 0, tag == 4 ? 10 : 4, pl, 4, back, sizeof back, m), SrtpStatus::BadTag);
            HbhPlacement other = pl == HbhPlacement::MiInside ? HbhPlacement::MiOutside : HbhPlacement::MiInside;
            EXPECT_NE(hbh_strip(hk, ByteView(wire, n), 0, tag, other, 4, back, sizeof back, m), SrtpStatus::Ok);
            for (uint8_t b : back) ASSERT_EQ(b, 0xAA);
        }
    }
}
