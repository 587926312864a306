// The Noise receiver (src/noise/session.*): frame roles, handshake replay then traffic, counter
// resync after lost frames, the mid-stream key and counter search, wrong keys, replay of a
// verdict, and raw-TCP segments out of order. Handshakes come from a responder simulated with the
// core's own symmetric state (as in test_noise.cpp); transport frames are encrypted with the
// core's TransportCipher.
#include "noise/session.h"

#include <gtest/gtest.h>

#include "noise_support.h"
#include "test_support.h"

#include <cstring>
#include <string>

using namespace wacall;
using namespace wacall::noise;
using namespace wacall::test;

namespace {


// The key log in memory.
class MemKeys : public KeySource {
public:
    std::vector<keys::NoiseTraffic> traffic;
    std::vector<keys::NoisePrivate> priv;
    uint64_t gen = 1;
    std::vector<uint32_t> reported;
    uint64_t generation() const override { return gen; }
    std::vector<const keys::NoiseTraffic *> traffic_candidates(ByteView eph) const override {
        std::vector<const keys::NoiseTraffic *> out;
        for (const auto &t : traffic)
            if (eph.size == 32 && std::memcmp(t.client_eph_pub.data(), eph.data, 32) == 0) out.push_back(&t);
        return out;
    }
    std::vector<const keys::NoisePrivate *> private_candidates(ByteView eph) const override {
        std::vector<const keys::NoisePrivate *> out;
        for (const auto &p : priv)
            if (eph.size == 32 && std::memcmp(p.client_eph_pub.data(), eph.data, 32) == 0) out.push_back(&p);
        return out;
    }
    std::vector<const keys::NoiseTraffic *> all_traffic() const override {
        std::vector<const keys::NoiseTraffic *> out;
        for (const auto &t : traffic) out.push_back(&t);
        return out;
    }
    void report_used(uint32_t line, const std::string &) override { reported.push_back(line); }
};

// An XX handshake between a client and a responder simulated with the core's symmetric state.
struct Xx {
    Key32 ce = K("a8abababababababababababababababababababababababababababababab6b");
    Key32 cs = K("c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d");
    Key32 se = K("d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedee7f");
    Key32 ss = K("1011121314151617181920212223242526272829303132333435363738393a7b");
    Bytes client_hello, server_hello, client_finish;
    Key32 c2s{}, s2c{};

    Xx() {
        SymmetricState st;
        const char *proto = kProtocolXX;
        EXPECT_TRUE(st.init(ByteView(reinterpret_cast<const uint8_t *>(proto), std::strlen(proto)), kPrologue));
        Key32 ce_pub = pub(ce), e_pub = pub(se), s_pub = pub(ss), c_pub = pub(cs);
        st.mix_hash(V(ce_pub));
        Bytes ch;
        put_bytes(ch, 1, V(ce_pub));
        client_hello = wrap(2, ch);
        Bytes sh, enc_s, enc_cert, enc_cs, enc_p;
        st.mix_hash(V(e_pub));
        EXPECT_TRUE(st.mix_key(dh(se, ce_pub)));
        enc_s = enc(st, V(s_pub));
        EXPECT_TRUE(st.mix_key(dh(ss, ce_pub)));
        enc_cert = enc(st, H("0a0b0c0d"));
        put_bytes(sh, 1, V(e_pub));
        put_bytes(sh, 2, enc_s);
        put_bytes(sh, 3, enc_cert);
        server_hello = wrap(3, sh);
        enc_cs = enc(st, V(c_pub));
        EXPECT_TRUE(st.mix_key(dh(se, c_pub)));
        enc_p = enc(st, H("1122334455667788"));
        Bytes cf;
        put_bytes(cf, 1, enc_cs);
        put_bytes(cf, 2, enc_p);
        client_finish = wrap(4, cf);
        split_into(st, c2s, s2c);
    }
    Key32 eph_pub() const { return pub(ce); }
    keys::NoisePrivate private_line(uint32_t line = 7) const {
        keys::NoisePrivate p;
        p.client_eph_pub = eph_pub();
        p.eph_priv = ce;
        p.static_priv = cs;
        p.line = line;
        return p;
    }
    keys::NoiseTraffic traffic_line(uint32_t line = 9) const {
        keys::NoiseTraffic t;
        t.client_eph_pub = eph_pub();
        t.c2s = c2s;
        t.s2c = s2c;
        t.line = line;
        return t;
    }
};

// A transport frame body (ciphertext || tag) as the sender encrypts it.
Bytes seal(const Key32 &key, uint32_t counter, const Bytes &plain) {
    TransportCipher c;
    EXPECT_TRUE(c.set_key(V(key)));
    Bytes ct(plain.size() + kTagSize);
    EXPECT_TRUE(c.encrypt(counter, plain, ct.data()));
    return ct;
}
// [3-byte length][body]
Bytes framed(const Bytes &body) {
    Bytes f = {uint8_t(body.size() >> 16), uint8_t(body.size() >> 8), uint8_t(body.size())};
    f.insert(f.end(), body.begin(), body.end());
    return f;
}
Bytes cat(Bytes a, const Bytes &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}
// A distinct plaintext per frame number.
Bytes plain_n(uint32_t n) { return cat(H("00f80213"), Bytes{uint8_t(n), uint8_t(n >> 8)}); }

// The handshake of `x` through a fresh session.
void handshake(Session &s, const Xx &x) {
    FrameResult ch = s.first_pass(C2S, x.client_hello);
    EXPECT_EQ(ch.verdict.kind, FrameKind::Handshake);
    EXPECT_EQ(ch.verdict.hs_kind, HandshakeKind::ClientHello);
    FrameResult sh = s.first_pass(S2C, x.server_hello);
    EXPECT_EQ(sh.verdict.hs_kind, HandshakeKind::ServerHello);
    FrameResult cf = s.first_pass(C2S, x.client_finish);
    EXPECT_EQ(cf.verdict.kind, FrameKind::Handshake);  // XX: the client's 2nd frame is ClientFinish
    EXPECT_EQ(cf.verdict.hs_kind, HandshakeKind::ClientFinish);
}

}  // namespace

TEST(NoiseSession, HandshakeReplayThenTraffic) {
    Xx x;
    MemKeys keys;
    keys.priv.push_back(x.private_line());
    Session s(keys, kPrologue, 3, 4096);
    handshake(s, x);
    ASSERT_NE(s.replay_result(), nullptr);
    EXPECT_TRUE(s.replay_result()->keys.has_value());
    EXPECT_EQ(s.replay_result()->pattern, HandshakePattern::XX);
    ASSERT_TRUE(s.client_ephemeral());
    EXPECT_EQ(*s.client_ephemeral(), x.eph_pub());
    EXPECT_EQ(s.dict_version(), 3);

    for (uint32_t n = 0; n < 3; n++) {
        FrameResult c = s.first_pass(C2S, seal(x.c2s, n, plain_n(n)));
        EXPECT_EQ(c.verdict.kind, FrameKind::Transport);
        EXPECT_EQ(c.verdict.status, FrameStatus::Decrypted) << n;
        EXPECT_EQ(c.verdict.counter, n);
        EXPECT_EQ(c.verdict.skipped, 0u);
        EXPECT_EQ(c.verdict.key_source, KeyOrigin::Replay);
        EXPECT_EQ(c.plaintext, plain_n(n));
    }
    FrameResult sv = s.first_pass(S2C, seal(x.s2c, 0, plain_n(100)));
    EXPECT_EQ(sv.verdict.dir, S2C);
    EXPECT_EQ(sv.verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(sv.verdict.counter, 0u);
    EXPECT_EQ(sv.plaintext, plain_n(100));
    EXPECT_EQ(s.next_counter(C2S), 3u);
    EXPECT_EQ(s.next_counter(S2C), 1u);
    EXPECT_TRUE(keys.reported.empty());  // one line: nothing to say
}

TEST(NoiseSession, TrafficKeyWithoutReplay) {
    Xx x;
    MemKeys keys;
    keys.traffic.push_back(x.traffic_line(12));
    Session s(keys, kPrologue, 3, 4096);
    handshake(s, x);
    EXPECT_EQ(s.replay_result(), nullptr);
    FrameResult c = s.first_pass(C2S, seal(x.c2s, 0, plain_n(1)));
    EXPECT_EQ(c.verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(c.verdict.key_source, KeyOrigin::Traffic);
    EXPECT_EQ(c.verdict.key_line, 12u);
    EXPECT_EQ(c.plaintext, plain_n(1));
}

TEST(NoiseSession, CounterResyncAfterLostFrames) {
    Xx x;
    MemKeys keys;
    keys.traffic.push_back(x.traffic_line());
    Session s(keys, kPrologue, 3, 4096);
    handshake(s, x);
    EXPECT_EQ(s.first_pass(C2S, seal(x.c2s, 0, plain_n(0))).verdict.counter, 0u);
    // Frames 1 and 2 were lost: the next one decrypts at 3 after the tag failed at 1.
    FrameResult r = s.first_pass(C2S, seal(x.c2s, 3, plain_n(3)));
    EXPECT_EQ(r.verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(r.verdict.counter, 3u);
    EXPECT_EQ(r.verdict.skipped, 2u);
    EXPECT_EQ(r.plaintext, plain_n(3));
    FrameResult next = s.first_pass(C2S, seal(x.c2s, 4, plain_n(4)));
    EXPECT_EQ(next.verdict.counter, 4u);
    EXPECT_EQ(next.verdict.skipped, 0u);
    EXPECT_EQ(next.plaintext, plain_n(4));
    // Beyond the window nothing is adopted: the frame stays encrypted, the counter moves by one.
    FrameResult far = s.first_pass(C2S, seal(x.c2s, 5 + kResyncWindow + 1, plain_n(9)));
    EXPECT_EQ(far.verdict.status, FrameStatus::BadTag);
    EXPECT_TRUE(far.plaintext.empty());
    EXPECT_EQ(far.verdict.counter, 5u);
    EXPECT_EQ(s.next_counter(C2S), 6u);
}

TEST(NoiseSession, MidstreamStart) {
    Xx x;
    MemKeys keys;
    keys::NoiseTraffic other = x.traffic_line(3);
    other.client_eph_pub[0] ^= 1;
    other.c2s[0] ^= 1;
    other.s2c[0] ^= 1;
    keys.traffic.push_back(other);            // tried first, fails
    keys.traffic.push_back(x.traffic_line(5));
    const uint32_t n = 37;
    Bytes first = seal(x.c2s, n, plain_n(n));
    std::unique_ptr<Session> s = Session::pick_up_midstream(keys, C2S, first, 4096);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->midstream());
    EXPECT_EQ(s->key_source(), KeyOrigin::Traffic);
    ASSERT_TRUE(s->client_ephemeral());
    EXPECT_EQ(*s->client_ephemeral(), x.eph_pub());
    FrameResult r = s->first_pass(C2S, first);
    EXPECT_EQ(r.verdict.kind, FrameKind::Transport);
    EXPECT_TRUE(r.verdict.midstream);
    EXPECT_EQ(r.verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(r.verdict.counter, n);
    EXPECT_EQ(r.plaintext, plain_n(n));
    FrameResult r2 = s->first_pass(C2S, seal(x.c2s, n + 1, plain_n(n + 1)));
    EXPECT_FALSE(r2.verdict.midstream);
    EXPECT_EQ(r2.verdict.counter, n + 1);
    EXPECT_EQ(r2.plaintext, plain_n(n + 1));
    // The other direction's counter is searched on its own first frame.
    FrameResult sv = s->first_pass(S2C, seal(x.s2c, 5, plain_n(500)));
    EXPECT_TRUE(sv.verdict.midstream);
    EXPECT_EQ(sv.verdict.counter, 5u);
    EXPECT_EQ(sv.plaintext, plain_n(500));

    // Past the search window, or with no key that fits, nothing is picked up.
    EXPECT_EQ(Session::pick_up_midstream(keys, C2S, first, n), nullptr);
    EXPECT_NE(Session::pick_up_midstream(keys, C2S, first, n + 1), nullptr);
    MemKeys wrong;
    wrong.traffic.push_back(other);
    EXPECT_EQ(Session::pick_up_midstream(wrong, C2S, first, 4096), nullptr);
}

TEST(NoiseSession, MidstreamCandidateFraming) {
    Bytes a = seal(K(std::string(64, '1')), 0, plain_n(1000));  // 22 bytes
    Bytes b = seal(K(std::string(64, '1')), 1, H("00"));        // 17 bytes
    Bytes seg = cat(framed(a), framed(b));
    std::optional<ByteView> c = midstream_candidate(seg);
    ASSERT_TRUE(c);
    EXPECT_EQ(Bytes(c->begin(), c->end()), b);  // the smallest frame
    seg.push_back(0);                           // trailing byte: not whole frames
    EXPECT_FALSE(midstream_candidate(seg));
    EXPECT_FALSE(midstream_candidate(cat(H("1603030040"), Bytes(64, 0))));  // TLS record header
    EXPECT_FALSE(midstream_candidate(framed(H("00112233"))));          // shorter than a tag
}

TEST(NoiseSession, WrongKeyStatus) {
    Xx x;
    MemKeys keys;
    keys::NoiseTraffic bad = x.traffic_line();
    bad.c2s[5] ^= 0x20;
    keys.traffic.push_back(bad);
    Session s(keys, kPrologue, 3, 4096);
    handshake(s, x);
    FrameResult r = s.first_pass(C2S, seal(x.c2s, 0, plain_n(0)));
    EXPECT_EQ(r.verdict.status, FrameStatus::BadTag);
    EXPECT_STREQ(frame_status_name(r.verdict.status), "AES-GCM tag check failed");
    EXPECT_TRUE(r.plaintext.empty());
    EXPECT_EQ(r.verdict.counter, 0u);
    EXPECT_FALSE(s.replay(r.verdict, seal(x.c2s, 0, plain_n(0))));

    // No key at all, and a frame shorter than the tag.
    MemKeys none;
    Session n(none, kPrologue, 3, 4096);
    handshake(n, x);
    FrameResult nk = n.first_pass(C2S, seal(x.c2s, 0, plain_n(0)));
    EXPECT_EQ(nk.verdict.status, FrameStatus::NoKey);
    EXPECT_EQ(nk.verdict.key_source, KeyOrigin::None);
    EXPECT_EQ(n.first_pass(C2S, H("0011")).verdict.status, FrameStatus::TooShort);

    // A corrected line appended to the key log is picked up on the next frame.
    none.traffic.push_back(x.traffic_line(30));
    none.gen++;
    FrameResult ok = n.first_pass(C2S, seal(x.c2s, 2, plain_n(2)));
    EXPECT_EQ(ok.verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(ok.plaintext, plain_n(2));
}

TEST(NoiseSession, DisagreeingTrafficLinesFirstAuthenticatingWins) {
    Xx x;
    MemKeys keys;
    keys::NoiseTraffic bad = x.traffic_line(4);
    bad.c2s[0] ^= 1;
    bad.s2c[0] ^= 1;
    keys.traffic.push_back(bad);
    keys.traffic.push_back(x.traffic_line(8));
    Session s(keys, kPrologue, 3, 4096);
    handshake(s, x);
    FrameResult r = s.first_pass(S2C, seal(x.s2c, 0, plain_n(7)));
    EXPECT_EQ(r.verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(r.verdict.key_line, 8u);
    EXPECT_EQ(r.plaintext, plain_n(7));
    ASSERT_EQ(keys.reported.size(), 1u);
    EXPECT_EQ(keys.reported[0], 8u);
}

TEST(NoiseSession, ReplayEqualsFirstPass) {
    Xx x;
    MemKeys keys;
    keys.priv.push_back(x.private_line());
    Session s(keys, kPrologue, 3, 4096);
    handshake(s, x);
    std::vector<std::pair<Bytes, FrameResult>> seen;
    for (uint32_t n : {0u, 1u, 4u, 5u}) {  // 2 and 3 lost: resync
        Bytes body = seal(x.c2s, n, plain_n(n));
        seen.emplace_back(body, s.first_pass(C2S, body));
    }
    for (const auto &[body, r] : seen) {
        ASSERT_EQ(r.verdict.status, FrameStatus::Decrypted);
        std::optional<Bytes> again = s.replay(r.verdict, body);
        ASSERT_TRUE(again);
        EXPECT_EQ(*again, r.plaintext);
    }
    EXPECT_EQ(seen[2].second.verdict.counter, 4u);
    // A verdict for other bytes does not authenticate.
    EXPECT_FALSE(s.replay(seen[0].second.verdict, seen[1].first));
    // Handshake verdicts have no plaintext.
    FrameVerdict hs;
    EXPECT_FALSE(s.replay(hs, x.client_hello));
}

TEST(NoiseSession, TcpOutOfOrderThroughTheSession) {
    Xx x;
    MemKeys keys;
    keys.priv.push_back(x.private_line());
    Session s(keys, kPrologue, 3, 4096);
    // Client stream: intro + ClientHello, ClientFinish, three transport frames.
    Bytes f0 = cat(kPrologue, framed(x.client_hello));
    Bytes f1 = framed(x.client_finish);
    Bytes t0 = framed(seal(x.c2s, 0, plain_n(0))), t1 = framed(seal(x.c2s, 1, plain_n(1))),
          t2 = framed(seal(x.c2s, 2, plain_n(2)));
    Bytes sh = framed(x.server_hello);
    uint32_t cseq = 1, sseq = 1;
    const uint32_t o1 = cseq + uint32_t(f0.size()), o2 = o1 + uint32_t(f1.size()), o3 = o2 + uint32_t(t0.size()),
                   o4 = o3 + uint32_t(t1.size());
    std::vector<DirFrame> out;
    auto feed = [&](Dir d, uint32_t seq, const Bytes &data) {
        TcpFeed r = s.feed_tcp(d, seq, data, 1u);
        for (auto &f : r.frames) out.push_back(std::move(f));
        return r.segment;
    };
    feed(C2S, cseq, f0);
    // The ServerHello's first half: the client's next frames wait for the rest of it.
    feed(S2C, sseq, Bytes(sh.begin(), sh.begin() + 10));
    feed(C2S, o1, f1);
    SegmentResult late = feed(C2S, o4, t2);  // beyond t0, t1: buffered
    EXPECT_TRUE(late.out_of_order);
    feed(C2S, o3, t1);
    SegmentResult fill = feed(C2S, o2, t0);
    EXPECT_TRUE(fill.filled);
    ASSERT_EQ(out.size(), 1u);  // only the ClientHello so far
    feed(S2C, sseq + 10, Bytes(sh.begin() + 10, sh.end()));
    ASSERT_EQ(out.size(), 6u);
    EXPECT_EQ(out[0].second, C2S);
    EXPECT_EQ(out[0].first.intro_len, kPrologue.size());
    EXPECT_EQ(out[1].second, S2C);  // ServerHello first, then the held client frames
    for (size_t i = 2; i < 6; i++) EXPECT_EQ(out[i].second, C2S);

    std::vector<FrameResult> rs;
    for (auto &[f, d] : out) {
        ByteView all(f.bytes.data(), f.bytes.size());
        rs.push_back(s.first_pass(d, all.sub(f.intro_len + 3)));
    }
    EXPECT_EQ(rs[0].verdict.hs_kind, HandshakeKind::ClientHello);
    EXPECT_EQ(rs[1].verdict.hs_kind, HandshakeKind::ServerHello);
    EXPECT_EQ(rs[2].verdict.hs_kind, HandshakeKind::ClientFinish);
    for (uint32_t n = 0; n < 3; n++) {
        const FrameResult &r = rs[3 + n];
        EXPECT_EQ(r.verdict.status, FrameStatus::Decrypted) << n;
        EXPECT_EQ(r.verdict.counter, n);
        EXPECT_EQ(r.plaintext, plain_n(n));
    }
}

TEST(NoiseSession, TcpLostSegmentSkippedByTheTag) {
    Xx x;
    MemKeys keys;
    keys.traffic.push_back(x.traffic_line());
    Session s(keys, kPrologue, 3, 4096);
    Bytes f0 = cat(kPrologue, framed(x.client_hello)), f1 = framed(x.client_finish);
    Bytes t0 = framed(seal(x.c2s, 0, plain_n(0))), t1 = framed(seal(x.c2s, 1, plain_n(1))),
          t2 = framed(seal(x.c2s, 2, plain_n(2)));
    std::vector<DirFrame> out;
    auto feed = [&](Dir d, uint32_t seq, const Bytes &data) {
        TcpFeed r = s.feed_tcp(d, seq, data, 1u);
        for (auto &f : r.frames) out.push_back(std::move(f));
    };
    feed(C2S, 1, f0);
    feed(S2C, 1, framed(x.server_hello));
    const uint32_t o1 = 1 + uint32_t(f0.size()), o2 = o1 + uint32_t(f1.size()), o3 = o2 + uint32_t(t0.size());
    feed(C2S, o1, f1);
    // The rest of the frames run through the session as they come out, as wanoise does.
    size_t done = 0;
    std::vector<FrameResult> rs;
    auto dissect = [&] {
        for (; done < out.size(); done++) {
            auto &f = out[done].first;
            ByteView all(f.bytes.data(), f.bytes.size());
            TcpPlace place{f.gap_before, f.late_for};
            rs.push_back(s.first_pass(out[done].second, all.sub(f.intro_len + 3), &place));
        }
    };
    dissect();
    feed(C2S, o3, t1);
    feed(C2S, o3 + uint32_t(t1.size()), t2);  // t0 never comes (yet): the tag at counter 1 says t1 is next
    dissect();
    ASSERT_EQ(rs.size(), 5u);
    EXPECT_EQ(rs[3].verdict.counter, 1u);
    EXPECT_EQ(rs[3].plaintext, plain_n(1));
    EXPECT_EQ(rs[4].verdict.counter, 2u);
    // The lost frame arrives after all: decrypted with the counter set aside for its gap.
    feed(C2S, o2, t0);
    dissect();
    ASSERT_EQ(rs.size(), 6u);
    EXPECT_NE(out[5].first.late_for, 0u);
    EXPECT_EQ(rs[5].verdict.status, FrameStatus::Decrypted);
    EXPECT_EQ(rs[5].verdict.counter, 0u);
    EXPECT_EQ(rs[5].plaintext, plain_n(0));
}
