#include "media/srtp.h"

#include "media/rtp.h"
#include "media/util.h"

#include <cstring>

namespace wacall::media {

static const uint8_t kZeros[32] = {};

std::optional<std::array<uint8_t, 46>> wahkdf_okm(ByteView call_key, std::string_view participant_id) {
    if (call_key.size < 32) return std::nullopt;  // a short key must produce no key at all
    static const uint8_t zero_salt[32] = {};
    ByteView info(reinterpret_cast<const uint8_t *>(participant_id.data()), participant_id.size());
    return crypto::hkdf_sha256<46>(ByteView(zero_salt, 32), call_key.sub(0, 32), info);
}

std::optional<SrtpMaster> wahkdf(ByteView call_key, std::string_view participant_id) {
    std::optional<std::array<uint8_t, 46>> okm = wahkdf_okm(call_key, participant_id);
    if (!okm) return std::nullopt;
    SrtpMaster m;
    std::memcpy(m.key, okm->data(), 16);
    std::memcpy(m.salt, okm->data() + 16, 14);
    return m;
}

bool detail::srtp_kdf(crypto::AesCtr &master_cipher, const uint8_t master_salt[14], uint8_t label, uint8_t *out,
                      size_t len) {
    if (len > sizeof kZeros) return false;
    uint8_t iv[16] = {};
    std::memcpy(iv, master_salt, 14);
    iv[7] ^= label;
    return master_cipher.crypt(iv, kZeros, out, len);
}

static std::optional<SessionKeys> derive_with(crypto::AesCtr &mc, const SrtpMaster &m, bool rtcp) {
    const uint8_t base = rtcp ? 3 : 0;
    std::optional<std::array<uint8_t, 16>> cipher_key = srtp_kdf<16>(mc, m.salt, base);
    std::optional<std::array<uint8_t, 20>> auth_key = srtp_kdf<20>(mc, m.salt, uint8_t(base + 1));
    std::optional<std::array<uint8_t, 14>> salt = srtp_kdf<14>(mc, m.salt, uint8_t(base + 2));
    if (!cipher_key || !auth_key || !salt) return std::nullopt;
    SessionKeys k;
    std::memcpy(k.cipher_key, cipher_key->data(), 16);
    std::memcpy(k.auth_key, auth_key->data(), 20);
    std::memcpy(k.salt, salt->data(), 14);
    return k;
}

std::optional<SessionKeys> derive_session_keys(const SrtpMaster &m, bool rtcp) {
    crypto::AesCtr mc;
    if (!mc.set_key(ByteView(m.key, 16))) return std::nullopt;
    return derive_with(mc, m, rtcp);
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
    if (!mc.set_key(ByteView(m.key, 16))) return false;
    std::optional<SessionKeys> a = derive_with(mc, m, false), b = derive_with(mc, m, true);
    return a && b && rtp.init(*a) && rtcp.init(*b);
}

bool StreamKeys::derive(ByteView call_key, std::string_view participant_id, bool with_spec_warp_key) {
    std::optional<SrtpMaster> m = wahkdf(call_key, participant_id);
    if (!m || !derive_from_master(*m)) return false;
    return !with_spec_warp_key || set_spec_warp_key(call_key);
}

bool StreamKeys::set_spec_warp_key(ByteView call_key) {
    has_spec_warp_auth = false;
    if (call_key.size < 32) return false;
    static const char label[] = "warp auth key";
    std::optional<std::array<uint8_t, 32>> key = crypto::hkdf_sha256<32>(
        {}, call_key.sub(0, 32), ByteView(reinterpret_cast<const uint8_t *>(label), sizeof label - 1));
    if (!key) return false;
    has_spec_warp_auth = spec_warp_auth.set_key(ByteView(key->data(), 32));
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
