// Hop-by-hop SRTP/SRTCP with keys from the KAT hbh_key: both derivations (RFC 3711 bytes as they
// are, the two-stage HKDF with every label pair), unprotect as received, protect/unprotect round
// trips, and the libsrtp ICM keystream with a counter near the 16-bit wrap.
// Input: [u8 options][u32 roc] then a packet.
#include "fuzz_common.h"
#include "media/hbh.h"

#include <vector>

using namespace wacall;
using namespace wacall::media;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::init_crypto();
    static HbhKeys *keys = [] {
        auto *k = new HbhKeys[5];
        ByteView hk(fuzz::kat_hbh_key(), 30);
        FUZZ_CHECK(k[0].init_rfc3711(hk));
        FUZZ_CHECK(k[1].init_hkdf(hk, HbhLabelPair::UplinkSrtcp));
        FUZZ_CHECK(k[2].init_hkdf(hk, HbhLabelPair::DownlinkSrtcp));
        FUZZ_CHECK(k[3].init_hkdf(hk, HbhLabelPair::SharedSrtcp));
        FUZZ_CHECK(k[4].init_hkdf(hk, HbhLabelPair::SharedSrtp));
        return k;
    }();
    fuzz::Input in(data, size);
    uint8_t o = in.u8();
    uint32_t roc = in.u32();
    ByteView pkt = in.rest();
    HbhKeys &k = keys[(o >> 5) % 5];
    size_t tag_len = (o & 0x10) ? 10 : 4;
    if ((o & 0x0F) == 0x0F) tag_len = 0;  // invalid: BadParam

    std::vector<uint8_t> out(pkt.size + 1, 0x3C);
    RtpUnprotectInfo info;
    SrtpStatus st = hbh_rtp_unprotect(k, pkt, roc, tag_len, out.data(), pkt.size, &info);
    if (st != SrtpStatus::Ok)
        for (uint8_t b : out) FUZZ_CHECK(b == 0x3C);
    if (tag_len) {
        std::vector<uint8_t> prot(pkt.size + tag_len);
        size_t plen = 0;
        if (hbh_rtp_protect(k, pkt, roc, tag_len, prot.data(), prot.size(), plen) == SrtpStatus::Ok) {
            std::vector<uint8_t> back(pkt.size);
            // Under R1 the receiver may read the ciphertext's DE BE as a header extension: then it can
            // also consume the whole packet (no payload), an error, never wrong plaintext shown.
            SrtpStatus rt = hbh_rtp_unprotect(k, ByteView(prot), roc, tag_len, back.data(), back.size());
            const bool ambiguous = fuzz::r1_ambiguous(prot.data(), pkt.size);
            FUZZ_CHECK(ambiguous || rt == SrtpStatus::Ok);
            FUZZ_CHECK(ambiguous || std::memcmp(back.data(), pkt.data, pkt.size) == 0);
        }
    }
    std::vector<uint8_t> rout(pkt.size + 1);
    SrtcpInfo ri;
    (void)srtcp_unprotect(k.rtcp, pkt, rout.data(), pkt.size, &ri);
    // The raw ICM keystream: nonce from the input, lengths up to the packet.
    if (pkt.size >= 16) {
        std::vector<uint8_t> x(pkt.size - 16), y(pkt.size - 16);
        FUZZ_CHECK(hbh_icm_crypt(k.ecb, k.rtp.keys.salt, pkt.data, pkt.data + 16, x.data(), x.size()));
        FUZZ_CHECK(hbh_icm_crypt(k.ecb, k.rtp.keys.salt, pkt.data, x.data(), y.data(), y.size()));
        FUZZ_CHECK(y.empty() || std::memcmp(y.data(), pkt.data + 16, y.size()) == 0);
    }
    return 0;
}
