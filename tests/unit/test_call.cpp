// The call-stanza model and the per-capture registry, over hand-built WABinary node trees
// (reference digest §3, spec digest §1/§4.1).
#include "call/call.h"
#include "call/registry.h"
#include "test_support.h"
#include "wabinary/decoder.h"
#include "wabinary/render.h"

#include <gtest/gtest.h>

#include <deque>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

using namespace wacall;
using namespace wacall::call;
using namespace wacall::test;
using wabinary::Value;
using wabinary::ValueKind;

namespace {

const std::string kHbh30 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
const std::string kHbh30Double = "QUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZA==";
const std::string kRelayKey = "AAECAwQFBgcICQoLDA0ODw==";
const std::string kV6 = "20010db8000000000000000000000001";  // 2001:db8::1

Node relay_block(const std::string &hbh = kHbh30) {
    return N("relay", {{"uuid", "U-1"}, {"self_pid", "1"}, {"peer_pid", "2"}},
             {NT("key", {}, kRelayKey), NT("hbh_key", {}, hbh), NT("warp_mi_tag_len", {}, "10"),
              NB("token", {{"id", "0"}}, H("aa01")), NB("token", {}, H("aa02")), NB("token", {{"id", "64"}}, H("aa03")),
              NB("auth_token", {{"id", "1"}}, H("bb01")),
              NB("te2", {{"relay_id", "5"}, {"relay_name", "gru1c02"}, {"token_id", "0"}, {"auth_token_id", "1"},
                         {"c2r_rtt", "17"}, {"protocol", "0"}},
                 H("9df0e2850d96")),
              NB("te2", {{"relay_id", "5"}, {"relay_name", "gru1c02"}, {"is_fna", "1"}}, H(kV6 + "0d98")),
              NT("raw_e2e", {}, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==")});
}

Node offer_stanza() {
    return call_env(
        {{"to", "222@lid"}, {"id", "OFFER-1"}, {"t", "1700000000"}},
        N("offer", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}, {"caller_pn", "4915@s.whatsapp.net"},
                    {"device_class", "2016"}},
          {NB("privacy", {}, H("0102")), N("audio", {{"enc", "opus"}, {"rate", "8000"}}),
           N("audio", {{"enc", "opus"}, {"rate", "16000"}}), N("net", {{"medium", "3"}}),
           NB("capability", {{"ver", "1"}}, H("0105f709e0bb13")),
           N("destination", {},
             {N("to", {{"jid", "222:1@lid"}}, {NB("enc", {{"v", "2"}, {"type", "pkmsg"}, {"count", "0"}}, H("33080112"))}),
              N("to", {{"jid", "222@lid"}}, {NB("enc", {{"type", "msg"}}, H("3308"))})}),
           N("encopt", {{"keygen", "2"}}), NB("device-identity", {}, H("0a00"))}));
}

}  // namespace

TEST(CallHelpers, Base64) {
    std::optional<Bytes> out =
        base64_decode(ByteView(reinterpret_cast<const uint8_t *>(kRelayKey.data()), kRelayKey.size()));
    ASSERT_TRUE(out);
    EXPECT_EQ(to_hex(*out), "000102030405060708090a0b0c0d0e0f");
    std::string nopad = "AAECAwQFBgcICQoLDA0ODw";  // padding missing: accepted
    out = base64_decode(ByteView(reinterpret_cast<const uint8_t *>(nopad.data()), nopad.size()));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->size(), 16u);
    for (std::string bad : {"AAE*", "A", "AA=A", "", "AAA=="}) {
        EXPECT_FALSE(base64_decode(ByteView(reinterpret_cast<const uint8_t *>(bad.data()), bad.size()))) << bad;
    }
    EXPECT_EQ(parse_u32("4294967295"), std::optional<uint32_t>(4294967295u));
    EXPECT_EQ(parse_u32("0"), std::optional<uint32_t>(0u));
    EXPECT_FALSE(parse_u32("4294967296"));
    EXPECT_FALSE(parse_u32("-1"));
    EXPECT_FALSE(parse_u32(""));
}

// The whatsapp-rust call-offer vector (reference digest §5.2, also pinned in test_wabinary.cpp),
// decoded from the wire: every value the core extracts comes with the attribute it was read
// from, at the offsets counted by hand from the hex below (relative to the node bytes, which
// start after the frame's flag byte).
TEST(CallStanza, WireOfferValuesComeWithTheirOffsets) {
    static const Bytes frame = H(
        "00f8066411f70100ff88222222222222222f08fb0a3eb0abcdef0123456789f801f806ec1c68fb1000112233445566778899aabbccdd"
        "eeff47f70100ff88111111111111111ff805f805a11dec1eec1dff8316000ff803ec68ec24a2f804b4ec2155fc070105f709e0bb13f8"
        "081d51450453412dfc02deadf803ec15ec1a45");
    const ByteView node(frame.data() + 1, frame.size() - 1);
    wabinary::DecodeResult r = wabinary::decode_node(node, wabinary::dictionary_for_version(3));
    ASSERT_TRUE(r.ok) << r.error;
    CallStanza s = parse_stanza(r.root);
    ASSERT_EQ(s.kind, StanzaKind::Call);
    ASSERT_EQ(s.action, Action::Offer);

    auto at = [](const Attribute *a) {
        return a ? std::make_pair(a->value.offset, a->value.length) : std::make_pair(size_t(0), size_t(0));
    };
    using P = std::pair<size_t, size_t>;
    // <call to=(AD_JID, 13 bytes at 4) id=(HEX_8, 12 bytes at 18)>
    EXPECT_EQ(at(s.env.to), P(4, 13));
    EXPECT_EQ(at(s.env.id), P(18, 12));
    EXPECT_EQ(s.stanza_id, "3EB0ABCDEF0123456789");
    // <offer call-id=(HEX_8 16 bytes at 37) call-creator=(AD_JID at 56)>
    EXPECT_EQ(at(s.call_id_attr), P(37, 18));
    EXPECT_EQ(s.call_id, "00112233445566778899AABBCCDDEEFF");
    EXPECT_EQ(at(s.call_creator_attr), P(56, 13));
    // <audio enc=opus (double token ec1e at 75) rate="16000" (NIBBLE_8 ff83 16000f at 79)>
    ASSERT_EQ(s.audio.size(), 1u);
    EXPECT_EQ(s.audio[0].enc, "opus");
    EXPECT_EQ(at(s.audio[0].at.enc), P(75, 2));
    EXPECT_EQ(s.audio[0].rate, 16000u);
    EXPECT_EQ(at(s.audio[0].at.rate), P(79, 5));
    // <net medium="3"> (token a2 at 90)
    EXPECT_EQ(s.net->medium, 3u);
    EXPECT_EQ(at(s.net->at.medium), P(90, 1));
    EXPECT_EQ(s.net->at.protocol, nullptr);
    // <capability ver="1"> (token 55 at 96)
    EXPECT_EQ(s.capability->ver, 1u);
    EXPECT_EQ(at(s.capability->at.ver), P(96, 1));
    // <enc v="2" type="pkmsg" count="0"> (tokens at 110, 112, 114); a bare <enc>, so no jid
    ASSERT_EQ(s.encs.size(), 1u);
    EXPECT_EQ(s.encs[0].v, 2u);
    EXPECT_EQ(at(s.encs[0].at.v), P(110, 1));
    EXPECT_EQ(s.encs[0].type, "pkmsg");
    EXPECT_EQ(at(s.encs[0].at.type), P(112, 1));
    EXPECT_EQ(s.encs[0].count, 0u);
    EXPECT_EQ(at(s.encs[0].at.count), P(114, 1));
    EXPECT_EQ(s.encs[0].at.jid, nullptr);
    EXPECT_EQ(s.encs[0].ciphertext.data - node.data, 117);
    // <encopt keygen="2"> (token 45 at 125, the last byte)
    EXPECT_EQ(s.keygen, 2u);
    EXPECT_EQ(at(s.at.keygen), P(125, 1));
    EXPECT_EQ(node.size, 126u);
    // Nothing an offer does not carry is located.
    EXPECT_EQ(s.at.duration, nullptr);
    EXPECT_EQ(s.at.transaction_id, nullptr);
    EXPECT_EQ(s.at.video_state, nullptr);
}

// Each located attribute is the one its value was read from, also for values that failed to
// parse (the dissector still highlights them) and for defaults (no attribute: the node).
TEST(CallStanza, LocatedAttributesOfHandBuiltStanzas) {
    Node top = call_env({{"id", "T-1"}},
                        N("terminate", {{"call-id", "C"}, {"call-creator", "1@lid"}, {"reason", "timeout"},
                                        {"duration", "12"}, {"audio_duration", "x9"}, {"transaction-id", "7"}},
                          {NB("te", {{"priority", "5"}, {"relay_name", "fra1"}, {"is_fna", "1"}, {"c2r_rtt", "3"}},
                              H("0a0000010d96")),
                           NB("enc", {}, H("33")), relay_block()}));
    CallStanza s = parse_stanza(top);
    const Node &a = top.children[0];
    EXPECT_EQ(s.at.duration, a.attr("duration"));
    EXPECT_EQ(s.duration, 12u);
    EXPECT_EQ(s.at.audio_duration, a.attr("audio_duration"));  // located although not a number
    EXPECT_FALSE(s.audio_duration);
    EXPECT_EQ(s.at.transaction_id, a.attr("transaction-id"));
    EXPECT_EQ(s.reason_attr, a.attr("reason"));
    ASSERT_EQ(s.endpoints.size(), 1u);
    const Endpoint &te = s.endpoints[0];
    EXPECT_EQ(te.at.priority, te.node->attr("priority"));
    EXPECT_EQ(te.at.relay_name, te.node->attr("relay_name"));
    EXPECT_EQ(attr_text(te.at.relay_name), "fra1");
    EXPECT_EQ(te.at.is_fna, te.node->attr("is_fna"));
    EXPECT_EQ(te.at.c2r_rtt, te.node->attr("c2r_rtt"));
    EXPECT_EQ(te.c2r_rtt, 3u);
    EXPECT_EQ(te.at.latency, nullptr);
    ASSERT_EQ(s.encs.size(), 1u);
    EXPECT_EQ(s.encs[0].at.type, nullptr);  // defaulted to pkmsg
    EXPECT_EQ(s.encs[0].at.v, nullptr);     // defaulted to 2
    EXPECT_TRUE(s.encs[0].type_defaulted);
    ASSERT_EQ(s.relays.size(), 1u);
    const RelayBlock &r = s.relays[0];
    EXPECT_EQ(attr_text(r.at.uuid), "U-1");
    EXPECT_EQ(attr_text(r.at.self_pid), "1");
    EXPECT_EQ(attr_text(r.at.peer_pid), "2");
    EXPECT_EQ(r.at.transaction_id, nullptr);
    ASSERT_EQ(r.te2.size(), 2u);
    EXPECT_EQ(attr_text(r.te2[0].at.token_id), "0");
    EXPECT_EQ(attr_text(r.te2[0].at.auth_token_id), "1");
    EXPECT_EQ(attr_text(r.te2[0].at.protocol), "0");
    EXPECT_EQ(attr_text(r.te2[0].at.relay_id), "5");
}

// Dissector trees show non-printable binary as hex, anything else as its text.
TEST(CallHelpers, ShownText) {
    Value v;
    v.kind = ValueKind::Binary;
    Bytes b = H("00ff41");
    v.bytes = ByteView(b.data(), b.size());
    EXPECT_EQ(wabinary::shown_text(v), "00ff41");
    v.printable = true;
    v.text = "abc";
    Bytes t = {'a', 'b', 'c'};
    v.bytes = ByteView(t.data(), t.size());
    EXPECT_EQ(wabinary::shown_text(v), "abc");
    Value tok;
    tok.kind = ValueKind::Token;
    tok.text = "opus";
    EXPECT_EQ(wabinary::shown_text(tok), "opus");
    EXPECT_EQ(text_or_hex(ByteView(b.data(), b.size()), false), "00ff41");
    EXPECT_EQ(text_or_hex(ByteView(t.data(), t.size()), true), "abc");
}

TEST(CallStanza, NotCallRelated) {
    EXPECT_EQ(parse_stanza(N("iq", {{"type", "get"}})).kind, StanzaKind::NotCall);
    EXPECT_EQ(parse_stanza(N("ack", {{"class", "message"}, {"id", "x"}})).kind, StanzaKind::NotCall);
    EXPECT_EQ(parse_stanza(N("receipt", {{"id", "x"}}, {N("offer", {})})).kind, StanzaKind::NotCall);
    EXPECT_EQ(parse_stanza(N("message", {}, {N("offer", {{"call-id", "x"}})})).kind, StanzaKind::NotCall);
}

TEST(CallStanza, OfferWithFanOutAndEnc) {
    Node top = offer_stanza();
    CallStanza s = parse_stanza(top);
    ASSERT_EQ(s.kind, StanzaKind::Call);
    EXPECT_EQ(s.action, Action::Offer);
    EXPECT_EQ(s.action_tag, "offer");
    EXPECT_STREQ(action_name(s.action), "offer");
    EXPECT_EQ(s.action_node, &top.children[0]);
    EXPECT_EQ(s.call_id, "C1");
    EXPECT_EQ(s.call_creator, "111:0@lid");
    EXPECT_EQ(s.call_creator_participant, "111:0@lid");
    EXPECT_EQ(s.stanza_id, "OFFER-1");
    EXPECT_EQ(attr_text(s.env.to), "222@lid");
    EXPECT_EQ(attr_text(s.env.t), "1700000000");
    EXPECT_EQ(s.env.from, nullptr);
    EXPECT_EQ(s.caller_pn, "4915@s.whatsapp.net");
    EXPECT_EQ(s.device_class, "2016");
    ASSERT_EQ(s.audio.size(), 2u);
    EXPECT_EQ(s.audio[0].enc, "opus");
    EXPECT_EQ(s.audio[0].rate, 8000u);
    EXPECT_EQ(s.audio[1].rate, 16000u);
    ASSERT_TRUE(s.net);
    EXPECT_EQ(s.net->medium, 3u);
    EXPECT_STREQ(s.net->medium_name, "offer default");
    EXPECT_TRUE(s.keygen);
    EXPECT_EQ(s.keygen, 2u);
    EXPECT_NE(s.privacy_node, nullptr);
    EXPECT_NE(s.device_identity_node, nullptr);
    EXPECT_EQ(s.video_node, nullptr);

    ASSERT_TRUE(s.capability);
    EXPECT_EQ(s.capability->ver, 1u);
    EXPECT_FALSE(s.capability->ver_defaulted);
    EXPECT_STREQ(s.capability->blob_name, "offer/accept");
    EXPECT_EQ(s.capability->blob_source, Grade::Reference);
    EXPECT_TRUE(s.capability->header.has_value());
    EXPECT_EQ(s.capability->header->version_byte, 1);
    EXPECT_EQ(s.capability->header->length_byte, 5);
    // f7 09 e0 bb 13, LSB-first; bit 31 is the MLow gate (byte 5 bit 7).
    std::vector<uint16_t> bits = {0, 1, 2, 4, 5, 6, 7, 8, 11, 21, 22, 23, 24, 25, 27, 28, 29, 31, 32, 33, 36};
    EXPECT_EQ(s.capability->set_bits, bits);

    EXPECT_TRUE(s.destination_fanout);
    EXPECT_FALSE(s.destination_candidates);
    ASSERT_EQ(s.targets.size(), 2u);
    EXPECT_EQ(s.targets[0].participant, "222:1@lid");
    EXPECT_EQ(s.targets[1].jid, "222@lid");
    EXPECT_EQ(s.targets[1].participant, "222:0@lid");
    ASSERT_EQ(s.encs.size(), 2u);
    EXPECT_EQ(s.encs[0].type, "pkmsg");
    EXPECT_FALSE(s.encs[0].type_defaulted);
    EXPECT_EQ(s.encs[0].v, 2u);
    EXPECT_FALSE(s.encs[0].v_defaulted);
    EXPECT_TRUE(s.encs[0].count);
    EXPECT_EQ(s.encs[0].count, 0u);
    EXPECT_EQ(s.encs[0].target_jid, "222:1@lid");
    EXPECT_EQ(to_hex(s.encs[0].ciphertext), "33080112");
    EXPECT_EQ(s.encs[1].type, "msg");
    EXPECT_TRUE(s.encs[1].v_defaulted);
    EXPECT_EQ(s.encs[1].v, 2u);
    EXPECT_EQ(s.encs[1].target_jid, "222@lid");
    EXPECT_EQ(s.encs[1].ciphertext.size, 2u);
    EXPECT_TRUE(s.relays.empty());
    EXPECT_TRUE(s.notes.empty());
}

TEST(CallStanza, BareEncDefaultsAndVideoOffer) {
    Node top = call_env({{"from", "111:0@lid"}, {"id", "O2"}},
                        N("offer", {{"call-id", "C2"}, {"call-creator", "111@lid"}},
                          {N("video", {{"enc", "h264"}}), NB("capability", {}, H("0105f709e0fa13")),
                           NB("enc", {}, H("010203"))}));
    CallStanza s = parse_stanza(top);
    EXPECT_EQ(s.call_creator_participant, "111:0@lid");
    EXPECT_NE(s.video_node, nullptr);
    EXPECT_TRUE(s.capability->ver_defaulted);
    EXPECT_EQ(s.capability->ver, 1u);
    EXPECT_STREQ(s.capability->blob_name, "video offer");
    ASSERT_EQ(s.encs.size(), 1u);
    EXPECT_EQ(s.encs[0].type, "pkmsg");
    EXPECT_TRUE(s.encs[0].type_defaulted);
    EXPECT_TRUE(s.encs[0].v_defaulted);
    EXPECT_FALSE(s.encs[0].count);
    EXPECT_EQ(s.encs[0].to_node, nullptr);
    EXPECT_EQ(s.encs[0].target_jid, "");
    EXPECT_FALSE(s.destination_fanout);
}

TEST(CallStanza, CapabilityBlobs) {
    struct Case {
        const char *hex, *name;
        Grade g;
    } cases[] = {
        {"0105f709e0bb07", "audio preaccept", Grade::Reference},
        {"0105f709e03b13", "offer/accept, standard Opus", Grade::Reference},
        {"0105f709e03b07", "audio preaccept, standard Opus", Grade::Reference},
        {"0105f709e07a13", "video offer, standard Opus", Grade::Reference},
        {"0105f709e4bb13", "offer/accept (spec SIG-01/03)", Grade::SpecNormative},
        {"0105f709e4bb07", "preaccept (spec SIG-04)", Grade::SpecNormative},
        {"0105f709e0bb14", "unknown", Grade::Unlisted},
    };
    for (const auto &c : cases) {
        Node top = call_env({}, N("preaccept", {{"call-id", "C"}, {"call-creator", "1@lid"}},
                                  {N("audio", {{"enc", "opus"}, {"rate", "16000"}}), N("encopt", {{"keygen", "2"}}),
                                   NB("capability", {{"ver", "1"}}, H(c.hex))}));
        CallStanza s = parse_stanza(top);
        EXPECT_EQ(s.action, Action::Preaccept);
        EXPECT_STREQ(s.capability->blob_name, c.name) << c.hex;
        EXPECT_EQ(s.capability->blob_source, c.g) << c.hex;
    }
    // A one-byte blob has no header to read.
    Node odd = call_env({}, N("accept", {{"call-id", "C"}}, {NB("capability", {{"ver", "x"}}, H("01"))}));
    CallStanza s = parse_stanza(odd);
    EXPECT_FALSE(s.capability->header.has_value());
    EXPECT_FALSE(s.capability->ver_valid);
    EXPECT_FALSE(s.notes.empty());
}

TEST(CallStanza, AcceptWithTePriority2) {
    Node top = call_env({{"from", "222@lid"}, {"participant", "222:3@lid"}, {"id", "ACC"}},
                        N("accept", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}},
                          {N("audio", {{"enc", "opus"}, {"rate", "16000"}}), NB("te", {{"priority", "2"}}, H("0a000001d431")),
                           N("net", {{"medium", "2"}}), N("encopt", {{"keygen", "2"}}),
                           NB("capability", {{"ver", "1"}}, H("0105f709e0bb13")), NB("rte", {}, H("ff")),
                           NT("voip_settings", {{"uncompressed", "1"}}, "{}")}));
    CallStanza s = parse_stanza(top);
    EXPECT_EQ(s.action, Action::Accept);
    EXPECT_EQ(attr_text(s.env.participant), "222:3@lid");
    ASSERT_EQ(s.endpoints.size(), 1u);
    const Endpoint &te = s.endpoints[0];
    EXPECT_EQ(te.tag, "te");
    EXPECT_TRUE(te.priority);
    EXPECT_EQ(te.priority, 2u);
    EXPECT_EQ(te.family, AddrFamily::IPv4);
    EXPECT_EQ(te.endpoint_text(), "10.0.0.1:54321");
    EXPECT_STREQ(s.net->medium_name, "accept/transport relay medium");
    EXPECT_NE(s.rte_node, nullptr);
    EXPECT_NE(s.voip_settings_node, nullptr);
}

TEST(CallStanza, RejectWithReason) {
    CallStanza s = parse_stanza(
        call_env({{"from", "222:1@lid"}}, N("reject", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}, {"reason", "busy"}})));
    EXPECT_EQ(s.action, Action::Reject);
    EXPECT_EQ(s.reason, "busy");
    EXPECT_TRUE(s.reason_nonnormative);
    EXPECT_EQ(s.reason_grade, Grade::SpecProbable);
    CallStanza plain = parse_stanza(call_env({}, N("reject", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}})));
    EXPECT_FALSE(plain.reason_nonnormative);
    EXPECT_EQ(plain.reason_grade, Grade::None);
}

TEST(CallStanza, TerminateReasonsAndDurations) {
    struct Case {
        const char *reason;
        Grade g;
    } cases[] = {
        {"accepted_elsewhere", Grade::Reference}, {"rejected_elsewhere", Grade::Reference},
        {"group_call_ended", Grade::Reference},   {"timeout", Grade::SpecProbable},
        {"busy", Grade::SpecProbable},            {"declined", Grade::SpecProbable},
        {"accept_elsewhere", Grade::SpecSpeculative}, {"reject_elsewhere", Grade::SpecSpeculative},
        {"connection_lost", Grade::SpecSpeculative},  {"retry", Grade::SpecSpeculative},
        {"cancelled", Grade::SpecSpeculative},    {"rejected", Grade::Unlisted},
    };
    for (const auto &c : cases) {
        CallStanza s = parse_stanza(call_env(
            {}, N("terminate", {{"call-id", "C1"}, {"call-creator", "1@lid"}, {"reason", c.reason}, {"duration", "61"},
                                {"audio_duration", "60"}})));
        EXPECT_EQ(s.action, Action::Terminate);
        EXPECT_EQ(s.reason, c.reason);
        EXPECT_EQ(s.reason_grade, c.g) << c.reason;
        EXPECT_FALSE(s.reason_nonnormative);
        EXPECT_TRUE(s.duration);
        EXPECT_EQ(s.duration, 61u);
        EXPECT_EQ(s.audio_duration, 60u);
    }
    CallStanza s = parse_stanza(call_env({}, N("terminate", {{"call-id", "C1"}},
                                               {N("destination", {}, {N("to", {{"jid", "111:2@lid"}})})})));
    EXPECT_EQ(s.reason_grade, Grade::None);
    EXPECT_FALSE(s.duration);  // absent = "not reported", not 0
    EXPECT_FALSE(s.audio_duration);
    ASSERT_EQ(s.targets.size(), 1u);
    EXPECT_EQ(s.targets[0].participant, "111:2@lid");
}

TEST(CallStanza, TransportTypes) {
    struct Case {
        const char *type, *name;
    } cases[] = {{"1", "relay candidate"}, {"3", "peer ICE candidate"}, {"9", "keepalive/reply"}, {"5", "unknown"}};
    for (const auto &c : cases) {
        CallStanza s = parse_stanza(call_env(
            {}, N("transport", {{"call-id", "C1"}, {"call-creator", "1@lid"}, {"p2p-cand-round", "2"},
                                {"transport-message-type", c.type}},
                  {NB("te", {{"priority", "1"}}, H("01020304")), N("net", {{"medium", "2"}, {"protocol", "0"}})})));
        EXPECT_EQ(s.action, Action::Transport);
        EXPECT_TRUE(s.transport_type);
        EXPECT_STREQ(s.transport_type_name, c.name);
        EXPECT_EQ(s.p2p_cand_round, 2u);
        EXPECT_TRUE(s.net->protocol);
        ASSERT_EQ(s.endpoints.size(), 1u);
        EXPECT_EQ(s.endpoints[0].family, AddrFamily::None);  // 4 bytes: raw, not an address
        EXPECT_EQ(s.endpoints[0].raw.size, 4u);
    }
}

TEST(CallStanza, RelayLatency) {
    CallStanza s = parse_stanza(call_env(
        {{"to", "222:1@lid"}},
        N("relaylatency", {{"call-id", "C1"}, {"call-creator", "1@lid"}},
          {NB("te", {{"latency", "33554477"}, {"relay_name", "gru1c02"}}, H("9df0e2850d96")),
           N("destination", {}, {N("to", {{"jid", "222:1@lid"}})})})));
    EXPECT_EQ(s.action, Action::RelayLatency);
    ASSERT_EQ(s.endpoints.size(), 1u);
    const Endpoint &te = s.endpoints[0];
    EXPECT_TRUE(te.latency_raw.has_value());
    EXPECT_TRUE(te.latency_offset_encoded);
    EXPECT_TRUE(te.rtt_ms.has_value());
    EXPECT_EQ(te.rtt_ms, 45u);
    EXPECT_EQ(te.relay_name, "gru1c02");
    EXPECT_EQ(te.address_text(), "157.240.226.133");
    EXPECT_EQ(te.port, 3478);
    EXPECT_EQ(te.endpoint_text(), "157.240.226.133:3478");
    EXPECT_EQ(s.targets.size(), 1u);

    CallStanza plain = parse_stanza(
        call_env({}, N("relaylatency", {{"call-id", "C1"}}, {NB("te", {{"latency", "42"}}, H("9df0e2850d96"))})));
    EXPECT_TRUE(plain.endpoints[0].latency_raw.has_value());
    EXPECT_FALSE(plain.endpoints[0].latency_offset_encoded);
    EXPECT_FALSE(plain.endpoints[0].rtt_ms.has_value());
    EXPECT_EQ(plain.endpoints[0].latency_raw, 42u);
}

TEST(CallStanza, SpecModelCandidatesInDestination) {
    CallStanza s = parse_stanza(call_env(
        {}, N("offer", {{"call-id", "C9"}},
              {N("destination", {},
                 {N("te", {{"ip", "1.2.3.4"}, {"port", "3478"}, {"latency", "42"}}),
                  N("endpoint", {{"ip", "2001:db8::1"}, {"port", "3480"}})})})));
    EXPECT_TRUE(s.destination_candidates);
    EXPECT_FALSE(s.destination_fanout);
    ASSERT_EQ(s.endpoints.size(), 2u);
    EXPECT_TRUE(s.endpoints[0].in_destination);
    EXPECT_TRUE(s.endpoints[0].from_attributes);
    EXPECT_EQ(s.endpoints[0].endpoint_text(), "1.2.3.4:3478");
    EXPECT_FALSE(s.endpoints[0].latency_offset_encoded);
    EXPECT_EQ(s.endpoints[1].tag, "endpoint");
    EXPECT_EQ(s.endpoints[1].endpoint_text(), "[2001:db8::1]:3480");
}

TEST(CallStanza, SmallActions) {
    CallStanza hb = parse_stanza(call_env({{"to", "C1@call"}, {"id", "HB"}},
                                          N("heartbeat", {{"call-id", "C1"}, {"call-creator", "1@lid"}})));
    EXPECT_EQ(hb.action, Action::Heartbeat);
    EXPECT_EQ(hb.call_id, "C1");

    CallStanza mute = parse_stanza(call_env({}, N("mute_v2", {{"call-id", "C1"}, {"mute-state", "muted"}})));
    EXPECT_EQ(mute.action, Action::MuteV2);
    EXPECT_EQ(mute.mute_state, "muted");

    CallStanza video = parse_stanza(call_env(
        {}, N("video", {{"call-id", "C1"}, {"state", "11"}, {"dec", "H264"}, {"voip_settings", "video"},
                        {"device_orientation", "0"}})));
    EXPECT_EQ(video.action, Action::Video);
    EXPECT_TRUE(video.video_state);
    EXPECT_EQ(video.video_state, 11u);
    EXPECT_STREQ(video.video_state_name, "UpgradeRequestV2");
    EXPECT_EQ(video.video_dec, "H264");
    EXPECT_EQ(video.video_voip_settings, "video");
    EXPECT_STREQ(video_state_name(20), "Error");
    EXPECT_STREQ(video_state_name(0), "Disabled");
    EXPECT_STREQ(video_state_name(12), "unknown");
    CallStanza model_video = parse_stanza(call_env({}, N("video", {{"call-id", "C1"}, {"state", "on"}})));
    EXPECT_FALSE(model_video.video_state);
    EXPECT_EQ(model_video.video_state_text, "on");

    CallStanza rekey = parse_stanza(call_env(
        {{"to", "222:1@lid"}},
        N("enc_rekey", {{"call-id", "G1"}, {"call-creator", "1@lid"}, {"transaction-id", "7"}},
          {N("encopt", {{"keygen", "2"}}), NB("enc", {{"v", "2"}, {"type", "msg"}, {"count", "0"}}, H("aabb"))})));
    EXPECT_EQ(rekey.action, Action::EncRekey);
    EXPECT_TRUE(rekey.transaction_id);
    EXPECT_EQ(rekey.transaction_id, 7u);
    ASSERT_EQ(rekey.encs.size(), 1u);
    EXPECT_EQ(rekey.encs[0].type, "msg");

    CallStanza notice = parse_stanza(call_env({}, N("offer_notice", {{"call-id", "G1"}, {"media", "video"}, {"type", "group"}})));
    EXPECT_EQ(notice.action, Action::OfferNotice);
    EXPECT_EQ(notice.notice_media, "video");
    EXPECT_EQ(notice.notice_type, "group");

    CallStanza link = parse_stanza(call_env({}, N("link_join", {{"token", "t"}, {"media", "audio"}})));
    EXPECT_EQ(link.action, Action::Link);
    EXPECT_EQ(link.action_tag, "link_join");
}

TEST(CallStanza, GroupInfo) {
    CallStanza s = parse_stanza(call_env(
        {}, N("group_update", {{"call-id", "G1"}, {"call-creator", "1@lid"}},
              {N("group_info", {{"transaction-id", "3"}, {"media", "audio"}, {"connected-limit", "32"}, {"rekey", "1"},
                                {"group-jid", "123-456@g.us"}},
                 {N("user", {{"jid", "10@lid"}, {"state", "connected"}},
                    {N("device", {{"jid", "10@lid"}, {"platform", "android"}, {"pid", "1"}}),
                     N("device", {{"jid", "10:2@lid"}, {"pid", "4"}})}),
                  N("user", {{"jid", "20@lid"}}, {N("device", {{"jid", "20:1@lid"}, {"pid", "2"}})})}),
               relay_block()})));
    EXPECT_EQ(s.action, Action::GroupUpdate);
    ASSERT_TRUE(s.group_info);
    const GroupInfo &g = *s.group_info;
    EXPECT_EQ(g.transaction_id, 3u);
    EXPECT_EQ(g.media, "audio");
    EXPECT_EQ(g.connected_limit, 32u);
    EXPECT_TRUE(g.rekey);
    EXPECT_EQ(g.group_jid, "123-456@g.us");
    ASSERT_EQ(g.users.size(), 2u);
    EXPECT_EQ(g.users[0].state, "connected");
    ASSERT_EQ(g.users[0].devices.size(), 2u);
    EXPECT_EQ(g.users[0].devices[0].participant, "10:0@lid");
    EXPECT_EQ(g.users[0].devices[0].platform, "android");
    EXPECT_EQ(g.users[0].devices[0].pid, 1u);
    EXPECT_EQ(g.users[0].devices[1].participant, "10:2@lid");
    EXPECT_EQ(g.users[1].devices[0].participant, "20:1@lid");
    EXPECT_EQ(s.relays.size(), 1u);

    // group_info as the action itself.
    CallStanza gi = parse_stanza(call_env({}, N("group_info", {{"call-id", "G1"}, {"transaction-id", "4"}})));
    EXPECT_EQ(gi.action, Action::GroupInfo);
    EXPECT_TRUE(gi.group_info);
    EXPECT_EQ(gi.group_info->transaction_id, 4u);
}

TEST(CallStanza, UnknownActionAndKnownAfterUnknownChild) {
    CallStanza u = parse_stanza(call_env({{"id", "X"}}, N("frobnicate", {{"call-id", "C7"}})));
    EXPECT_EQ(u.kind, StanzaKind::Call);
    EXPECT_EQ(u.action, Action::Unknown);
    EXPECT_EQ(u.action_tag, "frobnicate");
    EXPECT_EQ(u.call_id, "C7");

    Node top = N("call", {}, {N("metadata", {}), N("accept", {{"call-id", "C7"}})});
    CallStanza k = parse_stanza(top);
    EXPECT_EQ(k.action, Action::Accept);
    EXPECT_EQ(k.action_node, &top.children[1]);

    CallStanza none = parse_stanza(N("call", {{"id", "E"}}));
    EXPECT_EQ(none.kind, StanzaKind::Call);
    EXPECT_EQ(none.action, Action::None);
    EXPECT_FALSE(none.notes.empty());
}

TEST(CallStanza, RelayBlock) {
    Node top = call_env({{"from", "111:0@lid"}, {"id", "O3"}},
                        N("offer", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}},
                          {N("audio", {{"enc", "opus"}, {"rate", "16000"}}), relay_block()}));
    CallStanza s = parse_stanza(top);
    ASSERT_EQ(s.relays.size(), 1u);
    const RelayBlock &r = s.relays[0];
    EXPECT_EQ(r.uuid, "U-1");
    EXPECT_EQ(r.self_pid, 1u);
    EXPECT_EQ(r.peer_pid, 2u);
    EXPECT_EQ(r.key_text, kRelayKey);
    EXPECT_TRUE(r.key_decoded_ok);
    EXPECT_EQ(to_hex(r.key_decoded), "000102030405060708090a0b0c0d0e0f");
    EXPECT_EQ(r.hbh_encoding, HbhEncoding::Plain);
    ASSERT_EQ(r.hbh_key.size(), 30u);
    EXPECT_EQ(r.hbh_key[29], 29);
    EXPECT_TRUE(r.tag_len_present);
    EXPECT_TRUE(r.tag_len_valid);
    EXPECT_EQ(r.warp_mi_tag_len, 10u);
    EXPECT_NE(r.tag_len_node, nullptr);

    ASSERT_EQ(r.tokens.size(), 3u);
    EXPECT_EQ(r.tokens[0].id, 0u);
    EXPECT_FALSE(r.tokens[0].id_positional);
    EXPECT_EQ(r.tokens[1].id, 1u);  // positional: next free slot
    EXPECT_TRUE(r.tokens[1].id_positional);
    EXPECT_EQ(to_hex(r.tokens[1].data), "aa02");
    EXPECT_TRUE(r.tokens[2].ignored);  // id 64
    ASSERT_EQ(r.auth_tokens.size(), 1u);
    EXPECT_EQ(r.auth_tokens[0].id, 1u);

    ASSERT_EQ(r.te2.size(), 2u);
    EXPECT_EQ(r.te2[0].endpoint_text(), "157.240.226.133:3478");
    EXPECT_EQ(r.te2[0].relay_id, 5u);
    EXPECT_EQ(r.te2[0].relay_name, "gru1c02");
    EXPECT_EQ(r.te2[0].auth_token_id, 1u);
    EXPECT_EQ(r.te2[0].c2r_rtt, 17u);
    EXPECT_TRUE(r.te2[0].protocol);
    EXPECT_FALSE(r.te2[0].is_fna);
    EXPECT_EQ(r.te2[1].family, AddrFamily::IPv6);
    EXPECT_EQ(r.te2[1].endpoint_text(), "[2001:db8::1]:3480");
    EXPECT_TRUE(r.te2[1].is_fna);

    EXPECT_TRUE(r.raw_e2e_ok);
    EXPECT_EQ(r.raw_e2e.size(), 40u);
}

TEST(CallStanza, RelayHbhKeyEncodingsAndTagLen) {
    struct Case {
        std::string text;
        HbhEncoding enc;
    } cases[] = {
        {kHbh30, HbhEncoding::Plain},
        {kHbh30Double, HbhEncoding::Double},
        {"AAECAwQFBgcICQoLDA0ODxAREhM=", HbhEncoding::Invalid},  // 20 bytes
        {"not base64 !", HbhEncoding::Invalid},
    };
    for (const auto &c : cases) {
        Node top = N("ack", {{"class", "call"}, {"id", "A"}}, {N("relay", {}, {NT("hbh_key", {}, c.text)})});
        CallStanza s = parse_stanza(top);
        ASSERT_EQ(s.relays.size(), 1u);
        EXPECT_EQ(s.relays[0].hbh_encoding, c.enc) << c.text;
        if (c.enc == HbhEncoding::Plain || c.enc == HbhEncoding::Double) {
            ASSERT_EQ(s.relays[0].hbh_key.size(), 30u);
            EXPECT_EQ(to_hex(s.relays[0].hbh_key), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d");
        } else {
            EXPECT_TRUE(s.relays[0].hbh_key.empty());
        }
        EXPECT_FALSE(s.relays[0].tag_len_present);
        EXPECT_EQ(s.relays[0].warp_mi_tag_len, 4u);  // default
    }
    // Group variant: warp_mi_tag_len as an attribute; an out-of-range value falls back to 4.
    CallStanza a = parse_stanza(N("ack", {{"class", "call"}}, {N("relay", {{"warp_mi_tag_len", "8"}, {"transaction-id", "3"}})}));
    EXPECT_EQ(a.relays[0].warp_mi_tag_len, 8u);
    EXPECT_NE(a.relays[0].tag_len_attr, nullptr);
    EXPECT_EQ(a.relays[0].transaction_id, 3u);
    CallStanza bad = parse_stanza(N("ack", {{"class", "call"}}, {N("relay", {}, {NT("warp_mi_tag_len", {}, "21")})}));
    EXPECT_TRUE(bad.relays[0].tag_len_present);
    EXPECT_FALSE(bad.relays[0].tag_len_valid);
    EXPECT_EQ(bad.relays[0].tag_len_raw, 21u);
    EXPECT_EQ(bad.relays[0].warp_mi_tag_len, 4u);
    EXPECT_FALSE(bad.notes.empty());
}

TEST(CallStanza, AckWithRelayAndError) {
    Node top = N("ack", {{"class", "call"}, {"type", "offer"}, {"id", "OFFER-1"}, {"from", "s.whatsapp.net"}, {"t", "5"}},
                 {relay_block()});
    CallStanza s = parse_stanza(top);
    EXPECT_EQ(s.kind, StanzaKind::Ack);
    EXPECT_EQ(attr_text(s.ack.cls), "call");
    EXPECT_EQ(attr_text(s.ack.type), "offer");
    EXPECT_EQ(attr_text(s.ack.id), "OFFER-1");
    EXPECT_EQ(attr_text(s.ack.from), "s.whatsapp.net");
    EXPECT_EQ(s.stanza_id, "OFFER-1");
    EXPECT_EQ(s.call_id, "");  // linked later through the registry
    EXPECT_EQ(s.relays.size(), 1u);

    CallStanza e = parse_stanza(N("ack", {{"class", "call"}, {"id", "X"}}, {N("error", {{"code", "439"}, {"text", "bad order"}})}));
    EXPECT_NE(e.ack.error_node, nullptr);
    EXPECT_TRUE(e.ack.error_code);
    EXPECT_EQ(e.ack.error_code, 439u);
    EXPECT_EQ(e.ack.error_text, "bad order");

    // An ack without class="call" still counts when it names a call or carries a relay.
    CallStanza named = parse_stanza(N("ack", {{"id", "Y"}, {"call-id", "C5"}}));
    EXPECT_EQ(named.kind, StanzaKind::Ack);
    EXPECT_EQ(named.call_id, "C5");
    CallStanza relayonly = parse_stanza(N("ack", {{"id", "Z"}}, {N("relay", {})}));
    EXPECT_EQ(relayonly.kind, StanzaKind::Ack);
}

TEST(CallStanza, Receipt) {
    CallStanza s = parse_stanza(N("receipt", {{"to", "111:0@lid"}, {"from", "222:1@lid"}, {"id", "OFFER-1"}},
                                  {N("offer", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}})}));
    EXPECT_EQ(s.kind, StanzaKind::Receipt);
    EXPECT_EQ(s.call_id, "C1");
    EXPECT_EQ(s.call_creator, "111:0@lid");
    EXPECT_EQ(s.stanza_id, "OFFER-1");
}

TEST(CallRegistry, OfferRingAcceptTerminate) {
    Node offer = offer_stanza();
    Node ack = N("ack", {{"class", "call"}, {"type", "offer"}, {"id", "OFFER-1"}, {"from", "s.whatsapp.net"}}, {relay_block()});
    Node receipt = N("receipt", {{"from", "222:1@lid"}, {"id", "OFFER-1"}},
                     {N("offer", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}})});
    Node preaccept = call_env({{"from", "222:1@lid"}, {"id", "PRE"}}, N("preaccept", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}}));
    Node ack_pre = N("ack", {{"class", "call"}, {"id", "PRE"}});
    Node accept = call_env({{"from", "222@lid"}, {"participant", "222:1@lid"}},
                           N("accept", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}}));
    Node latency = call_env({}, N("relaylatency", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}},
                                  {NB("te", {{"latency", "33554477"}}, H("0a0000020d96"))}));
    Node terminate = call_env({}, N("terminate", {{"call-id", "C1"}, {"call-creator", "111:0@lid"},
                                                  {"reason", "accepted_elsewhere"}, {"duration", "30"}}));
    Node stray_ack = N("ack", {{"class", "call"}, {"id", "NOBODY"}});

    CallRegistry reg;
    const Call *c = reg.update(parse_stanza(offer), 10, 1.0, Direction::ClientToServer);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->status, CallStatus::Offered);
    EXPECT_EQ(c->offer.frame, 10u);
    EXPECT_EQ(c->offer_stanza_id, "OFFER-1");
    EXPECT_EQ(c->offer_direction, Direction::ClientToServer);
    EXPECT_EQ(c->caller_jid, "111:0@lid");  // no `from` on an outgoing offer: the creator
    EXPECT_EQ(c->callee_jid, "222@lid");
    EXPECT_EQ(c->offered_devices, (std::vector<std::string>{"222:1@lid", "222:0@lid"}));

    // The server ack names no call-id: it is linked through the offer's stanza id.
    const Call *ca = reg.update(parse_stanza(ack), 11, 1.1, Direction::ServerToClient);
    ASSERT_EQ(ca, c);
    EXPECT_TRUE(c->offer_ack.seen);
    ASSERT_NE(reg.call_for_stanza_id("OFFER-1"), nullptr);
    EXPECT_EQ(*reg.call_for_stanza_id("OFFER-1"), "C1");
    EXPECT_TRUE(c->has_relay);
    EXPECT_EQ(c->relay_key, kRelayKey);
    EXPECT_EQ(c->hbh_key.size(), 30u);
    EXPECT_EQ(c->warp_mi_tag_len, 10u);
    EXPECT_EQ(c->self_pid, 1u);
    EXPECT_EQ(c->peer_pid, 2u);
    ASSERT_EQ(c->endpoints.size(), 2u);
    EXPECT_EQ(c->endpoints[0].text(), "157.240.226.133:3478");
    const uint8_t relay4[4] = {157, 240, 226, 133};
    ASSERT_NE(reg.call_for_endpoint(AddrFamily::IPv4, relay4, 3478), nullptr);
    EXPECT_EQ(*reg.call_for_endpoint(AddrFamily::IPv4, relay4, 3478), "C1");
    EXPECT_EQ(reg.call_for_endpoint(AddrFamily::IPv4, relay4, 3480), nullptr);
    ASSERT_NE(reg.call_for_address(AddrFamily::IPv4, relay4), nullptr);
    Bytes v6 = H(kV6);
    EXPECT_NE(reg.call_for_endpoint(AddrFamily::IPv6, v6.data(), 3480), nullptr);

    EXPECT_EQ(reg.update(parse_stanza(receipt), 12, 1.5), c);
    EXPECT_EQ(c->status, CallStatus::Ringing);
    EXPECT_EQ(c->ringing.frame, 12u);
    EXPECT_EQ(c->ringing_devices, (std::vector<std::string>{"222:1@lid"}));

    EXPECT_EQ(reg.update(parse_stanza(preaccept), 13, 1.6), c);
    EXPECT_TRUE(c->preaccept.seen);
    EXPECT_EQ(reg.update(parse_stanza(ack_pre), 14, 1.7), c);  // ack of the preaccept, by stanza id

    EXPECT_EQ(reg.update(parse_stanza(accept), 20, 3.0), c);
    EXPECT_EQ(c->status, CallStatus::Accepted);
    EXPECT_STREQ(call_status_name(c->status), "Accepted/in call");
    EXPECT_EQ(c->answering_device, "222:1@lid");  // participant attr wins over from
    EXPECT_EQ(c->participants, (std::vector<std::string>{"111:0@lid", "222:1@lid"}));

    reg.update(parse_stanza(latency), 21, 3.1);
    const uint8_t te4[4] = {10, 0, 0, 2};
    ASSERT_NE(reg.call_for_endpoint(AddrFamily::IPv4, te4, 3478), nullptr);

    EXPECT_EQ(reg.update(parse_stanza(terminate), 40, 33.0), c);
    EXPECT_EQ(c->status, CallStatus::Ended);
    EXPECT_EQ(c->terminate.frame, 40u);
    EXPECT_EQ(c->terminate_reason, "accepted_elsewhere");
    EXPECT_TRUE(c->duration.has_value());
    EXPECT_EQ(c->duration, 30u);
    EXPECT_FALSE(c->audio_duration.has_value());
    EXPECT_EQ(c->frames, (std::vector<uint32_t>{10, 11, 12, 13, 14, 20, 21, 40}));
    EXPECT_DOUBLE_EQ(c->first_time, 1.0);
    EXPECT_DOUBLE_EQ(c->last_time, 33.0);

    EXPECT_EQ(reg.update(parse_stanza(stray_ack), 41, 34.0), nullptr);
    EXPECT_EQ(reg.update(parse_stanza(N("iq", {})), 42, 34.0), nullptr);
    EXPECT_EQ(reg.size(), 1u);
    EXPECT_EQ(reg.find("C1"), c);
    EXPECT_EQ(reg.find("nope"), nullptr);
    EXPECT_EQ(&reg.calls()[0], c);
}

TEST(CallRegistry, IdempotentWhenFramesAreFedAgain) {
    Node offer = offer_stanza();
    Node ack = N("ack", {{"class", "call"}, {"id", "OFFER-1"}}, {relay_block()});
    Node accept = call_env({{"from", "222:1@lid"}}, N("accept", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}}));
    Node accept2 = call_env({{"from", "222:5@lid"}}, N("accept", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}}));
    CallRegistry reg;
    reg.update(parse_stanza(offer), 1, 0.1);
    reg.update(parse_stanza(ack), 2, 0.2);
    reg.update(parse_stanza(accept), 3, 0.3);
    const uint64_t gen = reg.generation();
    const Call *c = reg.find("C1");
    ASSERT_NE(c, nullptr);
    const auto frames = c->frames;
    const auto endpoints = c->endpoints.size();

    // Second pass, in any order: same answers, no change.
    EXPECT_EQ(reg.update(parse_stanza(accept), 3, 0.3), c);
    EXPECT_EQ(reg.update(parse_stanza(ack), 2, 0.2), c);
    EXPECT_EQ(reg.update(parse_stanza(offer), 1, 0.1), c);
    EXPECT_EQ(reg.generation(), gen);
    EXPECT_EQ(c->frames, frames);
    EXPECT_EQ(c->endpoints.size(), endpoints);
    EXPECT_EQ(c->answering_device, "222:1@lid");
    EXPECT_EQ(reg.call_for_frame(2), c);
    EXPECT_EQ(reg.call_for_frame(99), nullptr);

    // A second stanza in the same frame is told apart by its index.
    EXPECT_EQ(reg.update(parse_stanza(accept2), 3, 0.3, Direction::Unknown, 1), c);
    EXPECT_GT(reg.generation(), gen);
    EXPECT_EQ(c->answering_device, "222:1@lid");  // the first answer stays
    EXPECT_EQ(c->frames, frames);                 // frame 3 listed once
}

TEST(CallRegistry, RejectFlowAndStatusNeverGoesBack) {
    Node offer = call_env({{"from", "111:0@lid"}, {"id", "O"}}, N("offer", {{"call-id", "R1"}, {"call-creator", "111:0@lid"}}));
    Node reject = call_env({{"from", "222:1@lid"}}, N("reject", {{"call-id", "R1"}, {"call-creator", "111:0@lid"}, {"reason", "declined"}}));
    Node late_offer_receipt = N("receipt", {{"id", "O"}}, {N("offer", {{"call-id", "R1"}})});
    CallRegistry reg;
    reg.update(parse_stanza(offer), 5, 0.5, Direction::ServerToClient);
    const Call *c = reg.update(parse_stanza(reject), 6, 0.6);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->caller_jid, "111:0@lid");
    EXPECT_EQ(c->offer_direction, Direction::ServerToClient);
    EXPECT_EQ(c->status, CallStatus::Rejected);
    EXPECT_EQ(c->reject_reason, "declined");
    reg.update(parse_stanza(late_offer_receipt), 7, 0.7);
    EXPECT_EQ(c->status, CallStatus::Rejected);
    EXPECT_TRUE(c->ringing.seen);
}

TEST(CallRegistry, GroupCallParticipantsAndEpochs) {
    Node update = call_env(
        {}, N("group_update", {{"call-id", "G1"}, {"call-creator", "10@lid"}},
              {N("group_info", {{"transaction-id", "3"}, {"media", "video"}},
                 {N("user", {{"jid", "10@lid"}}, {N("device", {{"jid", "10@lid"}})}),
                  N("user", {{"jid", "20@lid"}}, {N("device", {{"jid", "20:1@lid"}}), N("device", {{"jid", "20:2@lid"}})})}),
               N("relay", {{"warp_mi_tag_len", "6"}}, {NT("key", {}, "relaykeytext")})}));
    Node rekey = call_env({}, N("enc_rekey", {{"call-id", "G1"}, {"call-creator", "10@lid"}, {"transaction-id", "4"}}));
    CallRegistry reg;
    const Call *c = reg.update(parse_stanza(update), 1, 0.0);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->is_group);
    EXPECT_TRUE(c->is_video);
    EXPECT_EQ(c->participants, (std::vector<std::string>{"10:0@lid", "20:1@lid", "20:2@lid"}));
    EXPECT_EQ(c->relay_key, "relaykeytext");
    EXPECT_EQ(c->warp_mi_tag_len, 6u);
    reg.update(parse_stanza(rekey), 2, 0.1);
    EXPECT_EQ(c->transaction_ids, (std::vector<uint32_t>{3, 4}));

    // A later relay patch without a tag length keeps the earlier one.
    Node patch = N("ack", {{"class", "call"}, {"call-id", "G1"}}, {N("relay", {}, {NT("key", {}, "newkey")})});
    reg.update(parse_stanza(patch), 3, 0.2);
    EXPECT_EQ(c->relay_key, "newkey");
    EXPECT_EQ(c->warp_mi_tag_len, 6u);
}
