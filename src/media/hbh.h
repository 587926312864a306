// Hop-by-hop SRTP/SRTCP keys (reference digest §4.7, spec digest §3.4 with contradiction X1).
// Two derivations of the 30-byte master key ‖ salt from the relay's <hbh_key>:
//   (A) RFC 3711 only: the 30 bytes are master key (16) ‖ master salt (14);
//   (B) the two-stage HKDF with a label pair: salt32 = HKDF(0^32, hbh_key[0:14], salt label, 32),
//       key30 = HKDF(salt32, hbh_key[14:30], key label, 30).
// Session keys follow libsrtp (labels 0/1/2 RTP, 3/4/5 RTCP). HBH RTP uses libsrtp AES-ICM: the
// counter is (salt ‖ 00 00) XOR nonce and only its last 16 bits count (carry into byte 14 only).
#pragma once

#include "common/bytes.h"
#include "crypto/crypto.h"
#include "media/srtp.h"

namespace wacall::media {

enum class HbhLabelPair { UplinkSrtcp, DownlinkSrtcp, SharedSrtcp, SharedSrtp };
const char *hbh_salt_label(HbhLabelPair p);  // e.g. "uplink hbh srtcp salt"
const char *hbh_key_label(HbhLabelPair p);   // e.g. "uplink hbh srtcp key"

// Derivation (B): the 30-byte master key ‖ salt and the 32-byte intermediate salt it came from.
struct HbhDerived {
    std::array<uint8_t, 30> key30;
    std::array<uint8_t, 32> salt32;
};
// nullopt unless hbh_key is 30 bytes (or if libgcrypt fails).
std::optional<HbhDerived> hbh_derive_key30(ByteView hbh_key, HbhLabelPair pair);

// HBH RTP nonce (build_rtp_icm_nonce): zero, SSRC at bytes 4..7, (index << 16) u64 BE at 8..15.
void hbh_rtp_icm_nonce(uint32_t ssrc, uint64_t index, uint8_t nonce[16]);

// libsrtp AES-ICM keystream XOR: counter = (salt ‖ 00 00) XOR nonce; after each block byte 15
// increments with a carry only into byte 14. out may equal in.
bool hbh_icm_crypt(crypto::AesEcb &ecb, const uint8_t salt[14], const uint8_t nonce[16], const uint8_t *in,
                   uint8_t *out, size_t len);

class HbhKeys {
public:
    // key30 = master key (16) ‖ master salt (14): either the relay bytes as they are (A) or the
    // output of hbh_derive_key30 (B).
    bool init_from_key30(ByteView key30);
    bool init_rfc3711(ByteView hbh_key) { return init_from_key30(hbh_key); }
    bool init_hkdf(ByteView hbh_key, HbhLabelPair pair);
    bool valid() const { return rtp.ready && rtcp.ready && ecb.valid(); }

    SrtpMaster master;
    SessionContext rtp;   // labels 0..2 (its AesCtr is unused: RTP goes through ecb)
    SessionContext rtcp;  // labels 3..5; use with srtcp_protect / srtcp_unprotect
    crypto::AesEcb ecb;   // keyed with the RTP session key
};

// HBH SRTP (AES_CM_128_HMAC_SHA1_80 with a tag of tag_len, 4 or 10 on the wire):
// tag = HMAC-SHA1(rtp auth key, packet_without_tag ‖ ROC)[0:tag_len]; verified before decrypting.
SrtpStatus hbh_rtp_unprotect(HbhKeys &k, ByteView packet, uint32_t roc, size_t tag_len, uint8_t *out,
                             size_t out_cap, RtpUnprotectInfo *info = nullptr);
SrtpStatus hbh_rtp_protect(HbhKeys &k, ByteView rtp, uint32_t roc, size_t tag_len, uint8_t *out, size_t out_cap,
                           size_t &out_len);

// Where the E2E WARP MI tag sits relative to the hop-by-hop layer (spec digest X9: CRY-05 puts
// HBH after E2E, REL-07's loops have no HBH step at all).
//   MiInside:  wire = HBH(header ‖ E2E payload ‖ MI) ‖ HBH tag   (E2E packet, then HBH over it)
//   MiOutside: wire = HBH(header ‖ E2E payload) ‖ HBH tag ‖ MI   (MI over the E2E packet, appended last)
enum class HbhPlacement { MiInside, MiOutside };

// Removes the hop-by-hop layer and writes the E2E packet (header ‖ E2E payload ‖ MI) to out, ready
// for e2e_unprotect. The HBH tag is verified first; out (capacity >= wire.size) is not written on
// failure. out_len is the E2E packet length.
SrtpStatus hbh_strip(HbhKeys &k, ByteView wire, uint32_t roc, size_t hbh_tag_len, HbhPlacement placement,
                     size_t mi_len, uint8_t *out, size_t out_cap, size_t &out_len);
// The inverse, for tests and generators: wraps an E2E packet (with its MI) in the HBH layer.
SrtpStatus hbh_wrap(HbhKeys &k, ByteView e2e_packet, uint32_t roc, size_t hbh_tag_len, HbhPlacement placement,
                    size_t mi_len, uint8_t *out, size_t out_cap, size_t &out_len);

}  // namespace wacall::media
