// Connection intro and HandshakeMessage parsing (no crypto here).
#include "noise/noise.h"

#include "common/protowire.h"

namespace wacall::noise {

namespace {

constexpr uint8_t kEdgeMagic[4] = {0x45, 0x44, 0x00, 0x01};  // "ED\0\1"

// Compares the available prefix of `data` (from off) with `magic`. Returns 1 when all of magic
// matches, 0 when what is there matches but is shorter, -1 on a mismatch.
int match_prefix(ByteView data, size_t off, const uint8_t *magic, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (off + i >= data.size) return 0;
        if (data[off + i] != magic[i]) return -1;
    }
    return 1;
}

// Protocol bytes seen: 2 (2019), 5 (2022), 6 (today). Zero or large values are not WhatsApp.
bool plausible_protocol(uint8_t p) { return p >= 1 && p < 0x20; }

}  // namespace

Intro parse_intro(ByteView data, size_t max_edge_length) {
    Intro in;
    in.status = IntroStatus::NotIntro;
    if (data.empty()) {
        in.status = IntroStatus::NeedMore;
        return in;
    }
    size_t wa = 0;
    if (data[0] == kEdgeMagic[0]) {
        int m = match_prefix(data, 0, kEdgeMagic, 4);
        if (m < 0) return in;
        if (m == 0 || data.size < 7) {
            in.status = IntroStatus::NeedMore;
            return in;
        }
        size_t len = be24(data.data + 4);
        if (len > max_edge_length) return in;
        in.has_edge = true;
        in.edge_offset = 7;
        in.edge_length = len;
        wa = 7 + len;
        if (data.size <= wa) {
            in.status = IntroStatus::NeedMore;
            return in;
        }
    }
    // "WA" + protocol + dictionary version.
    if (data[wa] != 0x57) return in;
    if (data.size > wa + 1 && data[wa + 1] != 0x41) return in;
    if (data.size > wa + 2 && !plausible_protocol(data[wa + 2])) return in;
    if (data.size < wa + kWaHeaderSize) {
        in.status = IntroStatus::NeedMore;
        return in;
    }
    in.wa_offset = wa;
    in.protocol = data[wa + 2];
    in.dict_version = data[wa + 3];
    in.length = wa + kWaHeaderSize;
    in.status = IntroStatus::Ok;
    return in;
}

const char *handshake_kind_name(HandshakeKind k) {
    switch (k) {
    case HandshakeKind::ClientHello: return "ClientHello";
    case HandshakeKind::ServerHello: return "ServerHello";
    case HandshakeKind::ClientFinish: return "ClientFinish";
    case HandshakeKind::None: break;
    }
    return "unknown";
}

namespace {

size_t offset_in(ByteView outer, const uint8_t *p) { return static_cast<size_t>(p - outer.data); }

void set_error(HandshakeMessage &m, size_t off, const char *text) {
    if (m.error) return;  // keep the first one
    m.error = true;
    m.error_offset = off;
    m.error_text = text;
}

void parse_inner(ByteView msg, ByteView inner, HandshakeMessage &m) {
    // Field numbers of ephemeral / static / payload per message kind (0 = not in this message).
    uint32_t n_eph = 1, n_static = 2, n_payload = 3;
    if (m.kind == HandshakeKind::ClientFinish) {
        n_eph = 0;
        n_static = 1;
        n_payload = 2;
    }
    protowire::Reader r(inner);
    protowire::Field f;
    while (r.next(f)) {
        size_t off = offset_in(msg, inner.data) + f.offset;
        HandshakePart *part = nullptr;
        if (f.number == n_eph && n_eph)
            part = &m.ephemeral;
        else if (f.number == n_static)
            part = &m.static_key;
        else if (f.number == n_payload)
            part = &m.payload;
        if (part) {
            if (f.type != protowire::LengthDelimited) {
                set_error(m, off, "handshake key/payload field is not length-delimited");
                continue;
            }
            if (part->present) {
                set_error(m, off, "handshake field repeated");
                continue;
            }
            part->present = true;
            part->data = f.bytes;
            part->offset = offset_in(msg, f.bytes.data);
            part->field_offset = off;
            part->field_length = f.length;
            continue;
        }
        HandshakeOtherField o;
        o.outer = false;
        o.number = f.number;
        o.wire_type = f.type;
        o.varint = f.varint;
        o.bytes = f.bytes;
        o.offset = off;
        o.length = f.length;
        m.other_fields.push_back(o);
    }
    if (r.error()) set_error(m, offset_in(msg, inner.data) + r.position(), "malformed protobuf in handshake message");
}

}  // namespace

HandshakeMessage parse_handshake(ByteView msg) {
    HandshakeMessage m;
    if (msg.empty()) {
        set_error(m, 0, "empty handshake message");
        return m;
    }
    protowire::Reader r(msg);
    protowire::Field f;
    bool seen = false;
    while (r.next(f)) {
        HandshakeKind k = HandshakeKind::None;
        if (f.number == 2) k = HandshakeKind::ClientHello;
        else if (f.number == 3) k = HandshakeKind::ServerHello;
        else if (f.number == 4) k = HandshakeKind::ClientFinish;
        if (k != HandshakeKind::None && f.type == protowire::LengthDelimited && !seen) {
            seen = true;
            m.kind = k;
            m.inner_offset = offset_in(msg, f.bytes.data);
            m.inner_length = f.bytes.size;
            parse_inner(msg, f.bytes, m);
            continue;
        }
        if (k != HandshakeKind::None) set_error(m, f.offset, seen ? "more than one handshake message" : "handshake message field is not length-delimited");
        HandshakeOtherField o;
        o.outer = true;
        o.number = f.number;
        o.wire_type = f.type;
        o.varint = f.varint;
        o.bytes = f.bytes;
        o.offset = f.offset;
        o.length = f.length;
        m.other_fields.push_back(o);
    }
    if (r.error()) set_error(m, r.position(), "malformed protobuf in HandshakeMessage");
    if (!seen) set_error(m, 0, "no ClientHello, ServerHello or ClientFinish in HandshakeMessage");
    return m;
}

}  // namespace wacall::noise
