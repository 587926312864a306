#include "media/demux.h"

#include "media/stun.h"

namespace wacall::media {

const char *packet_kind_name(PacketKind k) {
    switch (k) {
    case PacketKind::Stun: return "STUN";
    case PacketKind::Rtcp: return "RTCP";
    case PacketKind::Rtp: return "RTP";
    case PacketKind::Other: break;
    }
    return "Other";
}

PacketKind classify(ByteView pkt, bool wa_flow) {
    if (pkt.size < 2) return PacketKind::Other;
    const bool cookie = pkt.size >= 20 && be32(pkt.data + 4) == kStunMagic;
    if ((pkt[0] & 0xC0) == 0) {
        // Only a complete-looking STUN header counts; a bare 00xxxxxx byte is not enough.
        if (cookie) return PacketKind::Stun;
        uint16_t type = be16(pkt.data);
        if (wa_flow && pkt.size >= 20 && type >= 0x0800 && type <= 0x0805 && 20u + be16(pkt.data + 2) <= pkt.size)
            return PacketKind::Stun;
        return PacketKind::Other;
    }
    // 0x802b with the cookie: WhatsApp STUN whose type has the top bit set (RTP with PT 43 and
    // the cookie as its timestamp otherwise).
    if (cookie && be16(pkt.data) == 0x802B && 20u + be16(pkt.data + 2) <= pkt.size) return PacketKind::Stun;
    if ((pkt[0] >> 6) != 2) return PacketKind::Other;
    if (pkt.size >= 8 && pkt[1] >= 192 && pkt[1] <= 223) return PacketKind::Rtcp;
    if (pkt.size >= 12) return PacketKind::Rtp;
    return PacketKind::Other;
}

const char *envelope_status_name(EnvelopeStatus s) {
    switch (s) {
    case EnvelopeStatus::Ok: return "ok";
    case EnvelopeStatus::TooShort: return "envelope shorter than 2 bytes";
    case EnvelopeStatus::NotEnvelope: return "not a group envelope (byte 0 != 0x09)";
    case EnvelopeStatus::UnknownKind: return "unknown group envelope kind (byte 1 not 2, 4 or 7)";
    case EnvelopeStatus::InnerTooShort: return "group envelope: inner packet shorter than an RTP header";
    case EnvelopeStatus::InnerNotRtp: return "group envelope: inner packet is not RTP version 2";
    }
    return "?";
}

EnvelopeResult unwrap_group_envelope(ByteView pkt) {
    EnvelopeResult r;
    if (pkt.size < 2 || pkt[0] != 0x09) {
        r.status = pkt.size < 2 ? EnvelopeStatus::TooShort : EnvelopeStatus::NotEnvelope;
        return r;
    }
    size_t hl;
    switch (pkt[1]) {
    case 2: hl = 8; break;
    case 4: hl = 12; break;
    case 7: hl = 18; break;
    default:
        r.status = EnvelopeStatus::UnknownKind;
        return r;
    }
    if (pkt.size < hl + 12) {
        r.status = EnvelopeStatus::InnerTooShort;
        return r;
    }
    if ((pkt[hl] >> 6) != 2) {
        r.status = EnvelopeStatus::InnerNotRtp;
        return r;
    }
    r.header_len = hl;
    return r;
}

}  // namespace wacall::media
