// The call-stanza model: classifies a decoded WABinary top-level node (<call>, <ack>, <receipt>)
// and extracts everything the wacall dissector shows and the media plane needs.
//
// Sources: reference-digest-whatsapp-rust.md §3 (whatsapp-rust, "reference") and
// spec-digest-wacrg.md §1/§4.1 ("spec", with its P/S grades). Where they disagree (S1–S22) both
// readings are decoded and the result says which one applied.
//
// Node/Attribute pointers point into the tree passed to parse_stanza(): they are valid only while
// that tree lives, and let the dissector highlight the bytes (Value::offset/length). Everything
// else is owned by the result. Every value read from an attribute comes with the attribute it was
// read from (the `at` member of each struct, null when absent), so the dissector renders from the
// result without naming an attribute again: each attribute name lives here only.
#pragma once

#include "common/bytes.h"
#include "wabinary/node.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wacall::call {

using wabinary::Attribute;
using wabinary::Node;

// How well a value is known.
enum class Grade : uint8_t {
    None,            // nothing to grade (value absent)
    Reference,       // whatsapp-rust (reference digest)
    SpecNormative,   // normative spec page (SIG-xx)
    SpecProbable,    // spec stanza model, grade P
    SpecSpeculative, // spec stanza model, grade S
    Inferred,        // our own reading
    Unlisted,        // in neither source
};
const char *grade_name(Grade g);

enum class StanzaKind : uint8_t { NotCall, Call, Ack, Receipt };
const char *stanza_kind_name(StanzaKind k);

enum class Action : uint8_t {
    None,  // no action child at all
    Offer, OfferNotice, Preaccept, Accept, Reject, Terminate, Transport, RelayLatency, Heartbeat,
    MuteV2, Mute, Video, EncRekey, GroupUpdate, GroupInfo, UserAction, ScreenShare,
    WaitingRoomUpdate, WaitingRoomToggle, WaitingRoomAdmit, WaitingRoomDeny, Link,  // link_*
    Unknown,  // first child, tag not a known action (shown, never an error)
};
// The canonical tag of a known action ("offer", ...); "unknown"/"none" otherwise.
const char *action_name(Action a);
Action action_from_tag(std::string_view tag);

// Text of an attribute pointer, or "" when absent (a view into the tree).
std::string_view attr_text(const Attribute *a);
// Node content as bytes: Binary payload, else the textual form (token, packed, JID).
ByteView content_bytes(const Node &n);
std::string content_text(const Node &n);
// Strict decimal u32 (digits only, no sign, no overflow); nullopt otherwise.
std::optional<uint32_t> parse_u32(std::string_view s);
// Strict base64 (standard alphabet; missing padding accepted) via GLib; nullopt on bad input.
std::optional<Bytes> base64_decode(ByteView text);

// ---- envelope -----------------------------------------------------------------------------------

struct Envelope {
    const Attribute *from = nullptr, *to = nullptr, *id = nullptr, *t = nullptr, *notify = nullptr,
                    *platform = nullptr, *version = nullptr, *e = nullptr, *offline = nullptr,
                    *participant = nullptr, *recipient = nullptr;
};

// ---- endpoints: <te>, <te2>, spec-model <endpoint> ------------------------------------------------

enum class AddrFamily : uint8_t { None, IPv4, IPv6 };

struct Endpoint {
    const Node *node = nullptr;
    std::string tag;            // "te", "te2" or "endpoint"
    bool in_destination = false;  // a spec-model candidate inside <destination> (S2)
    ByteView raw;               // the packed content
    AddrFamily family = AddrFamily::None;  // None: content not 6/18 bytes and no ip attribute
    bool from_attributes = false;  // address came from spec-model ip/port attributes (S3)
    uint8_t addr[16] = {};
    uint16_t port = 0;
    std::string address_text() const;  // "1.2.3.4" / "2001:db8::1" ("" when none)
    std::string endpoint_text() const; // "1.2.3.4:3478" / "[2001:db8::1]:3478"

    // Numeric attributes: nullopt when absent or not a decimal u32 (a note says which).
    std::optional<uint32_t> priority;
    // latency: reference/SIG-15 send 0x02000000 + rtt_ms. rtt_ms only when offset-encoded;
    // otherwise latency_offset_encoded is false (the spec model's plain-ms reading, S11).
    std::optional<uint32_t> latency_raw, rtt_ms;
    bool latency_offset_encoded = false;
    std::string relay_name;
    std::optional<uint32_t> relay_id, token_id, auth_token_id, c2r_rtt, protocol;
    bool is_fna = false;
    std::string domain_name;  // group variant
    struct {
        const Attribute *priority = nullptr, *latency = nullptr, *relay_name = nullptr, *relay_id = nullptr,
                        *token_id = nullptr, *auth_token_id = nullptr, *c2r_rtt = nullptr, *protocol = nullptr,
                        *is_fna = nullptr;
    } at;
};

// ---- children of offer/preaccept/accept ---------------------------------------------------------

struct KnownBlob {
    const char *hex;
    const char *name;
    Grade source;
};

struct Capability {
    const Node *node = nullptr;
    uint32_t ver = 1;
    bool ver_defaulted = true;  // `ver` absent: defaults to 1 (reference)
    bool ver_valid = true;
    ByteView bytes;
    const char *blob_name = "unknown";  // a known blob from either digest, else "unknown"
    Grade blob_source = Grade::Unlisted;
    // Inferred layout: version byte, length byte, then an LSB-first bitmap (header: nullopt when
    // the content is shorter than 2 bytes).
    struct Header {
        uint8_t version_byte = 0, length_byte = 0;
    };
    std::optional<Header> header;
    std::vector<uint16_t> set_bits;  // bit n = byte (2 + n/8), bit (n%8)
    struct {
        const Attribute *ver = nullptr;
    } at;
};

struct Audio {
    const Node *node = nullptr;
    std::string enc;
    std::optional<uint32_t> rate;
    struct {
        const Attribute *enc = nullptr, *rate = nullptr;
    } at;
};

struct Net {
    const Node *node = nullptr;
    std::optional<uint32_t> medium;
    const char *medium_name = "absent";  // 3 "offer default", 2 "accept/transport relay medium", else "unknown"
    std::optional<uint32_t> protocol;
    struct {
        const Attribute *medium = nullptr, *protocol = nullptr;
    } at;
};

struct Enc {
    const Node *node = nullptr;
    std::string type;  // "pkmsg" / "msg" / other as sent
    bool type_defaulted = false;  // absent: pkmsg (reference default; the spec makes it required)
    bool type_known = true;
    uint32_t v = 2;
    bool v_defaulted = false;
    std::optional<uint32_t> count;
    const Node *to_node = nullptr;  // <destination><to jid> fan-out wrapper, if any
    std::string target_jid;         // that jid (as sent); "" for a bare <enc>
    ByteView ciphertext;
    struct {
        const Attribute *type = nullptr, *v = nullptr, *count = nullptr;
        const Attribute *jid = nullptr;  // of to_node
    } at;
};

// A <to jid> inside <destination> (fan-out, or relaylatency/terminate targets).
struct Target {
    const Node *node = nullptr;
    std::string jid;         // as sent
    std::string participant; // normalised
    struct {
        const Attribute *jid = nullptr;
    } at;
};

// ---- the <relay> block --------------------------------------------------------------------------

struct RelayToken {
    const Node *node = nullptr;
    uint32_t id = 0;
    bool id_positional = false;  // no id attribute: next free slot
    bool ignored = false;        // id >= 64 (reference ignores it) or unparsable id
    bool duplicate = false;      // a second element for a slot already filled
    ByteView data;
};

enum class HbhEncoding : uint8_t { Absent, Plain, Double, Invalid };
const char *hbh_encoding_name(HbhEncoding h);

struct RelayBlock {
    const Node *node = nullptr;
    std::string uuid, participant_uuid;
    std::optional<uint32_t> self_pid, peer_pid, transaction_id;

    const Node *key_node = nullptr;
    std::string key_text;      // ASCII of <key>: the STUN MESSAGE-INTEGRITY key
    Bytes key_decoded;         // its base64 decoding
    bool key_decoded_ok = false;  // decoded to exactly 16 bytes

    const Node *hbh_node = nullptr;
    HbhEncoding hbh_encoding = HbhEncoding::Absent;
    Bytes hbh_key;  // 30 bytes when Plain/Double (14-byte salt seed ‖ 16-byte key seed, reference)

    // warp_mi_tag_len: child text or attribute (group variant).
    const Node *tag_len_node = nullptr;
    const Attribute *tag_len_attr = nullptr;
    bool tag_len_present = false, tag_len_valid = false;
    uint32_t tag_len_raw = 0;
    uint32_t warp_mi_tag_len = 4;  // effective: the value when valid (1..20), else 4

    std::vector<RelayToken> tokens, auth_tokens;
    std::vector<Endpoint> te2;

    const Node *raw_e2e_node = nullptr;
    Bytes raw_e2e;
    bool raw_e2e_ok = false;  // base64 decoding gave >= 32 bytes

    // The spec model's relaylatency <relay ip token latency jitter> entries share the tag (S11).
    bool model_latency_entry = false;
    struct {
        const Attribute *uuid = nullptr, *self_pid = nullptr, *peer_pid = nullptr, *transaction_id = nullptr;
    } at;
};

// ---- group ----------------------------------------------------------------------------------------

struct GroupDevice {
    const Node *node = nullptr;
    std::string jid, participant, platform;
    std::optional<uint32_t> pid;
    struct {
        const Attribute *jid = nullptr;
    } at;
};

struct GroupUser {
    const Node *node = nullptr;
    std::string jid, user_pn, state, type;
    std::vector<GroupDevice> devices;
    struct {
        const Attribute *jid = nullptr;
    } at;
};

struct GroupInfo {
    const Node *node = nullptr;
    std::optional<uint32_t> transaction_id;
    std::string media, group_jid, call_id, call_creator;
    std::optional<uint32_t> connected_limit;
    bool joinable = false, rekey = false;
    std::vector<GroupUser> users;
};

// ---- ack / receipt --------------------------------------------------------------------------------

struct AckInfo {
    const Attribute *cls = nullptr, *type = nullptr, *id = nullptr, *from = nullptr, *to = nullptr,
                    *t = nullptr, *error_attr = nullptr;
    const Node *error_node = nullptr;
    std::optional<uint32_t> error_code;
    std::string error_text;
};

// ---- the stanza -------------------------------------------------------------------------------------

struct CallStanza {
    StanzaKind kind = StanzaKind::NotCall;
    const Node *top = nullptr;
    Envelope env;
    std::string stanza_id;  // the envelope id ("" when absent)

    // Action (Call); for a Receipt this is the inner <offer>.
    const Node *action_node = nullptr;
    Action action = Action::None;
    std::string action_tag;  // the tag as sent (for unknown actions too)

    const Attribute *call_id_attr = nullptr, *call_creator_attr = nullptr;
    std::string call_id, call_creator;
    std::string call_creator_participant;  // normalised

    // Children of offer / preaccept / accept / transport / relaylatency.
    std::vector<Audio> audio;
    const Node *video_node = nullptr;  // <video> child: a video call (SIG-02)
    std::optional<Net> net;
    std::optional<Capability> capability;
    const Node *encopt_node = nullptr;
    std::optional<uint32_t> keygen;
    const Node *privacy_node = nullptr, *device_identity_node = nullptr, *rte_node = nullptr,
               *voip_settings_node = nullptr, *metadata_node = nullptr;
    std::vector<Enc> encs;
    const Node *destination_node = nullptr;
    bool destination_fanout = false;     // <to> children (reference / SIG-01)
    bool destination_candidates = false; // <te>/<endpoint> children (spec model, S2)
    std::vector<Target> targets;
    std::vector<Endpoint> endpoints;  // <te> of the action and <destination> candidates

    // Offer attributes.
    std::string caller_pn, caller_country_code, device_class, group_jid;
    bool joinable = false;

    // offer_notice.
    std::string notice_media, notice_type;

    // reject / terminate.
    const Attribute *reason_attr = nullptr;
    std::string reason;
    Grade reason_grade = Grade::None;
    const char *reason_meaning = "";
    bool reason_nonnormative = false;  // a reason on <reject>: SIG-08 has none (S4)
    std::optional<uint32_t> duration, audio_duration;  // nullopt: not reported (not 0)

    // transport.
    std::optional<uint32_t> p2p_cand_round, transport_type, transport_ver;
    const char *transport_type_name = "absent";

    // video action.
    std::optional<uint32_t> video_state;
    const char *video_state_name = "";
    std::string video_state_text;  // as sent (the spec model uses "on"/"off", S9)
    std::string video_dec, video_voip_settings, video_device_orientation;

    // mute_v2 / mute (model).
    std::string mute_state, mute_media, mute_value;

    // enc_rekey / group.
    std::optional<uint32_t> transaction_id;
    std::optional<GroupInfo> group_info;
    std::string user_action, screenshare_state;

    // Ack.
    AckInfo ack;

    // Every <relay> block in the subtree, depth-first.
    std::vector<RelayBlock> relays;

    // Problems worth an expert item (missing call-id, bad numbers, ...).
    std::vector<std::string> notes;

    // Where the action attributes above came from (null when absent).
    struct {
        const Attribute *keygen = nullptr;  // of encopt_node
        const Attribute *duration = nullptr, *audio_duration = nullptr, *transport_type = nullptr,
                        *p2p_cand_round = nullptr, *video_state = nullptr, *mute_state = nullptr,
                        *transaction_id = nullptr, *notice_media = nullptr;
    } at;

    bool is_call_related() const { return kind != StanzaKind::NotCall; }
};

// Classifies and decodes a top-level node. Never fails: anything not call-related comes back
// with kind NotCall.
CallStanza parse_stanza(const Node &top);

// Value-set names.
const char *transport_type_name(uint32_t t);
const char *video_state_name(uint32_t s);
const char *net_medium_name(uint32_t m);
// Terminate/reject reason grade and a short meaning; Grade::Unlisted for anything else.
Grade reason_grade(const std::string &reason, const char **meaning);
// Capability blob table (both digests).
const std::vector<KnownBlob> &known_capability_blobs();

}  // namespace wacall::call
