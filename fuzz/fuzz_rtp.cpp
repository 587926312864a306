// Relay media framing: the demux classifier, the 0x09 group forwarding envelope, the WARP RTP
// header (with and without the spec's DE BE-without-X reading, padding on and off), the hot-path
// locator, the WARP extension elements, and RTCP compounds (including the WhatsApp profile bit).
#include "fuzz_common.h"
#include "media/demux.h"
#include "media/rtp.h"

#include <vector>

using namespace wacall;
using namespace wacall::media;

namespace {

void rtp(ByteView pkt) {
    for (int variant = 0; variant < 4; variant++) {
        RtpParseOptions opt;
        opt.accept_debe_without_x = variant & 1;
        opt.interpret_padding = variant & 2;
        RtpHeader h;
        RtpParseError e = parse_rtp_header(pkt, h, opt);
        (void)rtp_parse_error_name(e);
        if (e != RtpParseError::None) continue;
        FUZZ_CHECK(h.header_len <= pkt.size);
        FUZZ_CHECK(h.header_len + h.payload_len + h.padding_len <= pkt.size);
        FUZZ_CHECK(h.n_elements <= RtpHeader::kMaxElements);
        for (unsigned i = 0; i < h.n_elements; i++) {
            const RtpExtElement &el = h.elements[i];
            FUZZ_CHECK(el.value_offset + el.len <= h.header_len);
            fuzz::touch(pkt.sub(el.value_offset, el.len));
            (void)warp_ext_element_name(el.id, el.len, warp_pt_is_video(h.payload_type));
        }
        WarpExtInfo wi = decode_warp_ext(pkt, h, warp_pt_is_video(h.payload_type));
        (void)wi;
        if (h.has_ext && h.ext_profile == kWarpExtProfile) {
            // The same block as rtp's hdr_ext table hands it over: the same elements.
            RtpHeader b;
            ByteView data = pkt.sub(h.ext_data_offset, size_t(h.ext_words) * 4);
            parse_warp_ext_elements(data, b);
            FUZZ_CHECK(b.n_elements == h.n_elements);
            for (unsigned i = 0; i < b.n_elements; i++) {
                FUZZ_CHECK(b.elements[i].id == h.elements[i].id && b.elements[i].len == h.elements[i].len);
                FUZZ_CHECK(b.elements[i].value_offset + h.ext_data_offset == h.elements[i].value_offset);
            }
            (void)decode_warp_ext(data, b, true);
        }
        (void)warp_payload_type_name(h.payload_type);
        RtpLocation loc;
        RtpParseError le = locate_rtp_payload(pkt, loc, opt.accept_debe_without_x);
        FUZZ_CHECK(le == RtpParseError::None);
        FUZZ_CHECK(loc.header_len == h.header_len && loc.ssrc == h.ssrc && loc.seq == h.seq);
    }
    RtpLocation loc;
    if (locate_rtp_payload(pkt, loc) == RtpParseError::None) FUZZ_CHECK(loc.header_len <= pkt.size);
}

void rtcp(ByteView buf) {
    const RtcpCompound c = parse_rtcp_compound(buf);
    FUZZ_CHECK(*rtcp_status_name(c.status) != '\0');
    FUZZ_CHECK(c.ok() ? !c.packets.empty() : c.status != RtcpStatus::Ok);
    for (const auto &p : c.packets) {
        FUZZ_CHECK(p.offset + p.size <= buf.size);
        (void)rtcp_pt_name(p.pt);
        for (const auto &r : p.reports) FUZZ_CHECK(r.offset + 24 <= buf.size);
        for (const auto &c : p.sdes)
            for (const auto &it : c.items) fuzz::touch(it.value);
        fuzz::touch(p.fci);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ByteView pkt(data, size);
    if (is_group_envelope(pkt)) {
        EnvelopeResult env = unwrap_group_envelope(pkt);
        FUZZ_CHECK(*envelope_status_name(env.status) != '\0' && env.ok() == (env.status == EnvelopeStatus::Ok));
        if (env.ok()) {
            FUZZ_CHECK(env.header_len + 12 <= size);
            pkt = pkt.sub(env.header_len);
            FUZZ_CHECK(classify(pkt) == PacketKind::Rtp || classify(pkt) == PacketKind::Rtcp);
        }
    }
    PacketKind k = classify(pkt);
    (void)packet_kind_name(k);
    // Every parser sees every packet: the classifier is a heuristic, the parsers must not rely on it.
    rtp(pkt);
    rtcp(pkt);
    return 0;
}
