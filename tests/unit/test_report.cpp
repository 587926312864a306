// The calls report: RFC 3550 loss counting across wrap/reorder/duplicates, per-frame call state,
// duration, and the rendered rows.
#include "report/calls_report.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace wacall;
using namespace wacall::report;

TEST(ReportStreamStats, LossAcrossWrapReorderAndDuplicates) {
    StreamStats s;
    for (uint32_t i = 65530; i < 65536 + 10; i++)
        if (i != 65534 && i != 65540) s.add(static_cast<uint16_t>(i), true, false);  // two lost, one each side of the wrap
    EXPECT_EQ(s.packets(), 14u);
    EXPECT_EQ(s.expected(), 16u);
    EXPECT_EQ(s.lost(), 2u);
    s.add(65534, false, true);  // late arrival of a "lost" packet, tag failed
    EXPECT_EQ(s.lost(), 1u);
    EXPECT_EQ(s.decrypted(), 14u);
    EXPECT_EQ(s.tag_failures(), 1u);
    s.add(3, true, false);  // duplicate: counted as a packet, loss never negative
    s.add(3, true, false);
    EXPECT_EQ(s.lost(), 0u);
    StreamStats r;
    r.add(100, true, false);
    r.add(98, true, false);  // reordered before the first: extends the range backwards
    EXPECT_EQ(r.expected(), 3u);
    EXPECT_EQ(r.lost(), 1u);
}

TEST(ReportCallState, StatusAtFrameAndDuration) {
    call::Call c;
    c.call_id = "C1";
    c.offer.mark(10, 100.0);
    c.ringing.mark(12, 101.0);
    c.accept.mark(20, 105.5);
    c.terminate.mark(90, 125.75);
    EXPECT_EQ(status_at(c, 9), call::CallStatus::Unknown);
    EXPECT_EQ(status_at(c, 10), call::CallStatus::Offered);
    EXPECT_EQ(status_at(c, 15), call::CallStatus::Ringing);
    EXPECT_EQ(status_at(c, 20), call::CallStatus::Accepted);
    EXPECT_EQ(status_at(c, 1000), call::CallStatus::Ended);
    EXPECT_DOUBLE_EQ(call_duration(c), 20.25);
    call::Call r;
    r.offer.mark(1, 1.0);
    r.reject.mark(2, 2.0);
    EXPECT_EQ(status_at(r, 2), call::CallStatus::Rejected);
    EXPECT_LT(call_duration(r), 0);
    r.duration = 7u;
    EXPECT_DOUBLE_EQ(call_duration(r), 7.0);
}

TEST(ReportFormat, RowsForSignalledAndMediaOnlyCalls) {
    std::deque<call::Call> calls(1);
    calls[0].call_id = "ABC";
    calls[0].status = call::CallStatus::Ended;
    calls[0].caller_jid = "1@lid";
    calls[0].callee_jid = "2@lid";
    calls[0].offered_devices = {"2:0@lid", "2:3@lid"};
    calls[0].answering_device = "2:3@lid";
    calls[0].offer.mark(5, 1700000000.25);
    calls[0].terminate.mark(50, 1700000010.0);
    calls[0].terminate_reason = "timeout";
    std::map<StreamKey, StreamInfo> streams;
    StreamInfo &a = streams[{"ABC", 0x11223344}];
    a.participant = "1:0@lid";
    a.slot = "audio";
    for (uint16_t q = 0; q < 10; q++)
        if (q != 4) a.stats.add(q, q != 7, q == 7);
    a.stats.add_rtcp(true, false);
    a.stats.add_rtcp(false, true);
    streams[{"ONLY", 0xDEADBEEF}].slot = "video";
    std::string out = format_calls_report(calls, streams);
    EXPECT_NE(out.find("2 call(s)"), std::string::npos) << out;
    EXPECT_NE(out.find("Call ABC  [Ended] audio"), std::string::npos) << out;
    EXPECT_NE(out.find("Devices offered:  2:0@lid, 2:3@lid"), std::string::npos);
    EXPECT_NE(out.find("Answered by:      2:3@lid"), std::string::npos);
    EXPECT_NE(out.find("2023-11-14 22:13:20.250 (frame 5)"), std::string::npos) << out;
    EXPECT_NE(out.find("End reason:       timeout"), std::string::npos);
    // 9 packets, 1 lost, 8 decrypted, 1 tag failure.
    EXPECT_NE(out.find("0x11223344 1:0@lid"), std::string::npos) << out;
    EXPECT_NE(out.find("audio              9      1         8            1     2         1"), std::string::npos) << out;
    EXPECT_NE(out.find("Call ONLY  [media only"), std::string::npos);
    EXPECT_NE(out.find("0xDEADBEEF"), std::string::npos);
    EXPECT_NE(out.find("Captured on:      unknown (no offer in decrypted signaling)"), std::string::npos) << out;
}

// The side the capture was taken on follows the offer's direction on the capturing client's connection.
TEST(ReportFormat, CapturedOnFollowsTheOfferDirection) {
    std::deque<call::Call> calls(2);
    calls[0].call_id = "OUT";
    calls[0].offer_direction = call::Direction::ClientToServer;
    calls[1].call_id = "IN";
    calls[1].offer_direction = call::Direction::ServerToClient;
    std::string out = format_calls_report(calls, {});
    size_t in = out.find("Call IN"), sent = out.find("the caller's side (the offer left this client)"),
           got = out.find("the callee's side (the offer reached this client)");
    ASSERT_NE(sent, std::string::npos) << out;
    ASSERT_NE(got, std::string::npos) << out;
    EXPECT_LT(sent, in);  // each call's own line
    EXPECT_GT(got, in);
}

// A keyed call's entry carries what its relay STUN and RTP showed, with the signaled relay name.
TEST(ReportFormat, KeyedCallCarriesWireDetails) {
    std::deque<call::Call> calls(1);
    calls[0].call_id = "ABC";
    call::EndpointRecord e;
    e.family = call::AddrFamily::IPv4;
    const uint8_t relay[4] = {198, 51, 100, 7}, client[4] = {192, 0, 2, 10};
    std::memcpy(e.addr, relay, 4);
    e.port = 3478;
    e.relay_name = "gru1c02";
    calls[0].endpoints.push_back(e);
    call::InferredCalls media;
    call::StunObservation s;
    s.frame = 3, s.time = 1.0, s.src = call::SockEnd::v4(client, 50000), s.dst = call::SockEnd::v4(relay, 3478);
    s.type = 0x0003, s.txid = "t", s.relay_token = "TOKEN";
    media.add_stun("ABC", s);
    std::swap(s.src, s.dst);
    s.frame = 4, s.time = 1.02, s.type = 0x0103, s.relay_token.clear(), s.xor_mapped = s.dst;
    media.add_stun("ABC", s);
    call::StunObservation other = s;
    const uint8_t relay2[4] = {203, 0, 113, 9};
    other.src = s.dst, other.dst = call::SockEnd::v4(relay2, 3478), other.type = 0x0801, other.txid = "u", other.frame = 5;
    media.add_stun("ABC", other);  // a relay the signaling did not name
    std::map<StreamKey, StreamInfo> streams;
    std::string out = format_calls_report(calls, streams, &media);
    EXPECT_NE(out.find("  On the wire (relay STUN and RTP headers"), std::string::npos) << out;
    EXPECT_NE(out.find("  Relay 198.51.100.7:3478  name: gru1c02 (signaled)  allocations: 1 (1 ok, 0 error)  RTT: min "
                       "20.000 ms avg 20.000 ms max 20.000 ms (1)  XOR-MAPPED: 192.0.2.10:50000"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("  Relay 203.0.113.9:3478  name: unknown (not named by the signaling)"), std::string::npos) << out;
    EXPECT_NE(out.find("  Local media socket(s): 192.0.2.10:50000"), std::string::npos) << out;
    EXPECT_NE(out.find("(Gaps: arrival gaps"), std::string::npos) << out;
    // Without the details (or for a call none were fed for) the block is as before.
    EXPECT_EQ(format_calls_report(calls, streams).find("On the wire"), std::string::npos);
    call::InferredCalls none;
    EXPECT_EQ(format_calls_report(calls, streams, &none), format_calls_report(calls, streams));
}
