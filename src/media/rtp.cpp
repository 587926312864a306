#include "media/rtp.h"

namespace wacall::media {

const char *rtp_parse_error_name(RtpParseError e) {
    switch (e) {
    case RtpParseError::None: return "ok";
    case RtpParseError::TooShort: return "shorter than the 12-byte RTP header";
    case RtpParseError::BadVersion: return "RTP version is not 2";
    case RtpParseError::CsrcTruncated: return "CSRC list runs past the packet";
    case RtpParseError::ExtTruncated: return "header extension runs past the packet";
    }
    return "?";
}

// RFC 8285 element walk (one-byte form; the two-byte form for 0x100X profiles).
static void walk_elements(ByteView pkt, size_t pos, size_t end, bool two_byte, RtpHeader &h) {
    while (pos < end) {
        uint8_t b = pkt[pos];
        if (b == 0) {  // padding between elements
            pos++;
            continue;
        }
        RtpExtElement e;
        size_t hdr;
        if (two_byte) {
            if (end - pos < 2) {
                h.elements_truncated = true;
                return;
            }
            e.id = b;
            e.len = pkt[pos + 1];
            hdr = 2;
        } else {
            e.id = uint8_t(b >> 4);
            if (e.id == 15) return;  // RFC 8285: stop parsing
            e.len = uint8_t((b & 0x0F) + 1);
            hdr = 1;
        }
        if (end - pos - hdr < e.len) {
            h.elements_truncated = true;
            return;
        }
        e.value_offset = pos + hdr;
        if (h.n_elements == RtpHeader::kMaxElements) {
            h.elements_truncated = true;
            return;
        }
        h.elements[h.n_elements++] = e;
        pos += hdr + e.len;
    }
}

static void parse_elements(ByteView pkt, RtpHeader &h) {
    bool two_byte = (h.ext_profile & 0xFFF0) == 0x1000;
    h.one_byte_elements = h.ext_profile == kWarpExtProfile || h.ext_profile == kRfc8285OneByte;
    if (!h.one_byte_elements && !two_byte) return;
    walk_elements(pkt, h.ext_data_offset, h.ext_data_offset + size_t(h.ext_words) * 4, two_byte, h);
}

void parse_warp_ext_elements(ByteView ext_data, RtpHeader &h) {
    h = RtpHeader{};
    h.has_ext = true;
    h.ext_profile = kWarpExtProfile;
    h.one_byte_elements = true;
    walk_elements(ext_data, 0, ext_data.size, false, h);
}

RtpParseError parse_rtp_header(ByteView pkt, RtpHeader &h, const RtpParseOptions &opt) {
    h = RtpHeader{};
    if (pkt.size < 12) return RtpParseError::TooShort;
    h.version = uint8_t(pkt[0] >> 6);
    if (h.version != 2) return RtpParseError::BadVersion;
    h.padding = pkt[0] & 0x20;
    h.extension = pkt[0] & 0x10;
    h.csrc_count = pkt[0] & 0x0F;
    h.marker = pkt[1] & 0x80;
    h.payload_type = pkt[1] & 0x7F;
    h.seq = be16(pkt.data + 2);
    h.timestamp = be32(pkt.data + 4);
    h.ssrc = be32(pkt.data + 8);
    size_t pos = 12;
    if (pkt.size - pos < size_t(h.csrc_count) * 4) return RtpParseError::CsrcTruncated;
    for (int i = 0; i < h.csrc_count; i++, pos += 4) h.csrc[i] = be32(pkt.data + pos);

    bool ext = h.extension;
    // X=0 says there is no extension, so DE BE is taken as one only when the block it declares
    // fits: on an SRTP packet sent without an extension bytes 12..15 are ciphertext, and DE BE
    // there by chance (2^-16 per packet) used to make the packet undecryptable (ExtTruncated).
    if (!ext && opt.accept_debe_without_x && h.csrc_count == 0 && pkt.size >= 16 && pkt[12] == 0xDE &&
        pkt[13] == 0xBE && pkt.size - 16 >= size_t(be16(pkt.data + 14)) * 4) {
        ext = true;
        h.ext_without_x = true;
    }
    if (ext) {
        if (pkt.size - pos < 4) return RtpParseError::ExtTruncated;
        h.has_ext = true;
        h.ext_offset = pos;
        h.ext_profile = be16(pkt.data + pos);
        h.ext_words = be16(pkt.data + pos + 2);
        h.ext_data_offset = pos + 4;
        if (pkt.size - h.ext_data_offset < size_t(h.ext_words) * 4) return RtpParseError::ExtTruncated;
        parse_elements(pkt, h);
        pos = h.ext_data_offset + size_t(h.ext_words) * 4;
    }
    h.header_len = pos;
    h.payload_len = pkt.size - pos;
    if (h.padding && opt.interpret_padding) {
        uint8_t n = pkt[pkt.size - 1];
        if (n == 0 || n > h.payload_len) {
            h.padding_invalid = true;
        } else {
            h.padding_len = n;
            h.payload_len -= n;
        }
    }
    return RtpParseError::None;
}

RtpParseError locate_rtp_payload(ByteView pkt, RtpLocation &loc, bool accept_debe_without_x) {
    if (pkt.size < 12) return RtpParseError::TooShort;
    if ((pkt[0] >> 6) != 2) return RtpParseError::BadVersion;
    size_t pos = 12 + size_t(pkt[0] & 0x0F) * 4;
    if (pos > pkt.size) return RtpParseError::CsrcTruncated;
    bool ext = pkt[0] & 0x10;
    if (!ext && accept_debe_without_x && (pkt[0] & 0x0F) == 0 && pkt.size >= 16 && pkt[12] == 0xDE && pkt[13] == 0xBE &&
        pkt.size - 16 >= size_t(be16(pkt.data + 14)) * 4)  // only when it fits (see parse_rtp_header)
        ext = true;
    if (ext) {
        if (pkt.size - pos < 4) return RtpParseError::ExtTruncated;
        size_t words = be16(pkt.data + pos + 2);
        pos += 4;
        if (pkt.size - pos < words * 4) return RtpParseError::ExtTruncated;
        pos += words * 4;
    }
    loc.header_len = pos;
    loc.seq = be16(pkt.data + 2);
    loc.ssrc = be32(pkt.data + 8);
    return RtpParseError::None;
}

const char *warp_ext_element_name(uint8_t id, uint8_t len, bool video) {
    if (!video) return id == 3 && len == 1 ? "DTX/piggyback" : "unknown";
    switch (id) {
    case 3: return "media_frame_info";
    case 5: return "initial_bandwidth";
    case 6: return "short_offset";
    case 9: return "transport_sequence";
    default: return "unknown";  // never null: it is printed with %s
    }
}

WarpExtInfo decode_warp_ext(ByteView pkt, const RtpHeader &h, bool video) {
    WarpExtInfo w;
    for (uint8_t i = 0; i < h.n_elements; i++) {
        const RtpExtElement &e = h.elements[i];
        if (e.value_offset + e.len > pkt.size) continue;  // a header from another buffer
        const uint8_t *v = pkt.data + e.value_offset;
        if (!video) {
            if (e.id == 3 && e.len == 1) {
                w.dtx_piggyback = true;
                w.dtx_value = v[0];
            }
            continue;
        }
        if (e.id == 3 && e.len == 1) {
            w.frame_info = v[0];
            w.keyframe = v[0] == 0x09;
        } else if (e.id == 5 && e.len == 2) {
            w.initial_bandwidth = be16(v);
        } else if (e.id == 6 && e.len == 2) {
            w.short_offset = int16_t(be16(v));
        } else if (e.id == 9 && e.len == 2) {
            w.transport_seq = be16(v);
        }
    }
    return w;
}

const char *warp_payload_type_name(uint8_t pt) {
    switch (pt) {
    case 120: return "WA audio (MLOW / Opus 16 kHz)";
    case 111: return "Opus (RFC 7587, 48 kHz)";
    case 121: return "MLOW RED";
    case 97: return "H.264";
    case 119: return "RTC app data";
    default: return nullptr;
    }
}

// ---- RTCP -------------------------------------------------------------------------------------

const char *rtcp_pt_name(uint8_t pt) {
    switch (pt) {
    case 200: return "SR";
    case 201: return "RR";
    case 202: return "SDES";
    case 203: return "BYE";
    case 204: return "APP";
    case 205: return "RTPFB";
    case 206: return "PSFB";
    case 208: return "WA compact report";
    case 209: return "WA compact report (pre-speech)";
    default: return nullptr;
    }
}

static void parse_reports(ByteView p, size_t base, size_t pos, RtcpPacket &pk) {
    if (pk.count == 0) return;
    size_t avail = p.size - pos;
    size_t stride = 24;
    // WhatsApp profile: blocks can be longer than 24 bytes; the stride is inferred (reference
    // summarize_rtcp), which only works when the blocks fill the rest of the packet.
    if (pk.wa_profile) stride = avail / pk.count;
    if (stride < 24 || avail < stride * pk.count) {
        pk.error = "report blocks run past the packet";
        if (stride < 24) return;
    }
    pk.report_stride = stride;
    for (uint8_t i = 0; i < pk.count && p.size - pos >= 24 && p.size - pos >= stride; i++, pos += stride) {
        RtcpReportBlock b;
        const uint8_t *d = p.data + pos;
        b.ssrc = be32(d);
        b.fraction_lost = d[4];
        uint32_t cl = be24(d + 5);
        b.cumulative_lost = int32_t(cl & 0x800000 ? cl | 0xFF000000u : cl);
        b.highest_seq = be32(d + 8);
        b.jitter = be32(d + 12);
        b.lsr = be32(d + 16);
        b.dlsr = be32(d + 20);
        b.offset = base + pos;
        b.length = stride;
        pk.reports.push_back(b);
    }
}

static void parse_sdes(ByteView p, size_t base, RtcpPacket &pk) {
    size_t pos = 4;
    for (uint8_t c = 0; c < pk.count; c++) {
        if (p.size - pos < 4) {
            pk.error = "SDES chunk truncated";
            return;
        }
        RtcpSdesChunk ch;
        ch.ssrc = be32(p.data + pos);
        ch.offset = base + pos;
        pos += 4;
        bool ended = false;
        while (pos < p.size) {
            uint8_t type = p[pos];
            if (type == 0) {  // END, then pad to the next 32-bit boundary
                pos = (pos + 4) & ~size_t(3);
                ended = true;
                break;
            }
            if (p.size - pos < 2 || p.size - pos - 2 < p[pos + 1]) {
                pk.error = "SDES item truncated";
                pk.sdes.push_back(std::move(ch));
                return;
            }
            RtcpSdesItem it;
            it.type = type;
            it.offset = base + pos;
            it.value = p.sub(pos + 2, p[pos + 1]);
            ch.items.push_back(it);
            pos += 2 + size_t(p[pos + 1]);
        }
        pk.sdes.push_back(std::move(ch));
        if (!ended) {
            pk.error = "SDES chunk without END item";
            return;
        }
        if (pos > p.size) pos = p.size;
    }
}

static void parse_body(ByteView p, size_t base, RtcpPacket &pk) {
    auto need = [&](size_t n, const char *what) {
        if (p.size >= n) return true;
        pk.error = what;
        return false;
    };
    switch (pk.pt) {
    case 200:
        if (!need(28, "SR shorter than 28 bytes")) return;
        pk.sender_ssrc = be32(p.data + 4);
        pk.sender_info = RtcpPacket::SenderInfo{be32(p.data + 8), be32(p.data + 12), be32(p.data + 16),
                                                be32(p.data + 20), be32(p.data + 24)};
        parse_reports(p, base, 28, pk);
        break;
    case 201:
        if (!need(8, "RR shorter than 8 bytes")) return;
        pk.sender_ssrc = be32(p.data + 4);
        parse_reports(p, base, 8, pk);
        break;
    case 202:
        parse_sdes(p, base, pk);
        break;
    case 205:
    case 206:
        if (!need(12, "feedback packet shorter than 12 bytes")) return;
        pk.sender_ssrc = be32(p.data + 4);
        pk.media_ssrc = be32(p.data + 8);
        pk.fci = p.sub(12);
        if (pk.pt == 206 && pk.fmt == 4) {
            if (pk.fci.size % 8) pk.error = "FIR FCI is not a multiple of 8 bytes";
            for (size_t i = 0; i + 8 <= pk.fci.size; i += 8)
                pk.fir.push_back({be32(pk.fci.data + i), pk.fci[i + 4]});
        }
        break;
    case 208:
        if (!need(12, "compact 208 shorter than 12 bytes")) return;
        pk.sender_ssrc = be32(p.data + 4);
        pk.remote_ssrc = be32(p.data + 8);
        break;
    case 209:
        if (!need(8, "compact 209 shorter than 8 bytes")) return;
        pk.sender_ssrc = be32(p.data + 4);
        break;
    default:
        if (p.size >= 8) pk.sender_ssrc = be32(p.data + 4);
        break;
    }
}

const char *rtcp_status_name(RtcpStatus s) {
    switch (s) {
    case RtcpStatus::Ok: return "ok";
    case RtcpStatus::Empty: return "empty";
    case RtcpStatus::HeaderCut: return "RTCP header cut short";
    case RtcpStatus::NotVersion2: return "not RTCP version 2";
    case RtcpStatus::BadPacket: return "malformed or truncated RTCP packet";
    }
    return "?";
}

RtcpCompound parse_rtcp_compound(ByteView buf) {
    RtcpCompound res;
    std::vector<RtcpPacket> &out = res.packets;
    res.status = buf.size ? RtcpStatus::Ok : RtcpStatus::Empty;
    auto fail = [&res](RtcpStatus st) {
        if (res.status == RtcpStatus::Ok) res.status = st;  // the first problem wins
    };
    size_t pos = 0;
    while (pos < buf.size) {
        if (buf.size - pos < 4) {
            fail(RtcpStatus::HeaderCut);
            return res;
        }
        const uint8_t *d = buf.data + pos;
        RtcpPacket pk;
        pk.offset = pos;
        pk.version = uint8_t(d[0] >> 6);
        pk.padding = d[0] & 0x20;
        pk.wa_profile = d[0] & 0x10;
        pk.count = d[0] & 0x0F;
        pk.fmt = d[0] & 0x1F;
        pk.pt = d[1];
        pk.length_words = be16(d + 2);
        if (pk.version != 2) {  // not RTCP (or still encrypted): nothing sane follows
            fail(RtcpStatus::NotVersion2);
            return res;
        }
        size_t len = (size_t(pk.length_words) + 1) * 4;
        if (len > buf.size - pos) {
            pk.error = "RTCP length runs past the buffer";
            len = buf.size - pos;
        }
        pk.size = len;
        ByteView p = buf.sub(pos, len);
        // Padding (only legal on the last packet) is excluded from the body.
        if (pk.padding && len > 4) {
            uint8_t n = p[len - 1];
            if (n == 0 || n > len - 4) pk.error = "bad RTCP padding";
            else p = p.sub(0, len - n);
        }
        std::string keep = pk.error;
        parse_body(p, pos, pk);
        if (!keep.empty() && pk.error.empty()) pk.error = keep;
        if (!pk.error.empty()) fail(RtcpStatus::BadPacket);
        out.push_back(std::move(pk));
        pos += len;
    }
    return res;
}

}  // namespace wacall::media
