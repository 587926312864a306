// Calls inferred without keys (src/call/inferred.h): grouping, relays, paths and stream stats.
#include "call/inferred.h"
#include "report/calls_report.h"

#include <gtest/gtest.h>

using namespace wacall::call;

namespace {

SockEnd ep(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    uint8_t x[4] = {a, b, c, d};
    return SockEnd::v4(x, port);
}

const SockEnd kClient = ep(192, 0, 2, 10, 50000), kClient2 = ep(192, 0, 2, 10, 50002);
const SockEnd kRelayA = ep(198, 51, 100, 7, 3478), kRelayB = ep(203, 0, 113, 9, 3478);
const SockEnd kPeer = ep(91, 252, 56, 51, 32704);

struct Feeder {
    InferredCalls calls;
    uint32_t frame = 0;
    uint32_t stun(double t, SockEnd src, SockEnd dst, uint16_t type, std::string txid, std::string token = "",
                  SockEnd mapped = {}, SockEnd relayed = {}) {
        StunObservation o;
        o.frame = ++frame, o.time = t, o.src = src, o.dst = dst, o.type = type, o.txid = std::move(txid);
        o.relay_token = std::move(token), o.xor_mapped = mapped, o.xor_relayed = relayed;
        return calls.add_stun(o);
    }
    uint32_t rtp(double t, SockEnd src, SockEnd dst, uint32_t ssrc, uint8_t pt, uint16_t seq, uint32_t ts,
                 uint32_t bytes = 100) {
        RtpObservation o;
        o.frame = ++frame, o.time = t, o.src = src, o.dst = dst, o.ssrc = ssrc, o.pt = pt, o.seq = seq, o.ts = ts;
        o.bytes = bytes;
        return calls.add_rtp(o);
    }
    // An allocation: request (with token) and its success 30 ms later.
    uint32_t allocate(double t, SockEnd client, SockEnd relay, const std::string &txid, const std::string &token) {
        uint32_t a = stun(t, client, relay, 0x0003, txid, token);
        uint32_t b = stun(t + 0.03, relay, client, 0x0103, txid, "", client, ep(198, 51, 100, 7, 40000));
        EXPECT_EQ(a, b);
        return a;
    }
};

}  // namespace

TEST(Inferred, EndpointText) {
    EXPECT_EQ(kClient.to_string(), "192.0.2.10:50000");
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(SockEnd::v6(v6, 3478).to_string(), "[2001:db8::1]:3478");
    EXPECT_EQ(SockEnd().to_string(), "unknown");
}

TEST(Inferred, OneCallRelaysRttSwitchAndStreams) {
    Feeder f;
    EXPECT_EQ(f.allocate(0, kClient, kRelayA, "tx1", "TOKEN"), 1u);
    // Stale-token allocation refused does not split the call either (same socket, no media yet).
    for (int i = 0; i < 50; i++) {  // 3 s of audio on relay A both ways, seq 65530.. wraps
        double t = 0.5 + i * 0.06;
        EXPECT_EQ(f.rtp(t, kClient, kRelayA, 0x11111111, 120, uint16_t(65530 + i), uint32_t(i * 960)), 1u);
        if (i != 20) {
            EXPECT_EQ(f.rtp(t + 0.01, kRelayA, kClient, 0x22222222, 111, uint16_t(1 + i), uint32_t(i * 2880)), 1u);
        }
    }
    // Relay switch: an allocation on relay B with the same token, media moves there.
    EXPECT_EQ(f.allocate(3.6, kClient, kRelayB, "tx2", "TOKEN"), 1u);
    for (int i = 50; i < 60; i++) {
        double t = 0.5 + i * 0.06 + (i >= 55 ? 1.0 : 0);  // one 1.06 s gap in the stream
        EXPECT_EQ(f.rtp(t, kClient, kRelayB, 0x11111111, 120, uint16_t(65530 + i), uint32_t(i * 960)), 1u);
    }
    // The peer-to-peer path.
    EXPECT_EQ(f.rtp(5.0, kPeer, kClient, 0x22222222, 111, 51, 51 * 2880), 1u);
    ASSERT_EQ(f.calls.calls().size(), 1u);
    const InferredCall &c = f.calls.calls()[0];
    EXPECT_EQ(c.confidence, "high");
    ASSERT_EQ(c.local.size(), 1u);
    EXPECT_EQ(c.local[0], kClient);
    ASSERT_EQ(c.relays.size(), 2u);
    EXPECT_EQ(c.relays[0].address, kRelayA);
    EXPECT_EQ(c.relays[0].allocate_requests, 1u);
    EXPECT_EQ(c.relays[0].allocate_successes, 1u);
    ASSERT_EQ(c.relays[0].rtts.size(), 1u);
    EXPECT_NEAR(c.relays[0].rtts[0], 0.03, 1e-9);
    EXPECT_TRUE(c.relays[0].token);
    EXPECT_EQ(c.relays[0].xor_mapped, kClient);
    EXPECT_EQ(c.relays[0].xor_relayed.to_string(), "198.51.100.7:40000");
    ASSERT_EQ(c.paths.size(), 3u);
    EXPECT_EQ(c.paths[0].remote, kRelayA);
    EXPECT_TRUE(c.paths[0].relay);
    EXPECT_EQ(c.paths[0].packets, 99u);
    EXPECT_EQ(c.paths[1].remote, kRelayB);
    EXPECT_EQ(c.paths[1].packets, 10u);
    EXPECT_EQ(c.paths[2].remote, kPeer);
    EXPECT_FALSE(c.paths[2].relay);
    ASSERT_EQ(c.streams.size(), 2u);
    const InferredStream &up = c.streams[0], &down = c.streams[1];
    EXPECT_EQ(up.dir, StreamDir::Sent);
    EXPECT_EQ(up.packets, 60u);
    EXPECT_EQ(up.bytes, 6000u);
    EXPECT_EQ(up.lost(), 0u);  // across the wrap
    EXPECT_EQ(up.expected(), 60u);
    EXPECT_EQ(up.gaps, 1u);
    EXPECT_NEAR(up.longest_gap, 1.06, 1e-9);
    EXPECT_TRUE(up.jitter_known);
    EXPECT_EQ(down.dir, StreamDir::Received);
    EXPECT_EQ(down.packets, 50u);
    EXPECT_EQ(down.lost(), 1u);
    EXPECT_NEAR(c.start, 0, 1e-9);
    EXPECT_NEAR(c.end, 5.04, 1e-9);  // the last packet on relay B
}

TEST(Inferred, JitterFollowsRfc3550WithThePtClock) {
    Feeder f;
    f.allocate(0, kClient, kRelayA, "tx", "T");
    // Arrivals alternate 50/70 ms apart while the timestamps advance by exactly 60 ms (960 @ 16 kHz):
    // |D| = 10 ms every time, so J converges towards 10 ms.
    double t = 1;
    for (int i = 0; i < 400; i++) {
        f.rtp(t, kClient, kRelayA, 0x1, 120, uint16_t(i), uint32_t(i * 960));
        t += i % 2 ? 0.07 : 0.05;
    }
    EXPECT_NEAR(f.calls.calls()[0].streams[0].jitter_s, 0.010, 1e-6);
    f.rtp(t, kClient, kRelayA, 0x2, 119, 0, 0);  // app data: no clock, jitter unknown
    EXPECT_FALSE(f.calls.calls()[0].streams[1].jitter_known);
}

TEST(Inferred, BackToBackCallsOnNewSocketAndOnSameSocket) {
    Feeder f;
    f.allocate(0, kClient, kRelayA, "t1", "TOKEN1");
    for (int i = 0; i < 20; i++) f.rtp(0.5 + i * 0.06, kClient, kRelayA, 0xA, 120, uint16_t(i), uint32_t(i * 960));
    // Second call: a new client socket, 2 s later.
    EXPECT_EQ(f.allocate(3.7, kClient2, kRelayB, "t2", "TOKEN2"), 2u);
    EXPECT_EQ(f.rtp(4.0, kClient2, kRelayB, 0xB, 120, 0, 0), 2u);
    // Third: back on the first socket with a new token after its media stopped.
    EXPECT_EQ(f.allocate(10, kClient, kRelayA, "t3", "TOKEN3"), 3u);
    EXPECT_EQ(f.rtp(10.5, kClient, kRelayA, 0xC, 120, 0, 0), 3u);
    // A new token while media flows is a relay added to the running call, not a new call.
    EXPECT_EQ(f.allocate(10.6, kClient, kRelayB, "t4", "TOKEN4"), 3u);
    const auto &c = f.calls.calls();
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].confidence, "high");
    EXPECT_EQ(c[1].confidence, "high");
    EXPECT_NE(c[1].reason.find("new client media socket 192.0.2.10:50002"), std::string::npos) << c[1].reason;
    EXPECT_EQ(c[2].confidence, "medium");
    EXPECT_NE(c[2].reason.find("new relay token"), std::string::npos) << c[2].reason;
    // SSRC 0xA's media after call 3 began is still call 1's only by its socket: call 1 is not reopened
    // for the socket (owned by call 3 now).
    EXPECT_EQ(f.rtp(10.7, kClient, kRelayA, 0xC, 120, 1, 960), 3u);
    // The per-flow memo does not keep a flow on call 1 once its socket belongs to call 3.
    EXPECT_EQ(f.rtp(10.8, kClient, kRelayA, 0xA, 120, 20, 20 * 960), 3u);
    EXPECT_EQ(c[0].streams[0].packets, 20u);
}

TEST(Inferred, TimeGapAndMediaOnly) {
    Feeder f;
    EXPECT_EQ(f.rtp(0, kPeer, kClient, 0x5, 111, 0, 0), 1u);
    EXPECT_EQ(f.rtp(0.02, kClient, kPeer, 0x6, 120, 0, 0), 1u);
    EXPECT_EQ(f.rtp(100, kClient, kPeer, 0x6, 120, 1, 960), 2u);  // 100 s of silence: another call
    const auto &c = f.calls.calls();
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].confidence, "low");
    EXPECT_TRUE(c[0].local.empty());
    EXPECT_EQ(c[0].streams[0].dir, StreamDir::Unknown);
    std::string r = wacall::report::format_inferred_calls(c);
    EXPECT_NE(r.find("Local media socket(s): unknown"), std::string::npos) << r;
    EXPECT_NE(r.find("state: signaling not decrypted"), std::string::npos);
}

TEST(Inferred, MediaOnlyClientSocketOppositeTheRelayPort) {
    Feeder f;  // no STUN at all: two calls on two client sockets through the same relay
    EXPECT_EQ(f.rtp(0, kClient, kRelayA, 0xA, 120, 0, 0), 1u);
    EXPECT_EQ(f.rtp(0.01, kRelayA, kClient, 0xB, 120, 0, 0), 1u);
    EXPECT_EQ(f.rtp(3, kClient2, kRelayA, 0xC, 120, 0, 0), 2u);
    EXPECT_EQ(f.rtp(3.5, kPeer, kClient2, 0xD, 120, 0, 0), 2u);  // the peer path of call 2
    const auto &c = f.calls.calls();
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].confidence, "medium");
    EXPECT_EQ(c[0].reason, "media only, no relay allocation seen: client socket 192.0.2.10:50000 (the side opposite the relay port)");
    EXPECT_EQ(c[1].reason, "new client media socket 192.0.2.10:50002 (the side opposite the relay port; media only, no relay allocation seen)");
    EXPECT_EQ(c[0].streams[1].dir, StreamDir::Received);
    ASSERT_EQ(c[1].paths.size(), 2u);
    EXPECT_FALSE(c[1].paths[1].relay);
}

TEST(Inferred, ReportRendersEveryPart) {
    Feeder f;
    f.allocate(0, kClient, kRelayA, "tx1", "TOKEN");
    f.rtp(0.5, kClient, kRelayA, 0x11111111, 120, 1, 0, 200);
    f.rtp(1.5, kClient, kRelayA, 0x11111111, 120, 3, 16000, 200);
    std::string r = wacall::report::format_inferred_calls(f.calls.calls());
    EXPECT_NE(r.find("Calls inferred without keys: 1"), std::string::npos) << r;
    EXPECT_NE(r.find("Relay 198.51.100.7:3478  name: unknown (not signaled without keys)  allocations: 1 (1 ok, 0 error)  "
                     "RTT: min 30.000 ms avg 30.000 ms max 30.000 ms (1)  XOR-MAPPED: 192.0.2.10:50000  "
                     "XOR-RELAYED: 198.51.100.7:40000  relay token: present"),
              std::string::npos)
        << r;
    EXPECT_NE(r.find("Media path 1: relay 198.51.100.7:3478  0.500000-1.500000 s  2 packets  (first to carry media)"),
              std::string::npos)
        << r;
    // 400 bytes over 1 s = 3.2 kbit/s; seq 1 and 3: one lost; one 1 s gap.
    EXPECT_NE(r.find("0x11111111 sent      audio    120         2        400        3.2      1"), std::string::npos) << r;
    EXPECT_EQ(wacall::report::format_inferred_calls({}), "");
}

// Observations attributed to a keyed call: the same details under its call id, no inferred call.
TEST(Inferred, AttributedCallDetails) {
    InferredCalls calls;
    uint32_t frame = 0;
    auto stun = [&](const std::string &id, double t, SockEnd src, SockEnd dst, uint16_t type, std::string txid,
                    std::string token = "", SockEnd mapped = {}) {
        StunObservation o;
        o.frame = ++frame, o.time = t, o.src = src, o.dst = dst, o.type = type, o.txid = std::move(txid);
        o.relay_token = std::move(token), o.xor_mapped = mapped;
        calls.add_stun(id, o);
    };
    auto rtp = [&](const std::string &id, double t, SockEnd src, SockEnd dst, uint32_t ssrc, uint16_t seq, uint32_t ts) {
        RtpObservation o;
        o.frame = ++frame, o.time = t, o.src = src, o.dst = dst, o.ssrc = ssrc, o.pt = 120, o.seq = seq, o.ts = ts;
        o.bytes = 80;
        calls.add_rtp(id, o);
    };
    // Media on a peer-to-peer flow before any STUN: the sides are unknown, no path yet.
    rtp("CALL", 0.0, kPeer, kClient, 0x33333333, 1, 0);
    stun("CALL", 0.1, kClient, kRelayA, 0x0003, "a1", "TOKEN");
    stun("CALL", 0.125, kRelayA, kClient, 0x0103, "a1", "", kClient);
    stun("CALL", 0.2, kClient, kRelayA, 0x0801, "p1");
    stun("CALL", 0.21, kRelayA, kClient, 0x0802, "p1");
    stun("OTHER", 0.3, kClient2, kRelayB, 0x0003, "a1");  // same txid, another call: no RTT across calls
    for (int i = 0; i < 20; i++) {
        if (i == 5) continue;  // one lost
        rtp("CALL", 0.5 + i * 0.02, kClient, kRelayA, 0x11111111, uint16_t(100 + i), uint32_t(i * 320));
    }
    rtp("CALL", 0.6, kPeer, kClient, 0x33333333, 2, 320);  // now the client socket is known: received
    EXPECT_TRUE(calls.calls().empty());  // nothing inferred: the calls are known
    ASSERT_EQ(calls.attributed("NONE"), nullptr);
    const InferredCall *c = calls.attributed("CALL");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->call_id, "CALL");
    EXPECT_EQ(c->first_frame, 1u);
    EXPECT_DOUBLE_EQ(c->start, 0.0);
    ASSERT_EQ(c->local.size(), 1u);
    EXPECT_EQ(c->local[0], kClient);
    ASSERT_EQ(c->relays.size(), 1u);
    const InferredRelay &r = c->relays[0];
    EXPECT_EQ(r.address, kRelayA);
    EXPECT_EQ(r.allocate_requests, 1u);
    EXPECT_EQ(r.allocate_successes, 1u);
    EXPECT_TRUE(r.token);
    EXPECT_EQ(r.xor_mapped, kClient);
    ASSERT_EQ(r.rtts.size(), 2u);
    EXPECT_NEAR(r.rtts[0], 0.025, 1e-9);
    EXPECT_NEAR(r.rtts[1], 0.010, 1e-9);
    ASSERT_EQ(c->paths.size(), 2u);
    EXPECT_EQ(c->paths[0].remote, kRelayA);
    EXPECT_TRUE(c->paths[0].relay);
    EXPECT_EQ(c->paths[0].packets, 19u);
    EXPECT_EQ(c->paths[1].remote, kPeer);
    EXPECT_FALSE(c->paths[1].relay);
    EXPECT_EQ(c->paths[1].packets, 1u);  // the first peer packet came before the sides were known
    ASSERT_EQ(c->streams.size(), 2u);
    EXPECT_EQ(c->streams[0].ssrc, 0x33333333u);
    EXPECT_EQ(c->streams[0].dir, StreamDir::Received);  // learnt from the later packet
    EXPECT_EQ(c->streams[0].packets, 2u);
    EXPECT_EQ(c->streams[1].dir, StreamDir::Sent);
    EXPECT_EQ(c->streams[1].packets, 19u);
    EXPECT_EQ(c->streams[1].lost(), 1u);
    EXPECT_EQ(c->streams[1].bytes, 19u * 80);
    const InferredCall *o = calls.attributed("OTHER");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->relays.size(), 1u);
    EXPECT_TRUE(o->relays[0].rtts.empty());
    calls.clear();
    EXPECT_EQ(calls.attributed("CALL"), nullptr);
}
