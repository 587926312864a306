// The media receiver (src/media/receiver.h) on packets built here with the core's own protect
// helpers (e2e_protect, hbh_wrap, srtcp_protect, sframe_encrypt): ROC recovery, key rings and
// epochs, SSRC collisions, the hop-by-hop variants, SRTCP, SFrame, replay, failures.
#include "media/receiver.h"

#include "media/hbh.h"
#include "media/sframe.h"
#include "media/srtp.h"
#include "media/ssrc.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace wacall;
using namespace wacall::media;
using wacall::test::H;

namespace {

// Keys and calls in memory: what the plugin's key store and call registry give the receiver.
class MemoryKeySource : public KeySource {
public:
    struct Call {
        std::vector<Bytes> call_keys;                    // differing key-log values, file order
        std::vector<std::pair<uint32_t, Bytes>> epochs;  // (transaction-id, key), ordered
        std::vector<std::string> participants;           // key-log participants
        Bytes hbh_key;
        int tag_len = 0;
        std::string relay_key;
    };
    std::map<std::string, Call> calls;        // the key log
    std::map<std::string, SignaledCall> signaled;
    std::map<std::string, std::vector<std::string>> signaled_participants;
    std::map<std::string, size_t> preferred;  // prefer_call_key()
    std::vector<std::pair<uint32_t, std::string>> reported;
    uint64_t gen = 1, cgen = 1, prefs = 0, clears = 0;
    int refreshes = 0;

    Call &call(const std::string &id) {
        gen++;
        return calls[id];
    }
    uint64_t keys_generation() const override { return gen; }
    uint64_t keys_clears() const override { return clears; }
    uint64_t keys_preferences() const override { return prefs; }
    void refresh_keys() override { refreshes++; }
    std::vector<keys::CallKeyCandidate> call_key_candidates(const std::string &id) const override {
        std::vector<keys::CallKeyCandidate> out;
        auto it = calls.find(id);
        if (it != calls.end())
            for (size_t i = 0; i < it->second.call_keys.size(); i++)
                out.push_back({&it->second.call_keys[i], uint32_t(10 + i)});  // "line" 10, 11, ...
        return out;
    }
    const Bytes *call_key(const std::string &id) const override {
        auto it = calls.find(id);
        if (it == calls.end() || it->second.call_keys.empty()) return nullptr;
        auto p = preferred.find(id);
        return &it->second.call_keys[p == preferred.end() ? 0 : p->second];
    }
    void prefer_call_key(const std::string &id, size_t index) override {
        preferred[id] = index;
        prefs++;
    }
    std::vector<keys::EpochCandidate> epoch_candidates(const std::string &id) const override {
        std::vector<keys::EpochCandidate> out;
        auto it = calls.find(id);
        if (it != calls.end())
            for (const auto &e : it->second.epochs) out.push_back({e.first, 0, &e.second, 20});
        return out;
    }
    const std::vector<std::string> &keylog_participants(const std::string &id) const override {
        static const std::vector<std::string> none;
        auto it = calls.find(id);
        return it == calls.end() ? none : it->second.participants;
    }
    std::vector<std::string> keylog_call_ids() const override {
        std::vector<std::string> ids;
        for (const auto &kv : calls)
            if (!kv.second.participants.empty()) ids.push_back(kv.first);
        return ids;
    }
    const Bytes *keylog_hbh_key(const std::string &id) const override {
        auto it = calls.find(id);
        return it == calls.end() || it->second.hbh_key.empty() ? nullptr : &it->second.hbh_key;
    }
    int keylog_tag_len(const std::string &id) const override {
        auto it = calls.find(id);
        return it == calls.end() ? 0 : it->second.tag_len;
    }
    const std::string *keylog_relay_key(const std::string &id) const override {
        auto it = calls.find(id);
        return it == calls.end() || it->second.relay_key.empty() ? nullptr : &it->second.relay_key;
    }
    void report_key_used(uint32_t line, const std::string &what) override { reported.emplace_back(line, what); }
    uint64_t calls_generation() const override { return cgen; }
    std::vector<std::string> signaled_call_ids() const override {
        std::vector<std::string> ids;
        for (const auto &kv : signaled) ids.push_back(kv.first);
        return ids;
    }
    std::optional<SignaledCall> signaled_call(const std::string &id) const override {
        auto it = signaled.find(id);
        if (it == signaled.end()) return std::nullopt;
        return it->second;
    }
};

const std::string kCall = "4A6F1C2EF23083DD3A6B561F5CE10001";
const std::string kAlice = "111111111:0@lid", kBob = "222222222:0@lid";
const Bytes kCallKey = H("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const Bytes kEpochKey = H("f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100");
const Bytes kWrongKey = H("5555555555555555555555555555555555555555555555555555555555555555");
const Bytes kHbhKey = H("00112233445566778899aabbccddeeff00112233445566778899aabbccdd");  // 30 bytes

// A WARP audio packet in the clear: 16-byte header (X=1, empty 0xDEBE extension) and a payload
// that names its sequence number.
Bytes plain_rtp(uint32_t ssrc, uint16_t seq, size_t payload = 40) {
    Bytes p = {0x90, 120, uint8_t(seq >> 8), uint8_t(seq), 0, 0, 0x03, 0x20, 0, 0, 0, 0, 0xDE, 0xBE, 0, 0};
    put_be32(p.data() + 8, ssrc);
    for (size_t i = 0; i < payload; i++) p.push_back(uint8_t(seq * 7 + i));
    return p;
}

struct Sender {
    StreamKeys keys;
    uint32_t ssrc = 0;
    Sender(const Bytes &key, const std::string &participant, const std::string &call = kCall) {
        EXPECT_TRUE(keys.derive(key, participant, true));
        ssrc = derive_ssrc(call, participant, 0);
    }
    Bytes protect(const Bytes &rtp, uint32_t roc, size_t tag_len = 4) {
        E2EOptions o;
        o.tag_len = tag_len;
        Bytes out(rtp.size() + tag_len);
        size_t n = 0;
        EXPECT_EQ(e2e_protect(keys, rtp, roc, o, out.data(), out.size(), n), SrtpStatus::Ok);
        out.resize(n);
        return out;
    }
};

class ReceiverTest : public ::testing::Test {
protected:
    MemoryKeySource src;
    MediaReceiver rx{src};
    Bytes out;

    void SetUp() override {
        auto &c = src.call(kCall);
        c.call_keys = {kCallKey};
        c.participants = {kAlice, kBob};
        rx.reset();
    }
    RtpVerdict first(const Bytes &wire, RtpPlain *plain = nullptr) {
        out.assign(wire.size(), 0);
        return rx.first_pass_rtp(wire, out.data(), plain);
    }
    // The plaintext of a good packet equals the clear packet it was made from.
    void expect_plain(const Bytes &clear, const RtpPlain &p) {
        ASSERT_EQ(p.len, clear.size());
        EXPECT_EQ(p.header_len, 16u);
        EXPECT_EQ(Bytes(out.begin(), out.begin() + p.len), clear);
    }
};

TEST_F(ReceiverTest, AttributesAndDecrypts) {
    Sender alice(kCallKey, kAlice);
    Bytes clear = plain_rtp(alice.ssrc, 100);
    RtpPlain p;
    RtpVerdict v = first(alice.protect(clear, 0), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good) << receive_status_name(v.status);
    ASSERT_NE(v.stream, nullptr);
    EXPECT_EQ(v.stream->call_id, kCall);
    EXPECT_EQ(v.stream->participant, kAlice);
    EXPECT_EQ(v.stream->slot_word, 0u);
    EXPECT_EQ(v.roc, 0u);
    EXPECT_EQ(v.tag_len, 4);
    EXPECT_EQ(v.hbh_tag, 0);
    EXPECT_EQ(KeyCandidate::kind_of(v.key_id), KeyCandidate::CallKey);
    expect_plain(clear, p);
    EXPECT_EQ(rx.attribute(alice.ssrc), v.stream);
    EXPECT_EQ(rx.attribute(derive_ssrc(kCall, kBob, 2))->participant, kBob);  // video of the other
    EXPECT_EQ(rx.attribute(derive_ssrc(kCall, kBob, 2))->slot_word, 2u);
}

TEST_F(ReceiverTest, ReplayEqualsFirstPass) {
    Sender alice(kCallKey, kAlice);
    std::vector<Bytes> wire;
    std::vector<RtpVerdict> verdicts;
    std::vector<Bytes> plains;
    for (uint16_t seq = 65533; seq != 3; seq++) {  // across the wrap
        wire.push_back(alice.protect(plain_rtp(alice.ssrc, seq), seq < 100 ? 1 : 0));
        RtpPlain p;
        verdicts.push_back(first(wire.back(), &p));
        ASSERT_EQ(verdicts.back().status, ReceiveStatus::Good);
        plains.emplace_back(out.begin(), out.begin() + p.len);
    }
    for (size_t i = wire.size(); i-- > 0;) {  // later passes, in any order
        Bytes again(wire[i].size());
        RtpPlain p = rx.replay_rtp(verdicts[i], wire[i], again.data());
        again.resize(p.len);
        EXPECT_EQ(again, plains[i]) << i;
    }
    // Keys stable: replay trusts the first pass and only decrypts (a changed byte is not
    // noticed); once keys were dropped (key log replaced) the tag is checked again.
    Bytes tampered = wire[1];
    tampered[20] ^= 1;
    Bytes t(tampered.size());
    EXPECT_EQ(rx.replay_rtp(verdicts[1], tampered, t.data()).len, plains[1].size());
    src.clears++;
    EXPECT_EQ(rx.replay_rtp(verdicts[1], tampered, t.data()).len, 0u);
    EXPECT_EQ(rx.replay_rtp(verdicts[1], wire[1], t.data()).len, plains[1].size());
    // A verdict that did not authenticate replays to nothing.
    RtpVerdict bad = verdicts[0];
    bad.status = ReceiveStatus::BadTag;
    Bytes again(wire[0].size());
    EXPECT_EQ(rx.replay_rtp(bad, wire[0], again.data()).len, 0u);
}

TEST_F(ReceiverTest, RocAcrossWrapLossAndReordering) {
    Sender alice(kCallKey, kAlice);
    // (seq, roc): wrap, loss of ~1000 packets, a late packet from before the wrap, another gap.
    const std::vector<std::pair<uint16_t, uint32_t>> order = {
        {65530, 0}, {65531, 0}, {65533, 0}, {65535, 0}, {0, 1}, {2, 1}, {65534, 0}, {1, 1},
        {1000, 1},  {999, 1},   {30000, 1}, {60000, 1}, {500, 2}, {65000, 1}, {501, 2}};
    for (auto [seq, roc] : order) {
        Bytes clear = plain_rtp(alice.ssrc, seq);
        RtpPlain p;
        RtpVerdict v = first(alice.protect(clear, roc), &p);
        ASSERT_EQ(v.status, ReceiveStatus::Good) << "seq " << seq;
        EXPECT_EQ(v.roc, roc) << "seq " << seq;
        expect_plain(clear, p);
    }
}

TEST_F(ReceiverTest, MidCallStartFindsRoc) {
    Sender alice(kCallKey, kAlice);
    // The capture starts 3 wraps (~66 minutes of audio) into the stream.
    for (uint16_t seq = 4000; seq < 4004; seq++) {
        Bytes clear = plain_rtp(alice.ssrc, seq);
        RtpPlain p;
        RtpVerdict v = first(alice.protect(clear, 3), &p);
        ASSERT_EQ(v.status, ReceiveStatus::Good);
        EXPECT_EQ(v.roc, 3u);
        expect_plain(clear, p);
    }
    // Beyond the search bound (ROC 15) a stream that never authenticated stays failed, and
    // reports the estimate.
    Sender bob(kCallKey, kBob);
    RtpVerdict v = first(bob.protect(plain_rtp(bob.ssrc, 10), 16));
    EXPECT_EQ(v.status, ReceiveStatus::BadTag);
    EXPECT_EQ(v.roc, 0u);
}

TEST_F(ReceiverTest, EpochRing) {
    src.call(kCall).epochs = {{7, kEpochKey}};
    Sender alice_epoch(kEpochKey, kAlice);
    Bytes clear = plain_rtp(alice_epoch.ssrc, 5);
    RtpPlain p;
    RtpVerdict v = first(alice_epoch.protect(clear, 0), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_EQ(KeyCandidate::kind_of(v.key_id), KeyCandidate::Epoch);
    EXPECT_EQ(uint32_t(v.key_id), 7u);
    expect_plain(clear, p);
    // The ring: the call key first, then the epochs by transaction-id.
    const auto &ring = rx.keyring(*v.stream);
    ASSERT_EQ(ring.size(), 2u);
    EXPECT_EQ(ring[0]->kind, KeyCandidate::CallKey);
    EXPECT_EQ(ring[1]->kind, KeyCandidate::Epoch);
    EXPECT_EQ(ring[1]->transaction_id, 7u);
    const KeyCandidate *used = rx.find_key(*v.stream, v.key_id);
    ASSERT_NE(used, nullptr);
    EXPECT_EQ(0, std::memcmp(used->keys.master.key, alice_epoch.keys.master.key, 16));
    // The epoch that worked last is tried first: the next packet needs one attempt; a call-key
    // packet of the same sender still authenticates.
    Sender alice_call(kCallKey, kAlice);
    v = first(alice_call.protect(plain_rtp(alice_call.ssrc, 6), 0));
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_EQ(KeyCandidate::kind_of(v.key_id), KeyCandidate::CallKey);
}

TEST_F(ReceiverTest, DifferingCallKeysTheOneThatWorksWinsAndIsReported) {
    src.call(kCall).call_keys = {kWrongKey, kCallKey};
    Sender alice(kCallKey, kAlice);
    RtpVerdict v = first(alice.protect(plain_rtp(alice.ssrc, 1), 0));
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_EQ(uint32_t(v.key_id), 1u);  // the second key-log value
    ASSERT_EQ(src.preferred.count(kCall), 1u);
    EXPECT_EQ(src.preferred[kCall], 1u);
    ASSERT_EQ(src.reported.size(), 1u);
    EXPECT_EQ(src.reported[0].first, 11u);
    first(alice.protect(plain_rtp(alice.ssrc, 2), 0));
    EXPECT_EQ(src.reported.size(), 1u);  // once
}

TEST_F(ReceiverTest, Failures) {
    Sender alice(kCallKey, kAlice);
    // Unknown SSRC.
    RtpVerdict v = first(alice.protect(plain_rtp(0x01020304, 1), 0));
    EXPECT_EQ(v.status, ReceiveStatus::Unattributed);
    EXPECT_EQ(v.stream, nullptr);
    // Wrong key: the sender's SSRC, another key.
    Sender forged(kWrongKey, kAlice);
    RtpPlain p;
    v = first(forged.protect(plain_rtp(forged.ssrc, 1), 0), &p);
    EXPECT_EQ(v.status, ReceiveStatus::BadTag);
    ASSERT_NE(v.stream, nullptr);
    EXPECT_EQ(v.stream->participant, kAlice);
    EXPECT_EQ(p.len, 0u);
    // A flipped payload bit.
    Bytes wire = alice.protect(plain_rtp(alice.ssrc, 2), 0);
    wire[20] ^= 1;
    EXPECT_EQ(first(wire).status, ReceiveStatus::BadTag);
    // Truncated: no payload left once the tag is taken; shorter than a header.
    Bytes shortp = plain_rtp(alice.ssrc, 3, 0);
    shortp.push_back(1);
    EXPECT_EQ(first(shortp).status, ReceiveStatus::Malformed);
    EXPECT_EQ(first(Bytes(wire.begin(), wire.begin() + 8)).status, ReceiveStatus::Malformed);
    Bytes v1 = alice.protect(plain_rtp(alice.ssrc, 4), 0);
    v1[0] = 0x50;  // RTP version 1
    v = first(v1);
    EXPECT_EQ(v.status, ReceiveStatus::Malformed);
    EXPECT_EQ(v.stream, rx.attribute(alice.ssrc));
    EXPECT_EQ(first(Bytes()).status, ReceiveStatus::Malformed);
    // A call without keys.
    const std::string other = "4A6F1C2EF23083DD3A6B561F5CE10002";
    src.call(other).participants = {kAlice};
    Sender nokey(kCallKey, kAlice, other);
    v = first(nokey.protect(plain_rtp(nokey.ssrc, 1), 0));
    EXPECT_EQ(v.status, ReceiveStatus::NoKey);
    EXPECT_EQ(v.stream->call_id, other);
}

TEST_F(ReceiverTest, TagLengthFromSignalingThenKeyLog) {
    src.call(kCall).tag_len = 10;
    Sender alice(kCallKey, kAlice);
    Bytes clear = plain_rtp(alice.ssrc, 1);
    RtpPlain p;
    RtpVerdict v = first(alice.protect(clear, 0, 10), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_EQ(v.tag_len, 10);
    expect_plain(clear, p);
    std::vector<std::string> parts = {kAlice, kBob};
    SignaledCall sc;
    sc.participants = &parts;
    sc.warp_mi_tag_len = 8;
    src.signaled[kCall] = sc;
    src.cgen++;
    EXPECT_EQ(rx.tag_len(kCall), 8u);
    EXPECT_EQ(rx.tag_len("unknown"), 4u);
}

// Two senders deriving one SSRC (the ids of test-pcaps/gen/make_collision.py): the first
// derived is tried first, the other when its keys fail; both are named.
TEST_F(ReceiverTest, SsrcCollision) {
    const std::string call_a = "48741F1C2EF23083DD3A6B561F5CE1F1", call_b = "DE635BA90457AB81C95808F0BE320CDD";
    const std::string caller = "48213377210000:0@lid";
    const uint32_t shared = 0x8A5D0651;
    ASSERT_EQ(derive_ssrc(call_a, caller, 0), shared);
    ASSERT_EQ(derive_ssrc(call_b, caller, 0), shared);
    const Bytes key_b = H("b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
    src.calls.clear();
    src.call(call_a) = {{kCallKey}, {}, {caller, "39517204880000:7@lid"}, {}, 0, {}};
    src.call(call_b) = {{key_b}, {}, {caller, "39517204880001:7@lid"}, {}, 0, {}};
    rx.reset();
    const MediaStream *head = rx.attribute(shared);
    ASSERT_NE(head, nullptr);
    ASSERT_NE(head->next(), nullptr);
    EXPECT_EQ(head->next()->next(), nullptr);
    EXPECT_NE(head->call_id, head->next()->call_id);
    EXPECT_EQ(head->participant, caller);
    EXPECT_EQ(head->next()->participant, caller);
    // Each call's packets go to their own sender, whichever is first in the chain.
    for (int round = 0; round < 2; round++)
        for (const auto &[cid, key] : {std::make_pair(call_a, kCallKey), std::make_pair(call_b, key_b)}) {
            Sender s(key, caller, cid);
            ASSERT_EQ(s.ssrc, shared);
            Bytes clear = plain_rtp(shared, uint16_t(10 + round));
            RtpPlain p;
            RtpVerdict v = first(s.protect(clear, 0), &p);
            ASSERT_EQ(v.status, ReceiveStatus::Good) << cid;
            EXPECT_EQ(v.stream->call_id, cid);
            expect_plain(clear, p);
        }
    // SRTCP of the second call's sender: its keys, its call.
    Sender sb(key_b, caller, call_b);
    Bytes sr = {0x80, 200, 0, 6};
    sr.resize(28, 0);
    put_be32(sr.data() + 4, shared);
    Bytes srtcp(sr.size() + kSrtcpTrailerLen);
    size_t n = 0;
    ASSERT_EQ(srtcp_protect(sb.keys.rtcp, sr, 1, true, srtcp.data(), srtcp.size(), n), SrtpStatus::Ok);
    srtcp.resize(n);
    out.assign(srtcp.size(), 0);
    RtcpPlain rp;
    RtcpVerdict rv = rx.first_pass_rtcp(srtcp, FlowHint(), out.data(), &rp);
    ASSERT_EQ(rv.status, ReceiveStatus::Good);
    EXPECT_EQ(rv.stream->call_id, call_b);
    EXPECT_EQ(Bytes(out.begin(), out.begin() + rp.len), sr);
    // Neither key: the first sender's failure is reported.
    Sender forged(kWrongKey, caller, call_a);
    RtpVerdict v = first(forged.protect(plain_rtp(shared, 20), 0));
    EXPECT_EQ(v.status, ReceiveStatus::BadTag);
    EXPECT_EQ(v.stream, head);
}

struct HbhCase {
    HbhMode mode;
    unsigned tag;            // on the wire
    unsigned option;         // ReceiverOptions::hbh_tag (0 auto)
    HbhPlacement placement;
};

class ReceiverHbhTest : public ReceiverTest, public ::testing::WithParamInterface<HbhCase> {};

TEST_P(ReceiverHbhTest, StripsTheHopByHopLayer) {
    const HbhCase c = GetParam();
    src.call(kCall).hbh_key = kHbhKey;
    ReceiverOptions o;
    o.hbh_mode = c.mode;
    o.hbh_tag = c.option;
    o.hbh_placement = c.placement;
    rx.set_options(o);
    HbhKeys hk;
    ASSERT_TRUE(c.mode == HbhMode::Rfc3711 ? hk.init_rfc3711(kHbhKey) : hk.init_hkdf(kHbhKey, HbhLabelPair::SharedSrtp));
    Sender alice(kCallKey, kAlice);
    for (auto [seq, roc] : {std::make_pair(uint16_t(65535), 0u), std::make_pair(uint16_t(0), 1u)}) {
        Bytes clear = plain_rtp(alice.ssrc, seq);
        Bytes e2e = alice.protect(clear, roc);
        Bytes wire(e2e.size() + c.tag);
        size_t n = 0;
        ASSERT_EQ(hbh_wrap(hk, e2e, roc, c.tag, c.placement, 4, wire.data(), wire.size(), n), SrtpStatus::Ok);
        wire.resize(n);
        RtpPlain p;
        RtpVerdict v = first(wire, &p);
        ASSERT_EQ(v.status, ReceiveStatus::Good) << receive_status_name(v.status);
        EXPECT_EQ(v.hbh_tag, c.tag);
        EXPECT_EQ(v.roc, roc);
        expect_plain(clear, p);
        Bytes again(wire.size());
        RtpPlain r = rx.replay_rtp(v, wire, again.data());
        again.resize(r.len);
        EXPECT_EQ(again, clear);
        // A flipped HBH tag bit: the E2E layer is not reached.
        Bytes bad = wire;
        bad[c.placement == HbhPlacement::MiOutside ? bad.size() - 5 : bad.size() - 1] ^= 1;
        EXPECT_EQ(first(bad).status, ReceiveStatus::HbhBad);
    }
    // No HBH key for the call.
    src.call(kCall).hbh_key.clear();
    rx.reset();
    Bytes e2e = alice.protect(plain_rtp(alice.ssrc, 9), 0);
    EXPECT_EQ(first(e2e).status, ReceiveStatus::NoHbhKey);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, ReceiverHbhTest,
    ::testing::Values(HbhCase{HbhMode::Rfc3711, 10, 0, HbhPlacement::MiInside},
                      HbhCase{HbhMode::Rfc3711, 4, 0, HbhPlacement::MiInside},
                      HbhCase{HbhMode::Rfc3711, 4, 4, HbhPlacement::MiOutside},
                      HbhCase{HbhMode::HkdfDirectional, 10, 10, HbhPlacement::MiInside},
                      HbhCase{HbhMode::HkdfDirectional, 4, 0, HbhPlacement::MiOutside},
                      HbhCase{HbhMode::HkdfShared, 10, 0, HbhPlacement::MiOutside},
                      HbhCase{HbhMode::HkdfShared, 4, 4, HbhPlacement::MiInside}));

TEST_F(ReceiverTest, HbhTagOptionRestrictsTheLength) {
    src.call(kCall).hbh_key = kHbhKey;
    ReceiverOptions o;
    o.hbh_mode = HbhMode::Rfc3711;
    o.hbh_tag = 10;  // the packet has a 4-byte HBH tag
    rx.set_options(o);
    HbhKeys hk;
    ASSERT_TRUE(hk.init_rfc3711(kHbhKey));
    Sender alice(kCallKey, kAlice);
    Bytes e2e = alice.protect(plain_rtp(alice.ssrc, 1), 0);
    Bytes wire(e2e.size() + 4);
    size_t n = 0;
    ASSERT_EQ(hbh_wrap(hk, e2e, 0, 4, HbhPlacement::MiInside, 4, wire.data(), wire.size(), n), SrtpStatus::Ok);
    wire.resize(n);
    EXPECT_EQ(first(wire).status, ReceiveStatus::HbhBad);
    o.hbh_tag = 0;
    rx.set_options(o);
    EXPECT_EQ(first(wire).status, ReceiveStatus::Good);
}

// A sender report (PT 200) of `ssrc`, 28 bytes.
Bytes plain_rtcp(uint32_t ssrc, uint32_t packets) {
    Bytes r = {0x80, 200, 0, 6};
    r.resize(28, 0);
    put_be32(r.data() + 4, ssrc);
    put_be32(r.data() + 20, packets);
    return r;
}

Bytes protect_rtcp(SessionContext &k, const Bytes &rtcp, uint32_t index) {
    Bytes out(rtcp.size() + kSrtcpTrailerLen);
    size_t n = 0;
    EXPECT_EQ(srtcp_protect(k, rtcp, index, true, out.data(), out.size(), n), SrtpStatus::Ok);
    out.resize(n);
    return out;
}

TEST_F(ReceiverTest, Srtcp) {
    Sender alice(kCallKey, kAlice);
    Bytes clear = plain_rtcp(alice.ssrc, 77);
    Bytes wire = protect_rtcp(alice.keys.rtcp, clear, 1);
    out.assign(wire.size(), 0);
    RtcpPlain p;
    RtcpVerdict v = rx.first_pass_rtcp(wire, FlowHint(), out.data(), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_EQ(v.stream->participant, kAlice);
    EXPECT_EQ(p.srtp, SrtpStatus::Ok);
    ASSERT_EQ(p.len, clear.size());
    EXPECT_EQ(Bytes(out.begin(), out.begin() + p.len), clear);
    Bytes again(wire.size());
    RtcpPlain r;
    EXPECT_EQ(rx.replay_rtcp(v, wire, FlowHint(), again.data(), &r).status, ReceiveStatus::Good);
    EXPECT_EQ(Bytes(again.begin(), again.begin() + r.len), clear);
    // Wrong key: the tag fails with every key, and the SRTCP status says why.
    Sender forged(kWrongKey, kAlice);
    v = rx.first_pass_rtcp(protect_rtcp(forged.keys.rtcp, clear, 2), FlowHint(), out.data(), &p);
    EXPECT_EQ(v.status, ReceiveStatus::BadTag);
    EXPECT_EQ(p.srtp, SrtpStatus::BadTag);
    EXPECT_EQ(p.len, 0u);
    // Truncated below the SRTCP trailer.
    v = rx.first_pass_rtcp(Bytes(wire.begin(), wire.begin() + 12), FlowHint(), out.data(), &p);
    EXPECT_EQ(v.status, ReceiveStatus::Malformed);
    EXPECT_EQ(p.srtp, SrtpStatus::TooShort);
}

TEST_F(ReceiverTest, SrtcpThroughTheDirectionalHopByHopLayer) {
    src.call(kCall).hbh_key = kHbhKey;
    ReceiverOptions o;
    o.hbh_mode = HbhMode::HkdfDirectional;
    rx.set_options(o);
    Sender alice(kCallKey, kAlice);
    Bytes clear = plain_rtcp(alice.ssrc, 5);
    Bytes e2e = protect_rtcp(alice.keys.rtcp, clear, 3);
    HbhKeys up;
    ASSERT_TRUE(up.init_hkdf(kHbhKey, HbhLabelPair::UplinkSrtcp));
    Bytes wire = protect_rtcp(up.rtcp, e2e, 3);
    out.assign(wire.size(), 0);
    RtcpPlain p;
    FlowHint to_relay;
    to_relay.to_relay = true;
    RtcpVerdict v = rx.first_pass_rtcp(wire, to_relay, out.data(), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_EQ(Bytes(out.begin(), out.begin() + p.len), clear);
    // The same bytes read as downlink use the other label pair: the HBH layer fails.
    EXPECT_EQ(rx.first_pass_rtcp(wire, FlowHint(), out.data(), &p).status, ReceiveStatus::HbhBad);
}

TEST_F(ReceiverTest, SFramePayloadIsOpened) {
    Sender alice(kCallKey, kAlice);
    // The reference seals a payload for the receiver with the receiver's id (Bob receives).
    SFrameKey bob;
    ASSERT_TRUE(bob.derive(kCallKey, kBob));
    const Bytes codec = H("0102030405060708090a0b0c0d0e0f10111213");
    Bytes sealed(codec.size() + 64);
    size_t n = 0;
    ASSERT_TRUE(sframe_encrypt(bob, 42, 0, codec, SFrameOptions(), sealed.data(), sealed.size(), n));
    sealed.resize(n);
    Bytes clear = plain_rtp(alice.ssrc, 1, 0);
    clear.insert(clear.end(), sealed.begin(), sealed.end());
    RtpPlain p;
    RtpVerdict v = first(alice.protect(clear, 0), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    ASSERT_TRUE(p.sframe);
    EXPECT_EQ(p.sframe_counter, 42u);
    ASSERT_EQ(p.len, 16 + codec.size());
    EXPECT_EQ(Bytes(out.begin() + 16, out.begin() + p.len), codec);
    // Off: the sealed bytes stay as they are.
    ReceiverOptions o;
    o.try_sframe = false;
    rx.set_options(o);
    v = first(alice.protect(clear, 0), &p);
    ASSERT_EQ(v.status, ReceiveStatus::Good);
    EXPECT_FALSE(p.sframe);
    expect_plain(clear, p);
}

TEST_F(ReceiverTest, ResetDropsEverything) {
    Sender alice(kCallKey, kAlice);
    ASSERT_NE(rx.attribute(alice.ssrc), nullptr);
    const std::string *interned = rx.intern_call(kCall);
    EXPECT_EQ(rx.intern_call(kCall), interned);
    src.calls.clear();
    src.gen++;
    rx.reset();
    EXPECT_EQ(rx.attribute(alice.ssrc), nullptr);
    EXPECT_TRUE(rx.keys_stable());
    src.clears++;
    EXPECT_FALSE(rx.keys_stable());
}

}  // namespace
