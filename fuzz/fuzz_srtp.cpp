// E2E SRTP (WARP MI tag) and SRTCP with fixed StreamKeys derived from the KAT call key and peer
// id. Input: [u8 options][u32 roc] then a packet. The packet is (1) unprotected as received
// (bad tags must fail without writing), (2) protected and unprotected again (must round-trip,
// covering the decrypt paths a random tag never reaches), and the same for SRTCP.
#include "fuzz_common.h"
#include "media/srtp.h"

#include <vector>

using namespace wacall;
using namespace wacall::media;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::init_crypto();
    static StreamKeys *keys = [] {
        auto *k = new StreamKeys;
        FUZZ_CHECK(k->derive(ByteView(fuzz::kat_call_key(), 32), fuzz::kPeerLid, true));
        return k;
    }();
    fuzz::Input in(data, size);
    uint8_t o = in.u8();
    uint32_t roc = in.u32();
    ByteView pkt = in.rest();
    E2EOptions opt;
    opt.tag_len = size_t(o & 0x1F);  // 0 and 21..31 must be rejected as BadParam
    opt.tag_key = (o & 0x20) ? TagKey::SpecWarpAuthKey : TagKey::SrtpAuthKey;
    opt.iv_layout = (o & 0x40) ? IvLayout::SpecRightAligned : IvLayout::Rfc3711;

    // (1) as received, into a separate buffer and in place.
    std::vector<uint8_t> out(pkt.size + 32, 0xA5);
    RtpUnprotectInfo info;
    SrtpStatus st = e2e_unprotect(*keys, pkt, roc, opt, out.data(), pkt.size, &info);
    (void)srtp_status_name(st);
    if (opt.tag_len < 1 || opt.tag_len > 20) FUZZ_CHECK(st == SrtpStatus::BadParam);
    if (st != SrtpStatus::Ok)
        for (size_t i = 0; i < out.size(); i++) FUZZ_CHECK(out[i] == 0xA5);
    else
        FUZZ_CHECK(info.out_len + opt.tag_len == pkt.size && info.header_len + info.payload_len == info.out_len);
    std::vector<uint8_t> inplace(pkt.begin(), pkt.end());
    (void)e2e_unprotect(*keys, ByteView(inplace), roc, opt, inplace.data(), inplace.size());
    RocEstimator est(roc & 3);  // estimate -> verify -> commit, the receive order
    if (pkt.size >= 4) {
        const uint16_t seq = be16(pkt.data + 2);
        const uint32_t guess = est.estimate(seq);
        if (e2e_unprotect(*keys, pkt, guess, opt, out.data(), out.size()) == SrtpStatus::Ok) est.commit(seq, guess);
    }

    // (2) round trip: the input as plain RTP.
    if (opt.tag_len >= 1 && opt.tag_len <= 20) {
        std::vector<uint8_t> prot(pkt.size + opt.tag_len);
        size_t plen = 0;
        if (e2e_protect(*keys, pkt, roc, opt, prot.data(), prot.size(), plen) == SrtpStatus::Ok) {
            FUZZ_CHECK(plen == prot.size());
            std::vector<uint8_t> back(pkt.size);
            RtpUnprotectInfo bi;
            // Under R1 the ciphertext's DE BE may read as an extension that fills the packet: an
            // error (no payload), never wrong plaintext shown; otherwise the round trip is exact.
            SrtpStatus rt = e2e_unprotect(*keys, ByteView(prot), roc, opt, back.data(), back.size(), &bi);
            const bool ambiguous = fuzz::r1_ambiguous(prot.data(), pkt.size);
            FUZZ_CHECK(ambiguous || rt == SrtpStatus::Ok);
            FUZZ_CHECK(ambiguous || bi.out_len == pkt.size);
            FUZZ_CHECK(ambiguous || std::memcmp(back.data(), pkt.data, pkt.size) == 0);
            // A flipped tag bit always fails; a flipped body bit fails unless the truncated tag
            // collides (2^-8 per byte of tag), so check it only with tags of 8 bytes or more.
            prot[pkt.size + roc % opt.tag_len] ^= 0x80;
            FUZZ_CHECK(ambiguous ||
                       e2e_unprotect(*keys, ByteView(prot), roc, opt, back.data(), back.size()) == SrtpStatus::BadTag);
            prot[pkt.size + roc % opt.tag_len] ^= 0x80;
            prot[roc % pkt.size] ^= 0x01;
            if (opt.tag_len >= 8)
                FUZZ_CHECK(e2e_unprotect(*keys, ByteView(prot), roc, opt, back.data(), back.size()) != SrtpStatus::Ok);
        }
    }

    // SRTCP, as received and round-trip.
    std::vector<uint8_t> rout(pkt.size + 16, 0x5A);
    SrtcpInfo ri;
    SrtpStatus rs = srtcp_unprotect(keys->rtcp, pkt, rout.data(), pkt.size, &ri);
    if (rs != SrtpStatus::Ok)
        for (size_t i = 0; i < rout.size(); i++) FUZZ_CHECK(rout[i] == 0x5A);
    std::vector<uint8_t> rprot(pkt.size + kSrtcpTrailerLen);
    size_t rlen = 0;
    if (srtcp_protect(keys->rtcp, pkt, roc & 0x7FFFFFFF, o & 0x80, rprot.data(), rprot.size(), rlen) == SrtpStatus::Ok) {
        std::vector<uint8_t> back(pkt.size);
        FUZZ_CHECK(srtcp_unprotect(keys->rtcp, ByteView(rprot), back.data(), back.size(), &ri) == SrtpStatus::Ok);
        FUZZ_CHECK(ri.out_len == pkt.size && std::memcmp(back.data(), pkt.data, pkt.size) == 0);
        FUZZ_CHECK(ri.index == (roc & 0x7FFFFFFF) && ri.encrypted == bool(o & 0x80));
    }
    return 0;
}
