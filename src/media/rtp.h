// WARP RTP header (reference digest §4.4, spec digest §4.4 with contradiction R1) and RTCP
// compound parsing (reference §4.10, spec §4.7). The RTP parser does not allocate: it is on the
// SRTP hot path.
#pragma once

#include "common/bytes.h"

#include <optional>
#include <string>
#include <vector>

namespace wacall::media {

constexpr uint16_t kWarpExtProfile = 0xDEBE;     // WhatsApp: RFC 8285's magic with the bytes swapped
constexpr uint16_t kRfc8285OneByte = 0xBEDE;

struct RtpExtElement {
    uint8_t id = 0;
    uint8_t len = 0;           // value length in bytes (1..16)
    size_t value_offset = 0;   // relative to the packet
};

struct RtpHeader {
    static constexpr size_t kMaxElements = 32;

    uint8_t version = 0;
    bool padding = false;
    bool extension = false;  // the X bit as sent
    uint8_t csrc_count = 0;
    bool marker = false;
    uint8_t payload_type = 0;
    uint16_t seq = 0;
    uint32_t timestamp = 0;
    uint32_t ssrc = 0;
    uint32_t csrc[15] = {};

    bool has_ext = false;          // an extension block was parsed (X=1, or DE BE seen with X=0)
    bool ext_without_x = false;    // spec R1: DE BE at offset 12 although X=0
    uint16_t ext_profile = 0;
    uint16_t ext_words = 0;
    size_t ext_offset = 0;         // of the 4-byte extension header
    size_t ext_data_offset = 0;    // of the first extension data byte
    bool one_byte_elements = false;  // profile DEBE or BEDE
    uint8_t n_elements = 0;
    bool elements_truncated = false;  // more than kMaxElements, or a malformed element
    RtpExtElement elements[kMaxElements];

    size_t header_len = 0;   // payload offset
    size_t payload_len = 0;  // packet size - header_len - padding_len (when padding is valid)
    uint8_t padding_len = 0;
    bool padding_invalid = false;  // P set but the count is 0 or larger than the payload
};

enum class RtpParseError { None, TooShort, BadVersion, CsrcTruncated, ExtTruncated };
const char *rtp_parse_error_name(RtpParseError e);

struct RtpParseOptions {
    // R1: the spec's 16-byte speech header is written with X=0 but still carries DE BE 00 00.
    bool accept_debe_without_x = true;
    // P is meaningless on an SRTP packet before decryption (the count byte is ciphertext).
    bool interpret_padding = true;
};

// Parses the fixed header, CSRCs and any extension. pkt must not include an SRTP/WARP tag.
RtpParseError parse_rtp_header(ByteView pkt, RtpHeader &h, const RtpParseOptions &opt = {});

// Hot-path variant for SRTP: only the payload offset, SSRC and seq (no element walk, no padding).
// Same acceptance rules as parse_rtp_header with interpret_padding = false.
struct RtpLocation {
    size_t header_len = 0;
    uint16_t seq = 0;
    uint32_t ssrc = 0;
};
RtpParseError locate_rtp_payload(ByteView pkt, RtpLocation &loc, bool accept_debe_without_x = true);

// WARP extension elements decoded by name. `video` selects the video ID table (PT 97).
struct WarpExtInfo {
    bool dtx_piggyback = false;   // audio ID 3, len 1 (the 30 01 00 00 word)
    uint8_t dtx_value = 0;
    std::optional<uint8_t> frame_info;          // video ID 3
    bool keyframe = false;                      // frame_info 0x09
    std::optional<uint16_t> initial_bandwidth;  // video ID 5
    std::optional<int16_t> short_offset;        // video ID 6
    std::optional<uint16_t> transport_seq;      // video ID 9
};
WarpExtInfo decode_warp_ext(ByteView pkt, const RtpHeader &h, bool video);
// The elements of a 0xDEBE block given as its data alone (what Wireshark's rtp hands to an
// rtp.hdr_ext subdissector); element offsets are relative to ext_data.
void parse_warp_ext_elements(ByteView ext_data, RtpHeader &h);
// "DTX/piggyback", "media_frame_info", "initial_bandwidth", "short_offset", "transport_sequence" or
// "unknown" (never null).
const char *warp_ext_element_name(uint8_t id, uint8_t len, bool video);
// "Opus/MLOW (WA audio)", "H.264", ... or nullptr.
const char *warp_payload_type_name(uint8_t pt);
inline bool warp_pt_is_video(uint8_t pt) { return pt == 97; }

// The extended sequence number of seq nearest the highest one seen so far (RFC 3550 A.1, without
// probation): handles the 16-bit wrap and reordering on both sides of it.
inline uint64_t extend_seq(uint64_t highest, uint16_t seq) {
    uint64_t cand = (highest & ~uint64_t(0xFFFF)) | seq;
    if (cand + 0x8000 < highest) cand += 0x10000;
    else if (cand > highest + 0x8000 && cand >= 0x10000) cand -= 0x10000;
    return cand;
}

// ---- RTCP -------------------------------------------------------------------------------------

struct RtcpReportBlock {
    uint32_t ssrc = 0;
    uint8_t fraction_lost = 0;
    int32_t cumulative_lost = 0;  // 24-bit signed
    uint32_t highest_seq = 0;
    uint32_t jitter = 0;
    uint32_t lsr = 0;
    uint32_t dlsr = 0;
    size_t offset = 0;  // relative to the compound buffer
    size_t length = 0;  // stride; > 24 under the WhatsApp profile flag
};

struct RtcpSdesItem {
    uint8_t type = 0;  // 1 CNAME ...
    ByteView value;
    size_t offset = 0;
};
struct RtcpSdesChunk {
    uint32_t ssrc = 0;
    size_t offset = 0;
    std::vector<RtcpSdesItem> items;
};

struct RtcpFirEntry {
    uint32_t ssrc = 0;
    uint8_t seq = 0;
};

struct RtcpPacket {
    size_t offset = 0;        // of this packet within the compound
    size_t size = 0;          // (length + 1) * 4, clamped to the buffer when truncated
    uint8_t version = 0;
    bool padding = false;
    uint8_t count = 0;        // low 4 bits (RC / SC)
    uint8_t fmt = 0;          // low 5 bits (feedback FMT)
    bool wa_profile = false;  // bit 0x10 of byte 0 (WhatsApp profile extension)
    uint8_t pt = 0;
    uint16_t length_words = 0;

    uint32_t sender_ssrc = 0;  // SR/RR/205/206/208/209 (bytes 4..7)
    // SR sender info (nullopt for every other packet type, or an SR too short for it)
    struct SenderInfo {
        uint32_t ntp_sec = 0, ntp_frac = 0, rtp_ts = 0, packet_count = 0, octet_count = 0;
    };
    std::optional<SenderInfo> sender_info;
    std::vector<RtcpReportBlock> reports;
    size_t report_stride = 24;
    // SDES
    std::vector<RtcpSdesChunk> sdes;
    // 205 / 206
    uint32_t media_ssrc = 0;
    ByteView fci;
    std::vector<RtcpFirEntry> fir;  // 206 FMT 4
    // 208
    uint32_t remote_ssrc = 0;

    std::string error;  // non-empty when this packet is malformed or truncated
};

const char *rtcp_pt_name(uint8_t pt);

// How a compound parsed; the status names the first problem in buffer order.
enum class RtcpStatus {
    Ok,
    Empty,          // no bytes
    HeaderCut,      // fewer than 4 bytes left where a packet header should start
    NotVersion2,    // a header with V != 2 (not RTCP, or still encrypted): nothing sane follows
    BadPacket,      // a packet is truncated or its body malformed (its `error` says how)
};
const char *rtcp_status_name(RtcpStatus s);

struct RtcpCompound {
    std::vector<RtcpPacket> packets;  // every packet up to the first unreadable header
    RtcpStatus status = RtcpStatus::Empty;
    bool ok() const { return status == RtcpStatus::Ok; }
};

// Parses every packet of a compound. Stops at the first header that cannot be read (a packet
// with a bad body is kept with its error set); ok() when the whole buffer was consumed without
// error.
RtcpCompound parse_rtcp_compound(ByteView buf);

}  // namespace wacall::media
