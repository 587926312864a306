// The relay's STUN dialect (reference digest §4.3, spec digest §4.2): header and attribute TLV
// parsing, attribute value decoders, MESSAGE-INTEGRITY / FINGERPRINT computation, and the
// protobuf-valued WhatsApp attributes (0x4021/0x4024/0x4025). Every offset is relative to the
// start of the STUN message. Nothing here throws or reads past the given bytes.
#pragma once

#include "common/bytes.h"
#include "common/protowire.h"

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wacall::media {

constexpr uint32_t kStunMagic = 0x2112A442;
constexpr uint32_t kStunFingerprintXor = 0x5354554E;

// Attribute types named by the digests.
enum StunAttrType : uint16_t {
    kAttrMappedAddress = 0x0001,
    kAttrMessageIntegrity = 0x0008,
    kAttrErrorCode = 0x0009,
    kAttrWasmRelayEndpoint = 0x0016,
    kAttrXorMappedAddress = 0x0020,
    kAttrWaToken = 0x0022,  // RFC 5766 RESERVATION-TOKEN's number; WhatsApp sends 14-16 bytes starting 0x03
    kAttrRelayToken = 0x4000,
    kAttrRelayToken2 = 0x4001,
    kAttrRelayTime = 0x4002,  // 8 bytes: Unix-epoch milliseconds
    kAttrWa4003 = 0x4003,
    kAttrZeroPadding = 0x4004,
    kAttrWa4007 = 0x4007,
    kAttrReceiverSubscriptions = 0x4021,
    kAttrNativeSenderSub = 0x4023,
    kAttrStreamDescriptors = 0x4024,
    kAttrSenderSubscriptions = 0x4025,
    kAttrParticipantCount = 0x805A,
    kAttrFingerprint = 0x8028,
};

struct StunAttr {
    uint16_t type = 0;
    uint16_t length = 0;      // value length as written (without padding)
    size_t offset = 0;        // of the 4-byte TLV header
    size_t value_offset = 0;  // offset + 4
    size_t padded_length = 0; // value length rounded up to 4 (what the TLV occupies after its header)
    ByteView value;
};

// How the attributes of a message are laid out. RFC 5389 pads every value to 4 bytes (2023
// clients do); WhatsApp clients up to 2020 write the TLVs back to back, so the body length need
// not be a multiple of 4. Opaque: the body is not a TLV list in either layout (seen only on
// WhatsApp's own message types, e.g. 0x802b).
enum class StunLayout : uint8_t { Padded = 0, Unpadded = 1, Opaque = 2, Broken = 3 };
const char *stun_layout_name(StunLayout l);

// WhatsApp's own message types (the 0x08xx family and 0x802b): the only ones that may come
// without the magic cookie (then RFC 3489's 16-byte transaction id) or, for 0x802b, with the top
// two bits set.
bool stun_is_wa_type(uint16_t type);

// The class of a message type: its C1/C0 bits, 0x0110 (RFC 5389 §6).
enum class StunClass : uint8_t { Request, Indication, SuccessResponse, ErrorResponse };
StunClass stun_class(uint16_t type);
const char *stun_class_name(StunClass c);
// A message that answers an earlier one with the same transaction id: a success or error
// response, or WhatsApp's pong 0x0802 (to ping 0x0801) and 0x0805, which are request-class types.
bool stun_is_response(uint16_t type);
// An attribute type in WhatsApp's 0x40xx block (relay token, stream descriptors, subscriptions;
// IANA has assigned nothing there).
inline bool stun_is_wa_attr(uint16_t type) { return (type & 0xFF00) == 0x4000; }
// WhatsApp-only marks in a STUN message with the magic cookie: a 0x08xx type (the ping family, a
// STUN method no registered protocol uses) or a 0x40xx attribute, also one whose value overruns
// the message. Attributes other apps send (ICE, TURN, the 0x8000/0xC000 vendor ranges, 0x805A
// included) are no evidence.
bool stun_has_wa_marks(ByteView msg);

// The attribute TLV at `pos` of msg; nullopt when its header or value does not fit before body_end.
std::optional<StunAttr> stun_attr_at(ByteView msg, size_t pos, size_t body_end);
// True when the TLVs from offset 20 end exactly at body_end in the given layout.
bool stun_walk_fits(ByteView msg, size_t body_end, bool padded);

struct StunWalk {
    StunLayout layout = StunLayout::Padded;
    size_t end = 20;  // where the walk stopped
};

// The one attribute walker: padded first; when that walk does not end exactly at body_end,
// unpadded; when neither does, the padded walk as far as it goes (layout Broken). f(const
// StunAttr &) is called for each attribute of the layout chosen and may return false to stop.
template <class F>
StunWalk stun_for_each_attribute(ByteView msg, size_t body_end, F &&f) {
    StunWalk w;
    if (body_end > msg.size) body_end = msg.size;
    bool padded = true;
    if (!stun_walk_fits(msg, body_end, true)) {
        padded = !stun_walk_fits(msg, body_end, false);
        w.layout = padded ? StunLayout::Broken : StunLayout::Unpadded;
    }
    size_t pos = 20;
    while (pos < body_end) {
        std::optional<StunAttr> attr = stun_attr_at(msg, pos, body_end);
        if (!attr) break;
        const StunAttr &a = *attr;
        if (!f(a)) break;
        size_t step = 4 + (padded ? a.padded_length : a.length);
        if (step > body_end - pos) {  // a last attribute without its padding (Broken only)
            pos = body_end;
            break;
        }
        pos += step;
    }
    w.end = pos;
    return w;
}
// Same over a whole message: the body its header announces, clamped to the bytes there are.
template <class F>
StunWalk stun_for_each_attribute(ByteView msg, F &&f) {
    size_t end = msg.size >= 20 ? 20 + size_t(be16(msg.data + 2)) : 0;
    return stun_for_each_attribute(msg, end, std::forward<F>(f));
}

struct StunMessage {
    uint16_t type = 0;
    uint16_t length = 0;  // body length from the header
    bool length_unaligned = false;  // length % 4 != 0 (RFC 5389 says 4-aligned; real relays differ)
    uint32_t magic = 0;
    bool has_cookie = true;  // false: a cookieless WhatsApp message, txid is 16 bytes (RFC 3489)
    ByteView txid;        // 12 bytes (16 without the cookie)
    StunLayout layout = StunLayout::Padded;
    ByteView trailing;    // bytes after the declared length (WhatsApp pings carry some)
    std::vector<StunAttr> attrs;
    // Non-fatal problems (the header parsed but the body is odd); empty when clean.
    std::string warning;
};

// Why a header is unusable (Ok: it is usable; the body may still carry a warning).
enum class StunStatus : uint8_t { Ok, Short, TopBitsSet, BadMagic };
const char *stun_status_name(StunStatus s);  // "bad STUN magic cookie", ...

// Parses header and attributes. Not Ok when even the header is unusable (short, top bits set, bad
// magic on a non-WhatsApp type); out keeps the header fields read so far. A body that is
// truncated or has a bad TLV in both layouts keeps the attributes the padded walk read and sets
// out.warning, except on WhatsApp's own types, whose body is then Opaque; the status is still Ok.
StunStatus parse_stun(ByteView msg, StunMessage &out);

// "Allocate Request", "WhatsApp ping", "unknown WhatsApp 0x0805", or "unknown 0x1234".
std::string stun_type_name(uint16_t type);
// "MESSAGE-INTEGRITY", "relay token", ... or "unknown".
const char *stun_attr_name(uint16_t type);

struct SockAddr {
    uint8_t family = 0;  // 4 or 6
    uint8_t addr[16] = {};
    uint16_t port = 0;
    std::string to_string() const;  // "1.2.3.4:3478" or "[v6]:port"
};

// The value decoders below return nullopt when the value does not have the expected shape.
// MAPPED-ADDRESS (RFC 5389 §15.1).
std::optional<SockAddr> decode_mapped_address(ByteView value);
// XOR-MAPPED-ADDRESS; txid (12 bytes) is needed for IPv6.
std::optional<SockAddr> decode_xor_mapped_address(ByteView value, ByteView txid);
// 0x0016 WASM relay endpoint: 00 01 | port ^ 0x2112 | IPv4 ^ 21 12 A4 42 (00 02 | port | IPv6 ^
// cookie ‖ txid, as XOR-MAPPED-ADDRESS, when the txid is given).
std::optional<SockAddr> decode_wasm_relay_endpoint(ByteView value, ByteView txid = {});

// WhatsApp's 0x0022 (not RFC 5766 RESERVATION-TOKEN, which is 8 bytes): 14-16 bytes, a 0x03 kind
// byte, then a 32-bit SSRC (in the attribute for the sender's audio stream, the SSRC its RTP
// uses), then bytes of unknown meaning.
struct WaToken {
    uint8_t kind = 0;
    uint32_t ssrc = 0;
    ByteView rest;
    size_t rest_offset = 0;  // within the value
};
std::optional<WaToken> decode_wa_token(ByteView value);
// 0x4002: big-endian Unix-epoch milliseconds.
std::optional<uint64_t> decode_relay_time(ByteView value);
// 0x4004: true when every byte is zero.
bool is_zero_padding(ByteView value);

struct StunErrorCode {
    uint16_t code = 0;  // class * 100 + number
    std::string reason;
};
std::optional<StunErrorCode> decode_error_code(ByteView value);

// 0x805A: a single protobuf-style varint filling the value.
std::optional<uint64_t> decode_participant_count(ByteView value);
// 0x4023: 01 + SSRC u32 BE.
std::optional<uint32_t> decode_native_sender_sub(ByteView value);

// HMAC-SHA1 the relay computes for the MESSAGE-INTEGRITY attribute whose TLV header starts at
// attr_offset: key = the relay <key> ASCII text; input = 20-byte header with length set to
// (attr_offset - 20) + 24, followed by the attributes before the MI. nullopt if attr_offset is
// outside the message.
std::optional<std::array<uint8_t, 20>> compute_message_integrity(ByteView msg, size_t attr_offset, ByteView key);
// CRC-32 (zlib) over the header with length (attr_offset - 20) + 8 and the attributes before the
// FINGERPRINT, XOR 0x5354554E. nullopt if attr_offset is outside the message.
std::optional<uint32_t> compute_fingerprint(ByteView msg, size_t attr_offset);

enum class StunCheck { Good, Bad, Malformed };
StunCheck verify_message_integrity(ByteView msg, const StunAttr &mi, ByteView key);
StunCheck verify_fingerprint(ByteView msg, const StunAttr &fp);

// One 0x4024 stream descriptor. WASM shape: {1: stream_index, 2: sub_type, 3: ssrc varint}.
// Android shape: {1: "audio", 2: "OPUS", 3: sint64 ssrc, 4: bool} (name/codec set, index unset).
struct StreamDescriptor {
    uint32_t stream_index = 0;
    uint32_t sub_type = 0;
    std::optional<uint32_t> ssrc;  // nullopt: the entry names no SSRC (field 3 absent)
    bool android = false;
    std::string stream_name;  // Android only
    std::string codec;        // Android only
    size_t offset = 0;        // of the entry's key within the attribute value
};
// How a protobuf-valued attribute decoded.
enum class ProtoStatus {
    Ok,
    Empty,       // no entry at all
    WrongShape,  // well-formed protobuf, but a field number or wire type the schema does not have
    Malformed,   // the protobuf wire format itself is broken (truncated varint or length)
};
const char *proto_status_name(ProtoStatus s);
// The descriptors decoded before any failure are kept: a dissector shows them either way.
struct StreamDescriptors {
    std::vector<StreamDescriptor> items;
    ProtoStatus status = ProtoStatus::Empty;
    bool ok() const { return status == ProtoStatus::Ok; }
};
StreamDescriptors decode_stream_descriptors(ByteView value);
// "audio", "video0", "video1", "HBH-FEC 3", ... for the WASM stream index; sub_type names likewise.
const char *stream_index_name(uint32_t idx);
const char *stream_subtype_name(uint32_t sub);

// 0x4025 sender subscriptions (and the Android / WASM voip.SenderSubscriptions shapes).
struct SubscriptionEntry {
    std::vector<uint32_t> ssrcs;
    std::vector<int64_t> pids;
    std::string media;   // Android pid entry's media string ("audio")
    size_t offset = 0;   // of the entry within the value
};
struct SenderSubscriptions {
    enum Shape { GroupV2, Android, Wasm } shape = GroupV2;
    std::vector<SubscriptionEntry> entries;
};
const char *subscription_shape_name(SenderSubscriptions::Shape s);
// nullopt when the value is not one of the known shapes (show a generic protobuf tree instead).
std::optional<SenderSubscriptions> decode_sender_subscriptions(ByteView value);
// 0x4021: repeated field 2 { 1: pid }; nullopt unless every entry has a pid.
std::optional<std::vector<int64_t>> decode_receiver_subscriptions(ByteView value);

// Generic protobuf view for unknown schemas. A length-delimited field whose payload parses as a
// message (protowire::looks_like_message) gets children; otherwise it is bytes (printable marks a
// UTF-8-ish text).
struct ProtoNode {
    uint32_t number = 0;
    protowire::WireType type = protowire::Varint;
    uint64_t varint = 0;
    ByteView bytes;
    size_t offset = 0;        // of the key, relative to the buffer given at the top level
    size_t length = 0;        // key + value
    size_t value_offset = 0;  // of the payload (length-delimited) or the value
    bool printable = false;
    std::vector<ProtoNode> children;
};
// nullopt when the top level is not a well-formed message (nested values that are not messages
// are plain bytes, not a failure).
std::optional<std::vector<ProtoNode>> protobuf_tree(ByteView msg, int max_depth = 8);

}  // namespace wacall::media
