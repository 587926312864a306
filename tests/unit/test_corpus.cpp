// The sanitised corpus export (spec-digest-wacrg.md §5): records decoded from WABinary bytes the
// independent Python generator wrote (test-pcaps/gen, dictionary v3), pinned byte for byte, and
// proofs that no secret or identifier of the input survives in the YAML.
#include "corpus/corpus.h"
#include "wabinary/decoder.h"
#include "wabinary/dictionary.h"
#include "test_support.h"

#include <glib.h>
#include <gtest/gtest.h>
#include <yaml.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

using namespace wacall;
using namespace wacall::test;
using corpus::Context;
using corpus::Direction;
using corpus::Exporter;
using wabinary::Node;
using wabinary::Value;
using wabinary::ValueKind;

namespace {

// The returned root views the decoded result's storage, so the results are kept too.
Node decode_hex(const std::string &hex) {
    static std::deque<wabinary::DecodeResult> results;
    store().push_back(H(hex));
    const Bytes &b = store().back();
    results.push_back(wabinary::decode_node(ByteView(b.data(), b.size()), wabinary::dictionary_for_version(3)));
    const wabinary::DecodeResult &r = results.back();
    EXPECT_TRUE(r.ok) << r.error;
    return r.root;
}

// Caller side (sig-tcp443 style): <call to=Bob id><offer call-id creator> privacy, two audio, net,
// capability, <destination> fan-out to Bob's devices 0 and 7 with pkmsg/msg ciphertexts, encopt,
// device-identity. Made by test-pcaps/gen (signaling.offer + wabin.encode, dictionary v3).
const char kOfferOut[] =
    "f8066411faff07984371652048717608fb0a3eb0dbf833c4479b0e85f801f806ec1c68fb106a1f0c2d9e8b7a65f4e3d2"
    "c1b0a9988747f70100ff88203746519038214ff808f802e2fc1af5c6d13059c807c9d4fd38ad08913f31ba6d156b24d4"
    "a6350b3ff805a11dec1eec1dec87f805a11dec1eec1dff8316000ff803ec68ec24a2f804b4ec2155fc070105f709e0bb"
    "13f802eca9f802f804110cf70100ff0798437165204871f801f8081d51450453412dfc300a6f808184f3368feca742ba"
    "2e0e08e285094221a3872debbbd90cb1db5e41b2993f96b93cc01c7906218d4079d07ca5f804110cf70107ff07984371"
    "65204871f801f8081d5145044d412dfc20a41ef85b918cf82a692197977fffc74cded8433dea126355decb77114c4502"
    "1ef803ec15ec1a45f802e6fc189c4808385ef40bbf39a2e32349202667584881b85a6adc9f";

// Callee side (sig-tcp5222 style): an inbound offer with everything a caller leaks: push name,
// platform/version, caller_pn, country code, device class, privacy token, a pkmsg ciphertext,
// device identity and a <relay> block (relay key, double-base64 hbh_key, tokens, auth tokens, four
// te2 endpoints with relay names).
const char kOfferIn[] =
    "f8106406f70100ff88203746519038214f08fb0a3eb05271289a0e2f0eb318fc05416c6963654aecd054ff852b24b2b7"
    "6fedeb551aff051700000000f801f80cec1c68fc20303033633965316434623761326636653830633564313962336137"
    "653466323147f70100ff88203746519038214ffc0963616c6c65725f706efaff8615550100001f03fc1363616c6c6572"
    "5f636f756e7472795f636f6465fc025553fc0c6465766963655f636c617373ff022016f809f802e2fc187d09e53e37ab"
    "e750c1421111ea57a62a048d42042b3556dff805a11dec1eec1dec87f805a11dec1eec1dff8316000ff803ec68ec24a2"
    "f804b4ec2155fc070105f709e0bb13f8081d51450453412dfc289a37aaaa659c959eb2360faab72e00133fc1a3661f89"
    "f0e331f2c12d02cd2927df9f33d61ff85d70f803ec15ec1a45f802e6fc140fa8722070d597ea378cf23d83c9e55ab552"
    "6e5af808ec75ec85fc1033633839376635366432663961323064ec4745ec4c55f80bf8029efc1861702b6636596b7855"
    "694744314e53567370794375673d3df802fc076862685f6b6579fc385a444a484b316845656c4a3063555a7962556434"
    "5755704d4f44417956336c59656d7777616c6f35616e493362336c756130567864413d3df802fc0f776172705f6d695f"
    "7461675f6c656eec22f804c5082dfc30e98d5f2506b46db0f0605cc447b33cc83df5d92b89a6f233aec883ff7e84227c"
    "6d00f1f8112718a0d177aa43414c99caf804c50855fc302704323ae05eba8e43e77c1915bc55c2160826db019e7736bf"
    "8e65e11291dee22abe1fa3e8df3021d045c5fb3c9eaf4df804fc0a617574685f746f6b656e082dfc28ffa57214bb3136"
    "5867b840ec4f626dbb3f5ea943f5eb1bd61ff10a4725a8009a69e1ef67c233c6b2f804fc0a617574685f746f6b656e08"
    "55fc2829f7a2b09a01a12bf4ad2ac5d8f7cd86de19154e4cdc3e18ec351bee5f86da0a3dd0501273cdb7e1f80ec98555"
    "fc0a72656c61795f6e616d65fc0767727531633032922dfc0d617574685f746f6b656e5f696455fc076332725f727474"
    "edd1ec032dfc06cb00710a0d96f80cc98555fc0a72656c61795f6e616d65fc0767727531633032922dfc0d617574685f"
    "746f6b656e5f696455ec032dfc1220010db80003000000000000000000100d96f80ec985a2fc0a72656c61795f6e616d"
    "65fc076d6961336330359255fc0d617574685f746f6b656e5f696455fc076332725f727474eeaeec032dfc06cb00711e"
    "0d98f80cc98545fc0a72656c61795f6e616d65fc07666f7232633031922dfc0d617574685f746f6b656e5f69642dfc06"
    "69735f666e6155fc06cb0071140d96";

const char kGoldenOut[] = R"yaml(# wacall corpus export: 1 sanitised call stanza record(s) in the wacrg capture schema (one YAML document each)
---
id: "wacall-0001-offer"
title: "<call> offer, outgoing (frame 8)"
status: "draft"
source:
  technique: "websocket-capture"
  tools: ["wacall"]
stanza_tag: "call"
direction: "outgoing"
confidence: "unknown"
raw:
  format: "xml"
  body: |
    <call to="B@lid" id="STANZAID-0001-synthetic">
      <offer call-id="CALLID-0001-synthetic" call-creator="A:0@lid">
        <privacy>PRIVACYTOKENPLACEHOLDER1</privacy>
        <audio enc="opus" rate="8000"/>
        <audio enc="opus" rate="16000"/>
        <net medium="3"/>
        <capability ver="1">BINARYCAPSPLACEHOLDER1</capability>
        <destination>
          <to jid="B:0@lid">
            <enc v="2" type="pkmsg" count="0">CIPHERTEXTPLACEHOLDER1</enc>
          </to>
          <to jid="B:7@lid">
            <enc v="2" type="msg" count="0">CIPHERTEXTPLACEHOLDER2</enc>
          </to>
        </destination>
        <encopt keygen="2"/>
        <device-identity>DEVICEIDENTITYPLACEHOLDER1</device-identity>
      </offer>
    </call>
decoded: |
  WABinary dictionary v3; every node, attribute and content with its wire type and length, and how its value was sanitised (the values are in raw.body and attributes)
  <call> tag token, 4 chars; 1 child
    @to: jid JID_PAIR, user 14 chars; pseudonym
    @id: packed HEX_8, 20 chars; pseudonym
    <offer> tag token double-byte, 5 chars; 8 children
      @call-id: packed HEX_8, 32 chars; pseudonym
      @call-creator: jid AD_JID, user 15 chars; pseudonym
      <privacy> tag token, 7 chars
        content: binary BINARY_8, 26 bytes; placeholder
      <audio> tag token, 5 chars
        @enc: token double-byte, 4 chars; kept (allow-listed structure)
        @rate: token double-byte, 4 chars; kept (allow-listed structure)
      <audio> tag token, 5 chars
        @enc: token double-byte, 4 chars; kept (allow-listed structure)
        @rate: packed NIBBLE_8, 5 chars; kept (allow-listed structure)
      <net> tag token double-byte, 3 chars
        @medium: token, 1 char; kept (allow-listed structure)
      <capability> tag token, 10 chars
        @ver: token, 1 char; kept (allow-listed structure)
        content: binary BINARY_8, 7 bytes; placeholder
      <destination> tag token double-byte, 11 chars; 2 children
        <to> tag token, 2 chars; 1 child
          @jid: jid AD_JID, user 14 chars; pseudonym
          <enc> tag token, 3 chars
            @v: token, 1 char; kept (allow-listed structure)
            @type: token, 5 chars; kept (allow-listed structure)
            @count: token, 1 char; kept (allow-listed structure)
            content: binary BINARY_8, 48 bytes; placeholder
        <to> tag token, 2 chars; 1 child
          @jid: jid AD_JID, user 14 chars; pseudonym
          <enc> tag token, 3 chars
            @v: token, 1 char; kept (allow-listed structure)
            @type: token, 3 chars; kept (allow-listed structure)
            @count: token, 1 char; kept (allow-listed structure)
            content: binary BINARY_8, 32 bytes; placeholder
      <encopt> tag token double-byte, 6 chars
        @keygen: token, 1 char; kept (allow-listed structure)
      <device-identity> tag token, 15 chars
        content: binary BINARY_8, 24 bytes; placeholder
attributes:
- name: "to"
  value: "B@lid"
  note: "jid JID_PAIR, user 14 chars; pseudonym"
- name: "id"
  value: "STANZAID-0001-synthetic"
  note: "packed HEX_8, 20 chars; pseudonym"
- name: "offer.call-id"
  value: "CALLID-0001-synthetic"
  note: "packed HEX_8, 32 chars; pseudonym"
- name: "offer.call-creator"
  value: "A:0@lid"
  note: "jid AD_JID, user 15 chars; pseudonym"
- name: "offer.audio[1].enc"
  value: "opus"
  note: "token double-byte, 4 chars; kept (allow-listed structure)"
- name: "offer.audio[1].rate"
  value: "8000"
  note: "token double-byte, 4 chars; kept (allow-listed structure)"
- name: "offer.audio[2].enc"
  value: "opus"
  note: "token double-byte, 4 chars; kept (allow-listed structure)"
- name: "offer.audio[2].rate"
  value: "16000"
  note: "packed NIBBLE_8, 5 chars; kept (allow-listed structure)"
- name: "offer.net.medium"
  value: "3"
  note: "token, 1 char; kept (allow-listed structure)"
- name: "offer.capability.ver"
  value: "1"
  note: "token, 1 char; kept (allow-listed structure)"
- name: "offer.destination.to[1].jid"
  value: "B:0@lid"
  note: "jid AD_JID, user 14 chars; pseudonym"
- name: "offer.destination.to[1].enc.v"
  value: "2"
  note: "token, 1 char; kept (allow-listed structure)"
- name: "offer.destination.to[1].enc.type"
  value: "pkmsg"
  note: "token, 5 chars; kept (allow-listed structure)"
- name: "offer.destination.to[1].enc.count"
  value: "0"
  note: "token, 1 char; kept (allow-listed structure)"
- name: "offer.destination.to[2].jid"
  value: "B:7@lid"
  note: "jid AD_JID, user 14 chars; pseudonym"
- name: "offer.destination.to[2].enc.v"
  value: "2"
  note: "token, 1 char; kept (allow-listed structure)"
- name: "offer.destination.to[2].enc.type"
  value: "msg"
  note: "token, 3 chars; kept (allow-listed structure)"
- name: "offer.destination.to[2].enc.count"
  value: "0"
  note: "token, 1 char; kept (allow-listed structure)"
- name: "offer.encopt.keygen"
  value: "2"
  note: "token, 1 char; kept (allow-listed structure)"
notes: "Exported by wacall from capture frame 8 (stanza 1 of the frame), 0.000 s after the first exported stanza. Direction from the Noise transport (client to server: outgoing). Identifiers, ciphertexts, keys, tokens, addresses and names are placeholders; pseudonyms are consistent within this export only; t is relative to the first timestamp of the export. Check the record again before submitting it (docs/corpus.md)."
sanitized: true
)yaml";

// ---- hand-built nodes ------------------------------------------------------------------------------

Context ctx(uint32_t frame, Direction d = Direction::Outgoing, double t = 0) {
    Context c;
    c.frame = frame;
    c.direction = d;
    c.rel_time = t;
    c.dict_version = 3;
    return c;
}

// ---- YAML read back with libyaml's parser ----------------------------------------------------------

struct Parsed {
    bool ok = false;
    std::string error;
    int documents = 0;
    std::vector<std::string> scalars;
};

Parsed parse_yaml(const std::string &text) {
    Parsed p;
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char *>(text.data()), text.size());
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            p.error = parser.problem ? parser.problem : "parse error";
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_DOCUMENT_START_EVENT) ++p.documents;
        if (type == YAML_SCALAR_EVENT)
            p.scalars.emplace_back(reinterpret_cast<const char *>(ev.data.scalar.value), ev.data.scalar.length);
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) {
            p.ok = true;
            break;
        }
    }
    yaml_parser_delete(&parser);
    return p;
}

// Every form a secret could take in text: as is, hex (both cases), base64 (with and without
// padding), and for binary secrets every 6-byte window in hex (a partial leak).
std::vector<std::string> forms(const std::string &secret, bool binary) {
    std::vector<std::string> f;
    ByteView v(reinterpret_cast<const uint8_t *>(secret.data()), secret.size());
    f.push_back(secret);
    std::string hex = to_hex(v);
    std::string up = hex;
    for (char &c : up) c = static_cast<char>(g_ascii_toupper(c));
    f.push_back(hex);
    f.push_back(up);
    gchar *b64 = g_base64_encode(v.data, v.size);
    std::string b = b64;
    g_free(b64);
    f.push_back(b);
    while (!b.empty() && b.back() == '=') b.pop_back();
    f.push_back(b);
    if (binary)
        for (size_t i = 0; i + 6 <= secret.size(); ++i) f.push_back(hex.substr(2 * i, 12));
    return f;
}

void expect_absent(const std::string &out, const std::string &secret, bool binary, const std::string &what) {
    for (const auto &f : forms(secret, binary))
        EXPECT_EQ(out.find(f), std::string::npos) << what << " survives as \"" << f << "\"";
}

// Every value of a decoded tree that is not known structure: binary contents, JID users, and the
// values of the identifying attributes (the test's own list, independent of the exporter's).
void collect_secrets(const Node &n, std::vector<std::pair<std::string, bool>> &out) {
    static const std::vector<std::string> ident = {"from",  "to",       "jid",  "call-id",   "call-creator",
                                                   "caller_pn", "id",   "notify", "uuid",   "relay_name",
                                                   "t",     "caller_country_code", "device_class", "user_pn",
                                                   "group-jid", "participant_uuid", "ip", "port"};
    for (const auto &a : n.attrs) {
        if (a.value.kind == ValueKind::Jid && !a.value.jid_user.empty())
            out.push_back({std::string(a.value.jid_user), false});
        for (const auto &k : ident)
            if (a.key.text == k && a.value.text.size() >= 4 && !(k == "id" && a.value.text.size() <= 3))
                out.push_back({std::string(a.value.text), false});
    }
    if (n.content.kind == ValueKind::Binary && n.content.bytes.size >= 4 && n.tag.text != "warp_mi_tag_len")
        out.push_back({std::string(reinterpret_cast<const char *>(n.content.bytes.data), n.content.bytes.size),
                       !n.content.printable});
    for (const auto &c : n.children) collect_secrets(c, out);
}

}  // namespace

// ---- tests --------------------------------------------------------------------------------------------

TEST(Corpus, OutgoingOfferIsPinned) {
    Exporter ex;
    Context c = ctx(8, Direction::Outgoing, 0.25);
    ex.add(decode_hex(kOfferOut), c);
    EXPECT_EQ(ex.yaml(), kGoldenOut);
}

TEST(Corpus, RecordFollowsTheSchema) {
    Exporter ex;
    ex.add(decode_hex(kOfferOut), ctx(8));
    std::vector<corpus::Record> rs = ex.records();
    ASSERT_EQ(rs.size(), 1u);
    std::string y = corpus::record_yaml(rs[0], ex.options());
    Parsed p = parse_yaml(y);
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.documents, 1);
    // Top-level keys of capture.schema.json, in the Issue Form's order, and nothing else.
    std::vector<std::string> keys;
    size_t pos = 0;
    while (pos < y.size()) {
        size_t eol = y.find('\n', pos);
        std::string line = y.substr(pos, eol - pos);
        pos = eol == std::string::npos ? y.size() : eol + 1;
        size_t colon = line.find(':');
        if (!line.empty() && line[0] != ' ' && line[0] != '-' && colon != std::string::npos)
            keys.push_back(line.substr(0, colon));
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"id", "title", "status", "source", "stanza_tag", "direction",
                                               "confidence", "raw", "decoded", "attributes", "notes", "sanitized"}));
    EXPECT_NE(y.find("\nsanitized: true\n"), std::string::npos);
    EXPECT_NE(y.find("\n  format: \"xml\"\n"), std::string::npos);
    EXPECT_NE(y.find("\n  technique: \"websocket-capture\"\n"), std::string::npos);
    EXPECT_TRUE(corpus::valid_technique(ex.options().technique));
    EXPECT_TRUE(corpus::valid_confidence(ex.options().confidence));
    EXPECT_TRUE(corpus::valid_status(ex.options().status));
    EXPECT_FALSE(corpus::valid_technique("pcap"));
    EXPECT_FALSE(corpus::valid_confidence("sure"));

    corpus::Options o;
    o.technique = "frida-hooking";
    o.confidence = "probable";
    o.tools = {"wacall@1.2.3", "wireshark@4.0.17"};
    Exporter ex2(o);
    ex2.add(decode_hex(kOfferOut), ctx(8));
    std::string y2 = ex2.yaml();
    EXPECT_NE(y2.find("  technique: \"frida-hooking\"\n  tools: [\"wacall@1.2.3\", \"wireshark@4.0.17\"]\n"),
              std::string::npos);
    EXPECT_NE(y2.find("\nconfidence: \"probable\"\n"), std::string::npos);
}

TEST(Corpus, IncomingOfferWithRelayKeepsStructureOnly) {
    Exporter ex;
    Node top = decode_hex(kOfferIn);
    const corpus::Record &r = ex.add(top, ctx(3, Direction::Incoming));
    EXPECT_EQ(r.raw_body,
              "<call from=\"A:0@lid\" id=\"STANZAID-0001-synthetic\" notify=\"PUSHNAMEPLACEHOLDER1\" platform=\"iphone\" "
              "version=\"2.24.2.76\" e=\"1\" t=\"T0+0\">\n"
              "  <offer call-id=\"CALLID-0001-synthetic\" call-creator=\"A:0@lid\" caller_pn=\"A@s.whatsapp.net\" "
              "caller_country_code=\"CALLERCOUNTRYCODEPLACEHOLDER1\" device_class=\"DEVICECLASSPLACEHOLDER1\">\n"
              "    <privacy>PRIVACYTOKENPLACEHOLDER1</privacy>\n"
              "    <audio enc=\"opus\" rate=\"8000\"/>\n"
              "    <audio enc=\"opus\" rate=\"16000\"/>\n"
              "    <net medium=\"3\"/>\n"
              "    <capability ver=\"1\">BINARYCAPSPLACEHOLDER1</capability>\n"
              "    <enc v=\"2\" type=\"pkmsg\" count=\"0\">CIPHERTEXTPLACEHOLDER1</enc>\n"
              "    <encopt keygen=\"2\"/>\n"
              "    <device-identity>DEVICEIDENTITYPLACEHOLDER1</device-identity>\n"
              "    <relay uuid=\"UUIDPLACEHOLDER1\" self_pid=\"2\" peer_pid=\"1\">\n"
              "      <key>RELAYKEYPLACEHOLDER1</key>\n"
              "      <hbh_key>HBHKEYPLACEHOLDER1</hbh_key>\n"
              "      <warp_mi_tag_len>4</warp_mi_tag_len>\n"
              "      <token id=\"0\">RELAYTOKENPLACEHOLDER1</token>\n"
              "      <token id=\"1\">RELAYTOKENPLACEHOLDER2</token>\n"
              "      <auth_token id=\"0\">AUTHTOKENPLACEHOLDER1</auth_token>\n"
              "      <auth_token id=\"1\">AUTHTOKENPLACEHOLDER2</auth_token>\n"
              "      <te2 relay_id=\"1\" relay_name=\"RELAYNAMEPLACEHOLDER1\" token_id=\"0\" auth_token_id=\"1\" "
              "c2r_rtt=\"23\" protocol=\"0\">RELAYCANDIDATEPLACEHOLDER1</te2>\n"
              "      <te2 relay_id=\"1\" relay_name=\"RELAYNAMEPLACEHOLDER1\" token_id=\"0\" auth_token_id=\"1\" "
              "protocol=\"0\">RELAYCANDIDATEPLACEHOLDER2</te2>\n"
              "      <te2 relay_id=\"3\" relay_name=\"RELAYNAMEPLACEHOLDER2\" token_id=\"1\" auth_token_id=\"1\" "
              "c2r_rtt=\"41\" protocol=\"0\">RELAYCANDIDATEPLACEHOLDER3</te2>\n"
              "      <te2 relay_id=\"2\" relay_name=\"RELAYNAMEPLACEHOLDER3\" token_id=\"0\" auth_token_id=\"0\" "
              "is_fna=\"1\">RELAYCANDIDATEPLACEHOLDER4</te2>\n"
              "    </relay>\n"
              "  </offer>\n"
              "</call>\n");
    EXPECT_EQ(r.direction, "incoming");
    EXPECT_FALSE(r.direction_inferred);
    // Types and lengths survive in the outline.
    EXPECT_NE(r.decoded.find("  @from: jid AD_JID, user 15 chars; pseudonym\n"), std::string::npos) << r.decoded;
    EXPECT_NE(r.decoded.find("  @t: packed NIBBLE_8, 10 chars; relative time\n"), std::string::npos);
    EXPECT_NE(r.decoded.find("    @caller_pn: jid JID_PAIR, user 11 chars; pseudonym\n"), std::string::npos);
    EXPECT_NE(r.decoded.find("      content: binary BINARY_8, 40 bytes; placeholder\n"), std::string::npos);  // enc
    EXPECT_NE(r.decoded.find("        content: binary BINARY_8, 24 bytes (text); placeholder\n"), std::string::npos);  // key
    EXPECT_NE(r.decoded.find("        content: binary BINARY_8, 6 bytes, packed IPv4 address + port; placeholder\n"),
              std::string::npos);
    EXPECT_NE(r.decoded.find("        content: binary BINARY_8, 18 bytes, packed IPv6 address + port; placeholder\n"),
              std::string::npos);
    ASSERT_GE(r.attributes.size(), 12u);
    EXPECT_EQ(r.attributes[0].name, "from");
    EXPECT_EQ(r.attributes[7].name, "offer.call-id");
    EXPECT_EQ(r.attributes[7].value, "CALLID-0001-synthetic");
    EXPECT_EQ(r.attributes[7].note, "binary BINARY_8, 32 bytes (text); pseudonym");

    // No secret or identifier of the input survives anywhere in the export.
    std::string out = ex.yaml();
    ASSERT_TRUE(parse_yaml(out).ok);
    std::vector<std::pair<std::string, bool>> secrets;
    collect_secrets(top, secrets);
    EXPECT_GE(secrets.size(), 30u);
    for (const auto &s : secrets) expect_absent(out, s.first, s.second, "a value of the stanza");
    // The generator's values, spelled out (test-pcaps/gen: make_all.py ALICE/ALICE_PN, the relay).
    for (const char *s : {"203746519038214", "15550100001", "Alice", "003c9e1d4b7a2f6e80c5d19b3a7e4f21",
                          "3EB05271289A0E2F0EB3", "1700000000", "ap+f6YkxUiGD1NSVspyCug==",
                          "ZDJHK1hEelJ0cUZybUd4WUpMODAyV3lYemwwalo5anI3b3lua0VxdA==", "3c897f56d2f9a20d", "gru1c02",
                          "mia3c05", "for2c01", "203.0.113.10", "203.0.113.30", "203.0.113.20", "2001:db8:3::10",
                          "0105f709e0bb13", "\"US\"", "2016"})
        EXPECT_EQ(out.find(s), std::string::npos) << s;
    Bytes hbh = H("7761be5c3cd1b6a16b986c5824bf34d96c97ce5d2367d8ebee8ca7904aad");  // the decoded 30-byte hbh key
    expect_absent(out, std::string(hbh.begin(), hbh.end()), true, "hbh key");
    // Addresses in decimal: 203.0.113.10 as a 32-bit number, and the relay ports.
    EXPECT_EQ(out.find(std::to_string((203u << 24) | (0u << 16) | (113u << 8) | 10u)), std::string::npos);
    EXPECT_EQ(out.find("3478"), std::string::npos);
    EXPECT_EQ(out.find("3480"), std::string::npos);
}

TEST(Corpus, PseudonymsAreConsistentWithinOneExport) {
    Exporter ex;
    // The callee's JID comes first in document order, yet the caller (call-creator) is A.
    ex.add(decode_hex(kOfferOut), ctx(8));
    // The server's ack echoes the offer's stanza id.
    Node ack = N("ack", {{"class", "call"}, {"id", "3EB0DBF833C4479B0E85"}, {"from", "s.whatsapp.net"}, {"type", "offer"},
                         {"t", "1700000005"}});
    ex.add(ack, ctx(10, Direction::Incoming));
    // A later action of the same call from Bob's device 7, and a heartbeat addressed to {call-id}@call.
    ex.add(call_env({{"from", "98437165204871:7@lid"}, {"id", "X1"}, {"t", "1700000003"}},
                    N("terminate", {{"call-id", "6A1F0C2D9E8B7A65F4E3D2C1B0A99887"},
                                    {"call-creator", "203746519038214:0@lid"}, {"reason", "timeout"}})),
           ctx(12, Direction::Incoming));
    ex.add(call_env({{"to", "6A1F0C2D9E8B7A65F4E3D2C1B0A99887@call"}, {"id", "HB1"}},
                    N("heartbeat", {{"call-id", "6A1F0C2D9E8B7A65F4E3D2C1B0A99887"},
                                    {"call-creator", "203746519038214:0@lid"}})),
           ctx(13));
    // A second call by somebody else.
    ex.add(call_env({{"from", "555000111:0@lid"}, {"id", "Y1"}},
                    N("offer", {{"call-id", "SECONDCALL"}, {"call-creator", "555000111:0@lid"}})),
           ctx(20, Direction::Incoming));
    std::vector<corpus::Record> rs = ex.records();
    ASSERT_EQ(rs.size(), 5u);
    EXPECT_EQ(rs[1].raw_body,
              "<ack class=\"call\" id=\"STANZAID-0001-synthetic\" from=\"s.whatsapp.net\" type=\"offer\" t=\"T0+0\"/>\n");
    EXPECT_EQ(rs[1].title, "<ack> of offer, incoming (frame 10)");
    EXPECT_EQ(rs[2].raw_body,
              "<call from=\"B:7@lid\" id=\"STANZAID-0002-synthetic\" t=\"T0-2\">\n"
              "  <terminate call-id=\"CALLID-0001-synthetic\" call-creator=\"A:0@lid\" reason=\"timeout\"/>\n"
              "</call>\n");
    EXPECT_EQ(rs[3].raw_body,
              "<call to=\"CALLID-0001-synthetic@call\" id=\"STANZAID-0003-synthetic\">\n"
              "  <heartbeat call-id=\"CALLID-0001-synthetic\" call-creator=\"A:0@lid\"/>\n"
              "</call>\n");
    EXPECT_EQ(rs[4].raw_body,
              "<call from=\"C:0@lid\" id=\"STANZAID-0004-synthetic\">\n"
              "  <offer call-id=\"CALLID-0002-synthetic\" call-creator=\"C:0@lid\"/>\n"
              "</call>\n");
    EXPECT_EQ(rs[0].id, "wacall-0001-offer");
    EXPECT_EQ(rs[1].id, "wacall-0002-ack");
    EXPECT_EQ(rs[3].id, "wacall-0004-heartbeat");
}

TEST(Corpus, RecordsComeOutInFrameOrder) {
    Exporter ex;
    ex.add(call_env({{"id", "LATE"}}, N("terminate", {{"call-id", "C9"}})), ctx(50, Direction::Outgoing, 9.5));
    ex.add(call_env({{"id", "EARLY"}}, N("offer", {{"call-id", "C9"}})), ctx(5, Direction::Outgoing, 2.0));
    Context second = ctx(5, Direction::Outgoing, 2.0);
    second.index = 1;
    ex.add(call_env({{"id", "EARLY2"}}, N("transport", {{"call-id", "C9"}})), second);
    std::vector<corpus::Record> rs = ex.records();
    ASSERT_EQ(rs.size(), 3u);
    EXPECT_EQ(rs[0].id, "wacall-0001-offer");
    EXPECT_EQ(rs[1].id, "wacall-0002-transport");
    EXPECT_EQ(rs[2].id, "wacall-0003-terminate");
    EXPECT_NE(rs[1].notes.find("frame 5 (stanza 2 of the frame), 0.000 s after"), std::string::npos) << rs[1].notes;
    EXPECT_NE(rs[2].notes.find("7.500 s after the first exported stanza"), std::string::npos);
    // Pseudonyms were given in the order the stanzas were added (the plugin adds in frame order).
    EXPECT_NE(rs[2].raw_body.find("STANZAID-0001-synthetic"), std::string::npos);
}

TEST(Corpus, AllowListReplacesEverythingElse) {
    Exporter ex;
    Node te = N("te", {{"ip", "192.0.2.77"}, {"port", "3478"}, {"latency", "33554477"}, {"priority", "1"}});
    Node te6 = N("te", {{"ip", "2001:db8:1::5"}, {"port", "3480"}});
    Node odd = N("weird", {{"type", "Alice Smith"},        // not an enumeration word: replaced
                           {"count", "4915112345678"},    // a phone number in a numeric slot: replaced
                           {"platform", "x@y"},           // a JID in a word slot: a JID pseudonym
                           {"version", "2.24.2.76"},      // kept
                           {"foo", "bar"},                // unknown attribute: replaced
                           {"state", "on"}});             // kept
    Node bad_tag = N("has space", {{"bad\"name", "1"}});
    Node jids = N("user", {{"jid", "111.1:3@lid"}, {"group-jid", "120363041234567890@g.us"},
                           {"server", "example.com"}, {"other", "222@example.com"}});
    Node tok = NB("token", {{"id", "0"}}, H("aa01aa01"));
    Node big_id = NB("token", {{"id", "12345"}}, H("bb"));
    Node body = NB("body", {}, Bytes{'h', 'i', '!'});
    Node empty = NB("metadata", {{"note", ""}}, Bytes{});
    Node list = N("destination");
    list.has_children = true;  // an empty list
    Node top = call_env({{"to", "222@lid"}, {"id", "S1"}},
                        N("transport", {{"call-id", "C1"}, {"call-creator", "111:0@lid"}},
                          {te, te6, odd, bad_tag, jids, tok, big_id, body, empty, list}));
    const corpus::Record &r = ex.add(top, ctx(1));
    EXPECT_EQ(r.raw_body,
              "<call to=\"B@lid\" id=\"STANZAID-0001-synthetic\">\n"
              "  <transport call-id=\"CALLID-0001-synthetic\" call-creator=\"A:0@lid\">\n"
              "    <te ip=\"203.0.113.1\" port=\"PORTPLACEHOLDER1\" latency=\"33554477\" priority=\"1\"/>\n"
              "    <te ip=\"2001:db8::1\" port=\"PORTPLACEHOLDER2\"/>\n"
              "    <weird type=\"TYPEPLACEHOLDER1\" count=\"COUNTPLACEHOLDER1\" platform=\"C@SERVERPLACEHOLDER1\" "
              "version=\"2.24.2.76\" foo=\"FOOPLACEHOLDER1\" state=\"on\"/>\n"
              "    <TAGPLACEHOLDER1 ATTRPLACEHOLDER1=\"VALUEPLACEHOLDER1\"/>\n"
              "    <user jid=\"A.1:3@lid\" group-jid=\"GROUPPLACEHOLDER1@g.us\" server=\"SERVERPLACEHOLDER2\" "
              "other=\"B@SERVERPLACEHOLDER2\"/>\n"
              "    <token id=\"0\">RELAYTOKENPLACEHOLDER1</token>\n"
              "    <token id=\"STANZAID-0002-synthetic\">RELAYTOKENPLACEHOLDER2</token>\n"
              "    <body>BODYPLACEHOLDER1</body>\n"
              "    <metadata note=\"\"></metadata>\n"
              "    <destination></destination>\n"
              "  </transport>\n"
              "</call>\n");
    std::string out = ex.yaml();
    for (const char *s : {"192.0.2.77", "2001:db8:1::5", "Alice Smith", "4915112345678", "example.com", "120363041234567890",
                          "aa01aa01", "hi!", "has space", "bad\"name", "111.1", "222"})
        EXPECT_EQ(out.find(s), std::string::npos) << s;
    EXPECT_EQ(out.find(std::to_string((192u << 24) | (2u << 8) | 77u)), std::string::npos);
}

TEST(Corpus, HostileTextStillGivesValidYaml) {
    Exporter ex;
    // Names and values full of YAML and XML syntax, control characters and non-ASCII.
    Node n = N("call", {{"to", "x\n- y: [z] # c"}, {"type", "'\"\\\t"}, {"name", "\xc3\xa9\x01\xe2\x80\xa8"}},
               {NB("enc", {{": key", "&anchor *alias !tag"}}, Bytes{0, 1, 2, 0xff}), N("---"), N("...")});
    ex.add(n, ctx(1));
    ex.add(N("ack", {{"class", "call"}, {"id", "%YAML 1.2"}}), ctx(2));
    std::string out = ex.yaml();
    Parsed p = parse_yaml(out);
    ASSERT_TRUE(p.ok) << p.error << "\n" << out;
    EXPECT_EQ(p.documents, 2);
    for (const auto &s : p.scalars) {
        EXPECT_EQ(s.find("# c"), std::string::npos);
        EXPECT_EQ(s.find("anchor"), std::string::npos);
    }
    EXPECT_EQ(out.find("\xc3\xa9"), std::string::npos);
}

TEST(Corpus, EmptyExportExplainsWhy) {
    Exporter ex;
    std::string out = ex.yaml();
    Parsed p = parse_yaml(out);
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(p.documents, 0);
    EXPECT_EQ(out.rfind("# wacall corpus export: 0 ", 0), 0u) << out;
    EXPECT_NE(out.find("No call stanza was decrypted"), std::string::npos);
    EXPECT_NE(out.find("wacall.keylog_file"), std::string::npos);
}

TEST(Corpus, DirectionIsInferredOnlyWhenUnknown) {
    Exporter ex;
    Context c = ctx(1, Direction::Unknown);
    const corpus::Record &in = ex.add(N("call", {{"from", "1@lid"}}, {N("accept", {{"call-id", "Q"}})}), c);
    EXPECT_EQ(in.direction, "incoming");
    EXPECT_TRUE(in.direction_inferred);
    const corpus::Record &out = ex.add(N("call", {{"to", "1@lid"}}, {N("accept", {{"call-id", "Q"}})}), c);
    EXPECT_EQ(out.direction, "outgoing");
    EXPECT_NE(ex.records()[1].notes.find("Direction guessed from the envelope"), std::string::npos);
    EXPECT_EQ(corpus::infer_direction(N("ack", {{"from", "s.whatsapp.net"}})), Direction::Incoming);
    EXPECT_EQ(corpus::infer_direction(N("receipt", {{"to", "1@lid"}})), Direction::Outgoing);
}
