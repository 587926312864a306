#include "media/stun.h"

#include "crypto/crypto.h"
#include "media/util.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace wacall::media {

const char *stun_layout_name(StunLayout l) {
    switch (l) {
    case StunLayout::Padded: return "padded";
    case StunLayout::Unpadded: return "unpadded";
    case StunLayout::Opaque: return "opaque";
    case StunLayout::Broken: return "broken";
    }
    return "?";
}

bool stun_is_wa_type(uint16_t type) { return (type & 0xFF00) == 0x0800 || type == 0x802B; }

StunClass stun_class(uint16_t type) {
    switch (type & 0x0110) {
    case 0x0000: return StunClass::Request;
    case 0x0010: return StunClass::Indication;
    case 0x0100: return StunClass::SuccessResponse;
    default: return StunClass::ErrorResponse;
    }
}

const char *stun_class_name(StunClass c) {
    switch (c) {
    case StunClass::Request: return "request";
    case StunClass::Indication: return "indication";
    case StunClass::SuccessResponse: return "success response";
    case StunClass::ErrorResponse: return "error response";
    }
    return "request";
}

bool stun_is_response(uint16_t type) {
    StunClass c = stun_class(type);
    return c == StunClass::SuccessResponse || c == StunClass::ErrorResponse || type == 0x0802 || type == 0x0805;
}

bool stun_has_wa_marks(ByteView b) {
    if (b.size < 20 || be32(b.data + 4) != kStunMagic) return false;
    if ((be16(b.data) & 0xFF00) == 0x0800) return true;
    bool wa = false;  // the same walk as the dissector's: padded, else unpadded (pre-2021 clients)
    StunWalk w = stun_for_each_attribute(b, [&](const StunAttr &a) { return !(wa = stun_is_wa_attr(a.type)); });
    // A 0x40xx TLV whose value overruns the message is WhatsApp's too (wastun shows it malformed).
    size_t end = std::min<size_t>(b.size, 20 + be16(b.data + 2));
    if (!wa && w.end + 4 <= end) wa = stun_is_wa_attr(be16(b.data + w.end));
    return wa;
}

std::optional<StunAttr> stun_attr_at(ByteView msg, size_t pos, size_t body_end) {
    if (body_end > msg.size || pos > body_end || body_end - pos < 4) return std::nullopt;
    StunAttr a;
    a.type = be16(msg.data + pos);
    a.length = be16(msg.data + pos + 2);
    a.offset = pos;
    a.value_offset = pos + 4;
    a.padded_length = (size_t(a.length) + 3) & ~size_t(3);
    if (a.length > body_end - a.value_offset) return std::nullopt;
    a.value = msg.sub(a.value_offset, a.length);
    return a;
}

bool stun_walk_fits(ByteView msg, size_t body_end, bool padded) {
    if (body_end > msg.size || body_end < 20) return false;
    size_t pos = 20;
    while (pos < body_end) {
        std::optional<StunAttr> a = stun_attr_at(msg, pos, body_end);
        if (!a) return false;
        size_t step = 4 + (padded ? a->padded_length : a->length);
        if (step > body_end - pos) return false;
        pos += step;
    }
    return pos == body_end;
}

const char *stun_status_name(StunStatus s) {
    switch (s) {
    case StunStatus::Ok: return "ok";
    case StunStatus::Short: return "STUN message shorter than its 20-byte header";
    case StunStatus::TopBitsSet: return "top two bits of a STUN type must be zero";
    case StunStatus::BadMagic: return "bad STUN magic cookie";
    }
    return "ok";
}

StunStatus parse_stun(ByteView msg, StunMessage &out) {
    out = StunMessage{};
    if (msg.size < 20) return StunStatus::Short;
    out.type = be16(msg.data);
    const bool wa = stun_is_wa_type(out.type);
    if ((msg[0] & 0xC0) != 0 && out.type != 0x802B) return StunStatus::TopBitsSet;
    out.length = be16(msg.data + 2);
    out.magic = be32(msg.data + 4);
    out.txid = msg.sub(8, 12);
    if (out.magic != kStunMagic) {
        // WhatsApp's pings also come in RFC 3489's shape: no cookie, a 16-byte transaction id.
        if (!wa) return StunStatus::BadMagic;
        out.has_cookie = false;
        out.txid = msg.sub(4, 16);
    }

    // Walk only the body the header announces, clamped to what was captured; what follows the
    // declared length is trailing data (WhatsApp pings), not part of the message.
    size_t body_end = 20 + size_t(out.length);
    if (body_end > msg.size) {
        out.warning = "STUN length exceeds the available bytes";
        body_end = msg.size;
    } else if (body_end < msg.size) {
        out.trailing = msg.sub(body_end);
    }
    out.length_unaligned = out.length % 4 != 0;
    StunWalk w = stun_for_each_attribute(msg, body_end, [&](const StunAttr &a) {
        out.attrs.push_back(a);
        return true;
    });
    out.layout = w.layout;
    if (w.layout == StunLayout::Broken) {
        if (wa && out.warning.empty()) {
            // Not a TLV list in either layout: WhatsApp's own types carry such bodies.
            out.layout = StunLayout::Opaque;
            out.attrs.clear();
        } else if (out.warning.empty()) {
            out.warning = w.end < body_end ? "attribute value runs past the message" : "last attribute lacks its padding";
        }
    }
    return StunStatus::Ok;
}

std::optional<WaToken> decode_wa_token(ByteView value) {
    if (value.size < 14 || value.size > 16 || value[0] != 0x03) return std::nullopt;
    WaToken out;
    out.kind = value[0];
    out.ssrc = be32(value.data + 1);
    out.rest_offset = 5;
    out.rest = value.sub(5);
    return out;
}

std::optional<uint64_t> decode_relay_time(ByteView value) {
    if (value.size != 8) return std::nullopt;
    return uint64_t(be32(value.data)) << 32 | be32(value.data + 4);
}

bool is_zero_padding(ByteView value) {
    for (size_t i = 0; i < value.size; i++)
        if (value[i]) return false;
    return true;
}

std::string stun_type_name(uint16_t type) {
    switch (type) {
    case 0x0001: return "Binding Request";
    case 0x0101: return "Binding Success";
    case 0x0111: return "Binding Error";
    case 0x0003: return "Allocate Request";
    case 0x0103: return "Allocate Success";
    case 0x0113: return "Allocate Error";
    case 0x0800: return "WhatsApp relay token request";
    case 0x0801: return "WhatsApp ping";
    case 0x0802: return "WhatsApp pong";
    case 0x0804: return "WhatsApp relay endpoint request";
    case 0x0805: return "WhatsApp relay endpoint response";
    case 0x802B: return "WhatsApp 0x802b";
    default: break;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, (type & 0xFF00) == 0x0800 ? "unknown WhatsApp 0x%04x" : "unknown 0x%04x",
                  unsigned(type));
    return buf;
}

const char *stun_attr_name(uint16_t type) {
    switch (type) {
    case kAttrMappedAddress: return "MAPPED-ADDRESS";
    case kAttrMessageIntegrity: return "MESSAGE-INTEGRITY";
    case kAttrErrorCode: return "ERROR-CODE";
    case kAttrWasmRelayEndpoint: return "WASM relay endpoint (XOR)";
    case kAttrXorMappedAddress: return "XOR-MAPPED-ADDRESS";
    case kAttrWaToken: return "WhatsApp stream token (not RESERVATION-TOKEN)";
    case kAttrRelayToken: return "relay token";
    case kAttrRelayToken2: return "relay token (0x4001)";
    case kAttrRelayTime: return "relay time";
    case kAttrZeroPadding: return "zero padding";
    case kAttrReceiverSubscriptions: return "receiver subscriptions";
    case kAttrNativeSenderSub: return "native sender subscription";
    case kAttrStreamDescriptors: return "stream descriptors";
    case kAttrSenderSubscriptions: return "sender subscriptions v2";
    case kAttrParticipantCount: return "participant count";
    case kAttrFingerprint: return "FINGERPRINT";
    default: return (type & 0xFF00) == 0x4000 ? "WhatsApp (unknown)" : "unknown";
    }
}

std::string SockAddr::to_string() const {
    char buf[64];
    if (family == 4) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", addr[0], addr[1], addr[2], addr[3], unsigned(port));
        return buf;
    }
    if (family == 6) {
        std::string s = "[";
        for (int i = 0; i < 8; i++) {
            std::snprintf(buf, sizeof buf, i ? ":%x" : "%x", unsigned(be16(addr + 2 * i)));
            s += buf;
        }
        std::snprintf(buf, sizeof buf, "]:%u", unsigned(port));
        return s + buf;
    }
    return "?";
}

static std::optional<SockAddr> decode_address(ByteView v, const uint8_t *xor_mask /*16 bytes or null*/) {
    if (v.size < 4) return std::nullopt;
    uint8_t fam = v[1];
    size_t alen = fam == 1 ? 4 : fam == 2 ? 16 : 0;
    if (!alen || v.size != 4 + alen) return std::nullopt;
    SockAddr out;
    out.family = fam == 1 ? 4 : 6;
    out.port = be16(v.data + 2);
    if (xor_mask) out.port ^= uint16_t(kStunMagic >> 16);
    for (size_t i = 0; i < alen; i++) out.addr[i] = uint8_t(v[4 + i] ^ (xor_mask ? xor_mask[i] : 0));
    return out;
}

std::optional<SockAddr> decode_mapped_address(ByteView value) { return decode_address(value, nullptr); }

std::optional<SockAddr> decode_xor_mapped_address(ByteView value, ByteView txid) {
    uint8_t mask[16];
    put_be32(mask, kStunMagic);
    if (txid.size == 12) std::memcpy(mask + 4, txid.data, 12);
    else std::memset(mask + 4, 0, 12);
    if (value.size >= 2 && value[1] == 2 && txid.size != 12) return std::nullopt;  // v6 needs the txid
    return decode_address(value, mask);
}

std::optional<SockAddr> decode_wasm_relay_endpoint(ByteView value, ByteView txid) {
    if (value.size == 20 && value[0] == 0x00 && value[1] == 0x02 && txid.size == 12)
        return decode_xor_mapped_address(value, txid);
    if (value.size != 8 || value[0] != 0x00 || value[1] != 0x01) return std::nullopt;
    uint8_t mask[16] = {};
    put_be32(mask, kStunMagic);
    return decode_address(value, mask);
}

std::optional<StunErrorCode> decode_error_code(ByteView value) {
    if (value.size < 4) return std::nullopt;
    StunErrorCode out;
    out.code = uint16_t((value[2] & 0x07) * 100 + value[3]);
    out.reason.assign(reinterpret_cast<const char *>(value.data + 4), value.size - 4);
    return out;
}

static bool read_varint(ByteView v, size_t &pos, uint64_t &out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos < v.size; shift += 7) {
        uint8_t b = v[pos++];
        out |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

std::optional<uint64_t> decode_participant_count(ByteView value) {
    size_t pos = 0;
    uint64_t count = 0;
    if (value.empty() || !read_varint(value, pos, count) || pos != value.size) return std::nullopt;
    return count;
}

std::optional<uint32_t> decode_native_sender_sub(ByteView value) {
    if (value.size != 5 || value[0] != 0x01) return std::nullopt;
    return be32(value.data + 1);
}

// Builds the 20-byte pseudo-header with the adjusted length field.
static bool pseudo_header(ByteView msg, size_t attr_offset, size_t extra, uint8_t hdr[20]) {
    if (msg.size < 20 || attr_offset < 20 || attr_offset > msg.size) return false;
    size_t len = attr_offset - 20 + extra;
    if (len > 0xFFFF) return false;
    std::memcpy(hdr, msg.data, 20);
    put_be16(hdr + 2, uint16_t(len));
    return true;
}

std::optional<std::array<uint8_t, 20>> compute_message_integrity(ByteView msg, size_t attr_offset, ByteView key) {
    uint8_t hdr[20];
    if (!pseudo_header(msg, attr_offset, 24, hdr)) return std::nullopt;
    std::array<uint8_t, 20> mac;
    crypto::hmac_sha1(key, ByteView(hdr, 20), msg.sub(20, attr_offset - 20), mac.data());
    return mac;
}

std::optional<uint32_t> compute_fingerprint(ByteView msg, size_t attr_offset) {
    uint8_t hdr[20];
    if (!pseudo_header(msg, attr_offset, 8, hdr)) return std::nullopt;
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, hdr, 20);
    c = crc32(c, msg.data + 20, uInt(attr_offset - 20));
    return uint32_t(c) ^ kStunFingerprintXor;
}

StunCheck verify_message_integrity(ByteView msg, const StunAttr &mi, ByteView key) {
    std::optional<std::array<uint8_t, 20>> want =
        mi.value.size == 20 ? compute_message_integrity(msg, mi.offset, key) : std::nullopt;
    if (!want) return StunCheck::Malformed;
    return detail::ct_equal(want->data(), mi.value.data, 20) ? StunCheck::Good : StunCheck::Bad;
}

StunCheck verify_fingerprint(ByteView msg, const StunAttr &fp) {
    std::optional<uint32_t> want = fp.value.size == 4 ? compute_fingerprint(msg, fp.offset) : std::nullopt;
    if (!want) return StunCheck::Malformed;
    return *want == be32(fp.value.data) ? StunCheck::Good : StunCheck::Bad;
}

// ---- protobuf-valued attributes ---------------------------------------------------------------

using protowire::Field;
using protowire::Reader;

static bool is_printable(ByteView b) {
    if (b.empty()) return false;
    for (size_t i = 0; i < b.size; i++)
        if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r') return false;
    return true;
}

const char *proto_status_name(ProtoStatus s) {
    switch (s) {
    case ProtoStatus::Ok: return "ok";
    case ProtoStatus::Empty: return "no entries";
    case ProtoStatus::WrongShape: return "unexpected field or wire type";
    case ProtoStatus::Malformed: return "malformed protobuf";
    }
    return "?";
}

StreamDescriptors decode_stream_descriptors(ByteView value) {
    StreamDescriptors res;
    std::vector<StreamDescriptor> &out = res.items;
    auto finish = [&res](ProtoStatus st) {
        res.status = st;
        return res;
    };
    Reader top(value);
    Field f;
    while (top.next(f)) {
        if (f.number != 1 || f.type != protowire::LengthDelimited) return finish(ProtoStatus::WrongShape);
        StreamDescriptor d;
        d.offset = f.offset;
        Reader r(f.bytes);
        Field g;
        // The Android shape names the stream with a string in field 1; the WASM shape uses ints.
        bool android = false;
        {
            Reader probe(f.bytes);
            Field p;
            while (probe.next(p))
                if (p.number == 1 && p.type == protowire::LengthDelimited) android = true;
        }
        d.android = android;
        while (r.next(g)) {
            switch (g.number) {
            case 1:
                if (g.type == protowire::LengthDelimited) d.stream_name.assign(g.bytes.begin(), g.bytes.end());
                else if (g.type == protowire::Varint) d.stream_index = uint32_t(g.varint);
                else return finish(ProtoStatus::WrongShape);
                break;
            case 2:
                if (g.type == protowire::LengthDelimited) d.codec.assign(g.bytes.begin(), g.bytes.end());
                else if (g.type == protowire::Varint) d.sub_type = uint32_t(g.varint);
                else return finish(ProtoStatus::WrongShape);
                break;
            case 3:
                if (g.type != protowire::Varint) return finish(ProtoStatus::WrongShape);
                d.ssrc = uint32_t(android ? uint64_t(protowire::zigzag(g.varint)) : g.varint);
                break;
            default:
                break;  // e.g. Android field 4 (bool); unknown fields are tolerated
            }
        }
        if (r.error()) return finish(ProtoStatus::Malformed);
        out.push_back(std::move(d));
    }
    if (top.error()) return finish(ProtoStatus::Malformed);
    return finish(out.empty() ? ProtoStatus::Empty : ProtoStatus::Ok);
}

const char *stream_index_name(uint32_t idx) {
    switch (idx) {
    case 0: return "audio";
    case 1: return "video0";
    case 2: return "video1";
    case 3:
    case 4: return "HBH-FEC";
    default: return "unknown";
    }
}

const char *stream_subtype_name(uint32_t sub) {
    switch (sub) {
    case 0: return "media";
    case 1: return "FEC";
    case 2: return "NACK";
    case 3: return "HBH-FEC";
    default: return "unknown";
    }
}

const char *subscription_shape_name(SenderSubscriptions::Shape s) {
    switch (s) {
    case SenderSubscriptions::GroupV2: return "group v2";
    case SenderSubscriptions::Android: return "Android wa.voip.SenderSubscriptions";
    case SenderSubscriptions::Wasm: return "WASM voip.SenderSubscriptions";
    }
    return "?";
}

// Inner message of a group-v2 / Android entry: {1: ssrcs, repeated 2: {1: pid, 2: ...}}.
static bool decode_sub_inner(ByteView inner, SubscriptionEntry &e, bool &android, bool &decided) {
    Reader r(inner);
    Field g;
    while (r.next(g)) {
        if (g.number == 1) {
            if (g.type == protowire::LengthDelimited) {  // group v2: packed plain varints
                if (decided && android) return false;
                android = false;
                decided = true;
                size_t pos = 0;
                uint64_t v;
                while (pos < g.bytes.size) {
                    if (!read_varint(g.bytes, pos, v)) return false;
                    e.ssrcs.push_back(uint32_t(v));
                }
            } else if (g.type == protowire::Varint) {  // Android: one sint64 SSRC
                if (decided && !android) return false;
                android = true;
                decided = true;
                e.ssrcs.push_back(uint32_t(uint64_t(protowire::zigzag(g.varint))));
            } else {
                return false;
            }
        } else if (g.number == 2 && g.type == protowire::LengthDelimited) {
            Reader pr(g.bytes);
            Field p;
            bool have_pid = false;
            int64_t pid = 0;
            while (pr.next(p)) {
                if (p.number == 1 && p.type == protowire::Varint) {
                    have_pid = true;
                    pid = android ? protowire::zigzag(p.varint) : int64_t(p.varint);
                } else if (p.number == 2 && p.type == protowire::LengthDelimited) {
                    e.media.assign(p.bytes.begin(), p.bytes.end());
                }
            }
            if (pr.error()) return false;
            if (have_pid) e.pids.push_back(pid);
        }
    }
    return !r.error();
}

std::optional<SenderSubscriptions> decode_sender_subscriptions(ByteView value) {
    SenderSubscriptions out;
    Reader top(value);
    Field f;
    bool android = false, decided = false;
    while (top.next(f)) {
        if (f.number != 1 || f.type != protowire::LengthDelimited) return std::nullopt;
        SubscriptionEntry e;
        e.offset = f.offset;
        Reader r(f.bytes);
        Field g;
        bool wasm = false, nested = false;
        while (r.next(g)) {
            if (g.number == 1 && g.type == protowire::LengthDelimited) {
                nested = true;
                if (!decode_sub_inner(g.bytes, e, android, decided)) return std::nullopt;
            } else if (g.number == 3 && g.type == protowire::Varint) {  // WASM {3: ssrc, 5, 6}
                wasm = true;
                e.ssrcs.push_back(uint32_t(g.varint));
            }
        }
        if (r.error() || (wasm && nested) || (!wasm && !nested)) return std::nullopt;
        if (wasm) {
            if (decided && out.shape != SenderSubscriptions::Wasm) return std::nullopt;
            decided = true;
            out.shape = SenderSubscriptions::Wasm;
        } else {
            out.shape = android ? SenderSubscriptions::Android : SenderSubscriptions::GroupV2;
        }
        out.entries.push_back(std::move(e));
    }
    if (top.error() || out.entries.empty()) return std::nullopt;
    return out;
}

std::optional<std::vector<int64_t>> decode_receiver_subscriptions(ByteView value) {
    std::vector<int64_t> pids;
    Reader top(value);
    Field f;
    while (top.next(f)) {
        if (f.number != 2 || f.type != protowire::LengthDelimited) return std::nullopt;
        Reader r(f.bytes);
        Field g;
        bool have = false;
        while (r.next(g))
            if (g.number == 1 && g.type == protowire::Varint) {
                pids.push_back(int64_t(g.varint));
                have = true;
            }
        if (r.error() || !have) return std::nullopt;
    }
    if (top.error() || pids.empty()) return std::nullopt;
    return pids;
}

static bool tree_rec(ByteView msg, size_t base, std::vector<ProtoNode> &out, int depth) {
    Reader r(msg);
    Field f;
    while (r.next(f)) {
        ProtoNode n;
        n.number = f.number;
        n.type = f.type;
        n.varint = f.varint;
        n.bytes = f.bytes;
        n.offset = base + f.offset;
        n.length = f.length;
        if (f.type == protowire::LengthDelimited) {
            n.value_offset = base + size_t(f.bytes.data - msg.data);
            n.printable = is_printable(f.bytes);
            if (depth > 0 && protowire::looks_like_message(f.bytes))
                tree_rec(f.bytes, n.value_offset, n.children, depth - 1);
        } else {
            // The value follows the key varint.
            size_t key_len = 1;
            for (uint64_t k = (uint64_t(f.number) << 3) >> 7; k; k >>= 7) key_len++;
            n.value_offset = n.offset + key_len;
        }
        out.push_back(std::move(n));
    }
    return !r.error();
}

std::optional<std::vector<ProtoNode>> protobuf_tree(ByteView msg, int max_depth) {
    std::vector<ProtoNode> out;
    if (!tree_rec(msg, 0, out, max_depth)) return std::nullopt;
    return out;
}

}  // namespace wacall::media
