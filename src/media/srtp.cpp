#include "media/srtp.h"

#include "media/rtp.h"
#include "media/util.h"

#include <cstring>

namespace wacall::media {

static const uint8_t kZeros[32] = {};

bool wahkdf(ByteView call_key, std::string_view participant_id, SrtpMaster &out, uint8_t *okm46) {
    if (call_key.size < 32) return false;  // a short key must produce no key at all
    static const uint8_t zero_salt[32] = {};
    uint8_t okm[46];
    ByteView info(reinterpret_cast<const uint8_t *>(participant_id.data()), participant_id.size());
    if (!crypto::hkdf_sha256(ByteView(zero_salt, 32), call_key.sub(0, 32), info, okm, sizeof okm)) return false;
    std::memcpy(out.key, okm, 16);
    std::memcpy(out.salt, okm + 16, 14);
    if (okm46) std::memcpy(okm46, okm, 46);
    return true;
}

bool srtp_kdf(crypto::AesCtr &master_cipher, const uint8_t master_salt[14], uint8_t label, uint8_t *out,
              size_t len) {
    if (len > sizeof kZeros) return false;
    uint8_t iv[16] = {};
    std::memcpy(iv, master_salt, 14);
    iv[7] ^= label;
    return master_cipher.crypt(iv, kZeros, out, len);
}

bool srtp_kdf(ByteView master_key, ByteView master_salt, uint8_t label, uint8_t *out, size_t len) {
    if (master_salt.size != 14) return false;
    crypto::AesCtr c;
    return c.set_key(master_key) && srtp_kdf(c, master_salt.data, label, out, len);
}

static bool derive_with(crypto::AesCtr &mc, const SrtpMaster &m, bool rtcp, SessionKeys &out) {
    uint8_t base = rtcp ? 3 : 0;
    return srtp_kdf(mc, m.salt, base, out.cipher_key, 16) && srtp_kdf(mc, m.salt, uint8_t(base + 1), out.auth_key, 20) &&
           srtp_kdf(mc, m.salt, uint8_t(base + 2), out.salt, 14);
}

bool derive_session_keys(const SrtpMaster &m, bool rtcp, SessionKeys &out) {
    crypto::AesCtr mc;
    return mc.set_key(ByteView(m.key, 16)) && derive_with(mc, m, rtcp, out);
}

bool SessionContext::init(const SessionKeys &k) {
    keys = k;
    ready = cipher.set_key(ByteView(keys.cipher_key, 16)) && auth.set_key(ByteView(keys.auth_key, 20));
    return ready;
}

bool StreamKeys::derive_from_master(const SrtpMaster &m) {
    master = m;
    rtp.ready = rtcp.ready = false;
    crypto::AesCtr mc;  // one keyed master cipher serves all six labels
    SessionKeys a, b;
    if (!mc.set_key(ByteView(m.key, 16)) || !derive_with(mc, m, false, a) || !derive_with(mc, m, true, b))
        return false;
    return rtp.init(a) && rtcp.init(b);
}

bool StreamKeys::derive(ByteView call_key, std::string_view participant_id, bool with_spec_warp_key) {
    SrtpMaster m;
    if (!wahkdf(call_key, participant_id, m) || !derive_from_master(m)) return false;
    return !with_spec_warp_key || set_spec_warp_key(call_key);
}

bool StreamKeys::set_spec_warp_key(ByteView call_key) {
    has_spec_warp_auth = false;
    if (call_key.size < 32) return false;
    static const char label[] = "warp auth key";
    uint8_t key[32];
    if (!crypto::hkdf_sha256({}, call_key.sub(0, 32), ByteView(reinterpret_cast<const uint8_t *>(label), sizeof label - 1),
                             key, sizeof key))
        return false;
    has_spec_warp_auth = spec_warp_auth.set_key(ByteView(key, 32));
    return has_spec_warp_auth;
}

const char *srtp_status_name(SrtpStatus s) {
    switch (s) {
    case SrtpStatus::Ok: return "ok";
    case SrtpStatus::BadTag: return "authentication tag mismatch";
    case SrtpStatus::TooShort: return "packet too short";
    case SrtpStatus::NoPayload: return "no payload after the header";
    case SrtpStatus::BadHeader: return "malformed RTP header";
    case SrtpStatus::BadParam: return "bad parameter (key, tag length or buffer)";
    }
    return "?";
}

void build_srtp_iv(const uint8_t salt[14], uint32_t ssrc, uint64_t index, IvLayout layout, uint8_t iv[16]) {
    std::memset(iv, 0, 16);
    std::memcpy(iv + (layout == IvLayout::Rfc3711 ? 0 : 2), salt, 14);
    iv[4] ^= uint8_t(ssrc >> 24);
    iv[5] ^= uint8_t(ssrc >> 16);
    iv[6] ^= uint8_t(ssrc >> 8);
    iv[7] ^= uint8_t(ssrc);
    for (int i = 0; i < 6; i++) iv[8 + i] ^= uint8_t(index >> (40 - 8 * i));
}

void warp_mi_tag(crypto::HmacSha1 &auth, ByteView packet_without_tag, uint32_t roc, uint8_t *tag, size_t tag_len) {
    uint8_t r[4], full[20];
    put_be32(r, roc);
    auth.compute(packet_without_tag, ByteView(r, 4), full);
    std::memcpy(tag, full, tag_len > 20 ? 20 : tag_len);
}

static crypto::HmacSha1 *tag_handle(StreamKeys &k, const E2EOptions &opt) {
    if (opt.tag_key == TagKey::SpecWarpAuthKey) return k.has_spec_warp_auth ? &k.spec_warp_auth : nullptr;
    return k.rtp.ready ? &k.rtp.auth : nullptr;
}

// Locates the payload of a tagless RTP packet.
static SrtpStatus locate(ByteView body, RtpLocation &h) {
    // P is not interpreted: on the wire the padding count is ciphertext.
    switch (locate_rtp_payload(body, h)) {
    case RtpParseError::None: break;
    case RtpParseError::TooShort: return SrtpStatus::TooShort;
    default: return SrtpStatus::BadHeader;
    }
    return h.header_len < body.size ? SrtpStatus::Ok : SrtpStatus::NoPayload;
}

SrtpStatus e2e_unprotect(StreamKeys &k, ByteView packet, uint32_t roc, const E2EOptions &opt, uint8_t *out,
                         size_t out_cap, RtpUnprotectInfo *info) {
    return e2e_unprotect_ex(k, packet, roc, opt, out, out_cap, info, true);
}

SrtpStatus e2e_unprotect_ex(StreamKeys &k, ByteView packet, uint32_t roc, const E2EOptions &opt, uint8_t *out,
                            size_t out_cap, RtpUnprotectInfo *info, bool verify_tag) {
    if (opt.tag_len < 1 || opt.tag_len > 20 || !out) return SrtpStatus::BadParam;
    crypto::HmacSha1 *auth = tag_handle(k, opt);
    if (!auth || !k.rtp.ready) return SrtpStatus::BadParam;
    if (packet.size < 12 + opt.tag_len) return SrtpStatus::TooShort;
    ByteView body = packet.sub(0, packet.size - opt.tag_len);
    if (out_cap < body.size) return SrtpStatus::BadParam;
    RtpLocation h;
    SrtpStatus st = locate(body, h);
    if (st != SrtpStatus::Ok) return st;

    if (verify_tag) {
        uint8_t want[20];
        warp_mi_tag(*auth, body, roc, want, opt.tag_len);
        if (!detail::ct_equal(want, packet.data + body.size, opt.tag_len)) return SrtpStatus::BadTag;
    }

    uint8_t iv[16];
    build_srtp_iv(k.rtp.keys.salt, h.ssrc, (uint64_t(roc) << 16) | h.seq, opt.iv_layout, iv);
    if (out != packet.data) std::memmove(out, packet.data, h.header_len);
    if (!k.rtp.cipher.crypt(iv, packet.data + h.header_len, out + h.header_len, body.size - h.header_len))
        return SrtpStatus::BadParam;
    detail::fill_unprotect_info(info, body.size, h, roc);
    return SrtpStatus::Ok;
}

SrtpStatus e2e_protect(StreamKeys &k, ByteView rtp, uint32_t roc, const E2EOptions &opt, uint8_t *out,
                       size_t out_cap, size_t &out_len) {
    out_len = 0;
    if (opt.tag_len < 1 || opt.tag_len > 20 || !out) return SrtpStatus::BadParam;
    crypto::HmacSha1 *auth = tag_handle(k, opt);
    if (!auth || !k.rtp.ready) return SrtpStatus::BadParam;
    if (out_cap < rtp.size + opt.tag_len) return SrtpStatus::BadParam;
    RtpLocation h;
    SrtpStatus st = locate(rtp, h);
    if (st != SrtpStatus::Ok) return st;
    uint8_t iv[16];
    build_srtp_iv(k.rtp.keys.salt, h.ssrc, (uint64_t(roc) << 16) | h.seq, opt.iv_layout, iv);
    if (out != rtp.data) std::memmove(out, rtp.data, h.header_len);
    if (!k.rtp.cipher.crypt(iv, rtp.data + h.header_len, out + h.header_len, rtp.size - h.header_len))
        return SrtpStatus::BadParam;
    warp_mi_tag(*auth, ByteView(out, rtp.size), roc, out + rtp.size, opt.tag_len);
    out_len = rtp.size + opt.tag_len;
    return SrtpStatus::Ok;
}

uint32_t RocEstimator::estimate(uint16_t seq) const {
    if (!started_) return roc_;
    // RFC 3711 §3.3.1: the index closest to the highest one seen.
    if (s_l_ < 0x8000) {
        if (int32_t(seq) - int32_t(s_l_) > 0x8000) return roc_ - 1;  // a late packet from before the wrap
    } else if (int32_t(s_l_) - int32_t(seq) > 0x8000) {
        return roc_ + 1;  // the sequence wrapped
    }
    return roc_;
}

void RocEstimator::commit(uint16_t seq, uint32_t roc) {
    uint64_t idx = (uint64_t(roc) << 16) | seq, cur = (uint64_t(roc_) << 16) | s_l_;
    if (!started_ || idx > cur) {
        started_ = true;
        s_l_ = seq;
        roc_ = roc;
    }
}

// ---- SRTCP ------------------------------------------------------------------------------------

SrtpStatus srtcp_unprotect(SessionContext &k, ByteView packet, uint8_t *out, size_t out_cap, SrtcpInfo *info) {
    if (!k.ready || !out) return SrtpStatus::BadParam;
    if (packet.size < 8 + kSrtcpTrailerLen) return SrtpStatus::TooShort;
    size_t auth_len = packet.size - kSrtcpTagLen;   // everything the tag covers
    size_t rtcp_len = auth_len - 4;                 // without the E|index word
    if (out_cap < rtcp_len) return SrtpStatus::BadParam;
    uint8_t want[20];
    k.auth.compute(packet.sub(0, auth_len), {}, want);
    if (!detail::ct_equal(want, packet.data + auth_len, kSrtcpTagLen)) return SrtpStatus::BadTag;
    uint32_t word = be32(packet.data + rtcp_len);
    uint32_t index = word & 0x7FFFFFFF;
    bool e = word & 0x80000000u;
    uint32_t ssrc = be32(packet.data + 4);
    if (out != packet.data) std::memmove(out, packet.data, 8);
    if (e) {
        uint8_t iv[16];
        build_srtp_iv(k.keys.salt, ssrc, index, IvLayout::Rfc3711, iv);
        if (!k.cipher.crypt(iv, packet.data + 8, out + 8, rtcp_len - 8)) return SrtpStatus::BadParam;
    } else if (out != packet.data) {
        std::memmove(out + 8, packet.data + 8, rtcp_len - 8);
    }
    if (info) {
        info->out_len = rtcp_len;
        info->index = index;
        info->encrypted = e;
        info->ssrc = ssrc;
    }
    return SrtpStatus::Ok;
}

SrtpStatus srtcp_protect(SessionContext &k, ByteView rtcp, uint32_t index, bool encrypt, uint8_t *out,
                         size_t out_cap, size_t &out_len) {
    out_len = 0;
    if (!k.ready || !out || index > 0x7FFFFFFF) return SrtpStatus::BadParam;
    if (rtcp.size < 8) return SrtpStatus::TooShort;
    if (out_cap < rtcp.size + kSrtcpTrailerLen) return SrtpStatus::BadParam;
    uint32_t ssrc = be32(rtcp.data + 4);
    if (out != rtcp.data) std::memmove(out, rtcp.data, 8);
    if (encrypt) {
        uint8_t iv[16];
        build_srtp_iv(k.keys.salt, ssrc, index, IvLayout::Rfc3711, iv);
        if (!k.cipher.crypt(iv, rtcp.data + 8, out + 8, rtcp.size - 8)) return SrtpStatus::BadParam;
    } else if (out != rtcp.data) {
        std::memmove(out + 8, rtcp.data + 8, rtcp.size - 8);
    }
    put_be32(out + rtcp.size, (encrypt ? 0x80000000u : 0) | index);
    uint8_t tag[20];
    k.auth.compute(ByteView(out, rtcp.size + 4), {}, tag);
    std::memcpy(out + rtcp.size + 4, tag, kSrtcpTagLen);
    out_len = rtcp.size + kSrtcpTrailerLen;
    return SrtpStatus::Ok;
}

}  // namespace wacall::media
