#include "media/hbh.h"

#include "media/rtp.h"
#include "media/util.h"

#include <cstring>

namespace wacall::media {

const char *hbh_salt_label(HbhLabelPair p) {
    switch (p) {
    case HbhLabelPair::UplinkSrtcp: return "uplink hbh srtcp salt";
    case HbhLabelPair::DownlinkSrtcp: return "downlink hbh srtcp salt";
    case HbhLabelPair::SharedSrtcp: return "hbh srtcp salt";
    case HbhLabelPair::SharedSrtp: return "hbh srtp salt";
    }
    return "";
}

const char *hbh_key_label(HbhLabelPair p) {
    switch (p) {
    case HbhLabelPair::UplinkSrtcp: return "uplink hbh srtcp key";
    case HbhLabelPair::DownlinkSrtcp: return "downlink hbh srtcp key";
    case HbhLabelPair::SharedSrtcp: return "hbh srtcp key";
    case HbhLabelPair::SharedSrtp: return "hbh srtp key";
    }
    return "";
}

static ByteView text(const char *s) { return ByteView(reinterpret_cast<const uint8_t *>(s), std::strlen(s)); }

std::optional<HbhDerived> hbh_derive_key30(ByteView hbh_key, HbhLabelPair pair) {
    if (hbh_key.size != 30) return std::nullopt;
    static const uint8_t zeros[32] = {};
    // hbh_key = salt seed (bytes 0..13) ‖ key seed (bytes 14..29), per hbh_srtp.rs.
    std::optional<std::array<uint8_t, 32>> s32 =
        crypto::hkdf_sha256<32>(ByteView(zeros, 32), hbh_key.sub(0, 14), text(hbh_salt_label(pair)));
    if (!s32) return std::nullopt;
    std::optional<std::array<uint8_t, 30>> k30 =
        crypto::hkdf_sha256<30>(ByteView(s32->data(), 32), hbh_key.sub(14, 16), text(hbh_key_label(pair)));
    if (!k30) return std::nullopt;
    return HbhDerived{*k30, *s32};
}

void hbh_rtp_icm_nonce(uint32_t ssrc, uint64_t index, uint8_t nonce[16]) {
    std::memset(nonce, 0, 16);
    put_be32(nonce + 4, ssrc);
    uint64_t v = index << 16;
    for (int i = 0; i < 8; i++) nonce[8 + i] = uint8_t(v >> (56 - 8 * i));
}

bool hbh_icm_crypt(crypto::AesEcb &ecb, const uint8_t salt[14], const uint8_t nonce[16], const uint8_t *in,
                   uint8_t *out, size_t len) {
    uint8_t ctr[16];
    for (int i = 0; i < 14; i++) ctr[i] = uint8_t(salt[i] ^ nonce[i]);
    ctr[14] = nonce[14];
    ctr[15] = nonce[15];
    // Batch several counter blocks per libgcrypt call; the 16-bit counter lives in bytes 14..15.
    constexpr size_t kBatch = 8;
    uint8_t blocks[kBatch * 16], ks[kBatch * 16];
    uint16_t c = be16(ctr + 14);
    size_t done = 0;
    while (done < len) {
        size_t nblk = (len - done + 15) / 16;
        if (nblk > kBatch) nblk = kBatch;
        for (size_t b = 0; b < nblk; b++) {
            std::memcpy(blocks + 16 * b, ctr, 14);
            put_be16(blocks + 16 * b + 14, c);
            c = uint16_t(c + 1);  // wraps within 16 bits, never touching byte 13
        }
        if (!ecb.encrypt(blocks, ks, nblk * 16)) return false;
        size_t n = len - done < nblk * 16 ? len - done : nblk * 16;
        for (size_t i = 0; i < n; i++) out[done + i] = uint8_t(in[done + i] ^ ks[i]);
        done += n;
    }
    return true;
}

bool HbhKeys::init_from_key30(ByteView key30) {
    rtp.ready = rtcp.ready = false;
    if (key30.size != 30) return false;
    std::memcpy(master.key, key30.data, 16);
    std::memcpy(master.salt, key30.data + 16, 14);
    std::optional<SessionKeys> a = derive_session_keys(master, false), b = derive_session_keys(master, true);
    if (!a || !b) return false;
    return rtp.init(*a) && rtcp.init(*b) && ecb.set_key(ByteView(rtp.keys.cipher_key, 16));
}

bool HbhKeys::init_hkdf(ByteView hbh_key, HbhLabelPair pair) {
    std::optional<HbhDerived> d = hbh_derive_key30(hbh_key, pair);
    return d && init_from_key30(ByteView(d->key30.data(), 30));
}

static SrtpStatus hbh_locate(ByteView body, RtpLocation &h) {
    // P is not interpreted: on the wire the padding count is ciphertext.
    switch (locate_rtp_payload(body, h)) {
    case RtpParseError::None: break;
    case RtpParseError::TooShort: return SrtpStatus::TooShort;
    default: return SrtpStatus::BadHeader;
    }
    return h.header_len < body.size ? SrtpStatus::Ok : SrtpStatus::NoPayload;
}

SrtpStatus hbh_rtp_unprotect(HbhKeys &k, ByteView packet, uint32_t roc, size_t tag_len, uint8_t *out,
                             size_t out_cap, RtpUnprotectInfo *info) {
    if (!k.valid() || !out || tag_len < 1 || tag_len > 20) return SrtpStatus::BadParam;
    if (packet.size < 12 + tag_len) return SrtpStatus::TooShort;
    ByteView body = packet.sub(0, packet.size - tag_len);
    if (out_cap < body.size) return SrtpStatus::BadParam;
    RtpLocation h;
    SrtpStatus st = hbh_locate(body, h);
    if (st != SrtpStatus::Ok) return st;
    uint8_t want[20];
    warp_mi_tag(k.rtp.auth, body, roc, want, tag_len);  // same HMAC(packet ‖ ROC) construction
    if (!detail::ct_equal(want, packet.data + body.size, tag_len)) return SrtpStatus::BadTag;
    uint8_t nonce[16];
    hbh_rtp_icm_nonce(h.ssrc, (uint64_t(roc) << 16) | h.seq, nonce);
    if (out != packet.data) std::memmove(out, packet.data, h.header_len);
    if (!hbh_icm_crypt(k.ecb, k.rtp.keys.salt, nonce, packet.data + h.header_len, out + h.header_len,
                       body.size - h.header_len))
        return SrtpStatus::BadParam;
    detail::fill_unprotect_info(info, body.size, h, roc);
    return SrtpStatus::Ok;
}

SrtpStatus hbh_rtp_protect(HbhKeys &k, ByteView rtp, uint32_t roc, size_t tag_len, uint8_t *out, size_t out_cap,
                           size_t &out_len) {
    out_len = 0;
    if (!k.valid() || !out || tag_len < 1 || tag_len > 20 || out_cap < rtp.size + tag_len) return SrtpStatus::BadParam;
    RtpLocation h;
    SrtpStatus st = hbh_locate(rtp, h);
    if (st != SrtpStatus::Ok) return st;
    uint8_t nonce[16];
    hbh_rtp_icm_nonce(h.ssrc, (uint64_t(roc) << 16) | h.seq, nonce);
    if (out != rtp.data) std::memmove(out, rtp.data, h.header_len);
    if (!hbh_icm_crypt(k.ecb, k.rtp.keys.salt, nonce, rtp.data + h.header_len, out + h.header_len,
                       rtp.size - h.header_len))
        return SrtpStatus::BadParam;
    warp_mi_tag(k.rtp.auth, ByteView(out, rtp.size), roc, out + rtp.size, tag_len);
    out_len = rtp.size + tag_len;
    return SrtpStatus::Ok;
}

SrtpStatus hbh_strip(HbhKeys &k, ByteView wire, uint32_t roc, size_t hbh_tag_len, HbhPlacement placement,
                     size_t mi_len, uint8_t *out, size_t out_cap, size_t &out_len) {
    out_len = 0;
    if (!out || out_cap < wire.size || mi_len > 20) return SrtpStatus::BadParam;
    size_t mi = placement == HbhPlacement::MiOutside ? mi_len : 0;
    if (wire.size < 12 + hbh_tag_len + mi) return SrtpStatus::TooShort;
    ByteView inner = wire.sub(0, wire.size - mi);
    RtpUnprotectInfo info;
    SrtpStatus st = hbh_rtp_unprotect(k, inner, roc, hbh_tag_len, out, out_cap, &info);
    if (st != SrtpStatus::Ok) return st;
    if (mi) std::memmove(out + info.out_len, wire.data + inner.size, mi);  // MI rejoins the E2E packet
    out_len = info.out_len + mi;
    return SrtpStatus::Ok;
}

SrtpStatus hbh_wrap(HbhKeys &k, ByteView e2e_packet, uint32_t roc, size_t hbh_tag_len, HbhPlacement placement,
                    size_t mi_len, uint8_t *out, size_t out_cap, size_t &out_len) {
    out_len = 0;
    size_t mi = placement == HbhPlacement::MiOutside ? mi_len : 0;
    if (!out || mi > 20 || e2e_packet.size < 12 + mi || out_cap < e2e_packet.size + hbh_tag_len) return SrtpStatus::BadParam;
    uint8_t tag[20];
    if (mi) std::memcpy(tag, e2e_packet.data + e2e_packet.size - mi, mi);
    size_t n = 0;
    SrtpStatus st = hbh_rtp_protect(k, e2e_packet.sub(0, e2e_packet.size - mi), roc, hbh_tag_len, out, out_cap, n);
    if (st != SrtpStatus::Ok) return st;
    if (mi) std::memcpy(out + n, tag, mi);
    out_len = n + mi;
    return SrtpStatus::Ok;
}

}  // namespace wacall::media
