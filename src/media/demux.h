// Relay packet demultiplexing (reference digest §4.1/§4.2): the group forwarding envelope and
// the RFC 5761-style STUN / RTCP / RTP split. Pure functions over bytes.
#pragma once

#include "common/bytes.h"

namespace wacall::media {

enum class PacketKind { Stun, Rtcp, Rtp, Other };

const char *packet_kind_name(PacketKind k);

// Classifies one relay datagram / DataChannel message (after any group envelope is removed).
// STUN: top two bits 0, >= 20 bytes and the magic cookie (WhatsApp's 0x802b too); RTCP: V=2,
// >= 8 bytes, 192 <= b1 <= 223; RTP: V=2, >= 12 bytes; everything else Other.
// wa_flow: the flow is already known to be WhatsApp's, so its cookieless 0x0800-0x0805 messages
// (RFC 3489 header, declared length within the datagram) are STUN too; on any other flow such
// bytes prove nothing.
PacketKind classify(ByteView pkt, bool wa_flow = false);

// True when byte 0 is 0x09, i.e. the packet claims to be a group forwarding envelope.
inline bool is_group_envelope(ByteView pkt) { return pkt.size >= 1 && pkt[0] == 0x09; }

enum class EnvelopeStatus {
    Ok,
    TooShort,        // fewer than 2 bytes
    NotEnvelope,     // byte 0 is not 0x09
    UnknownKind,     // byte 1 is not 2, 4 or 7
    InnerTooShort,   // the inner packet is shorter than an RTP header
    InnerNotRtp,     // the inner packet is not RTP version 2
};
// The expert-item text for a malformed envelope.
const char *envelope_status_name(EnvelopeStatus s);

struct EnvelopeResult {
    size_t header_len = 0;  // 8, 12 or 18 when ok
    EnvelopeStatus status = EnvelopeStatus::Ok;
    bool ok() const { return status == EnvelopeStatus::Ok; }
};

// Unwraps the 0x09 group forwarding envelope: byte 1 = 2 -> 8-byte header, 4 -> 12, 7 -> 18.
// The rest must be RTP (V=2, >= 12 bytes). Any other shape is an error and must never be
// handed on as media.
EnvelopeResult unwrap_group_envelope(ByteView pkt);

}  // namespace wacall::media
