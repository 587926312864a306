// E2E SRTP / SRTCP for WhatsApp calls (reference digest §4.5/§4.6, spec digest §3.3/§3.5):
// WAHKDF master derivation, the RFC 3711 AES-CM KDF, the WARP MI tag, the per-stream ROC
// estimator, and SRTCP. Keys are derived once per sender into a StreamKeys object holding keyed
// libgcrypt handles; per-packet calls never allocate and write into a caller buffer.
//
// Spec contradictions are selectable (E2EOptions): the tag key (reference: the sender's SRTP auth
// key; spec CRY-07: HKDF(callKey, "warp auth key")) and the IV layout (reference: RFC 3711 salt
// left-aligned; spec: salt right-aligned in iv[2..16]). The reference choices are the defaults and
// are the ones pinned by the KATs.
#pragma once

#include "common/bytes.h"
#include "crypto/crypto.h"

#include <array>
#include <optional>
#include <string_view>

namespace wacall::media {

struct SrtpMaster {
    uint8_t key[16] = {};
    uint8_t salt[14] = {};
};

// okm = HKDF(32 zero bytes, callKey[0:32], participant id, 46); master = okm[0:16] / okm[16:30].
// call_key must hold at least 32 bytes (only the first 32 are used): nullopt for a shorter one.
std::optional<std::array<uint8_t, 46>> wahkdf_okm(ByteView call_key, std::string_view participant_id);
std::optional<SrtpMaster> wahkdf(ByteView call_key, std::string_view participant_id);

// RFC 3711 §4.3 AES-CM PRF with kdr = 0: the first N bytes (N <= 32) of the AES-128-CTR keystream
// under the master key from IV = salt ‖ 00 00 with IV[7] ^= label. nullopt if the cipher fails
// (an unkeyed master cipher; the ByteView form: a salt that is not 14 bytes or a bad key size).
namespace detail {
bool srtp_kdf(crypto::AesCtr &master_cipher, const uint8_t master_salt[14], uint8_t label, uint8_t *out, size_t len);
}
template <size_t N>
std::optional<std::array<uint8_t, N>> srtp_kdf(crypto::AesCtr &master_cipher, const uint8_t master_salt[14],
                                               uint8_t label) {
    static_assert(N > 0 && N <= 32, "the KDF keystream is taken from 32 zero bytes");
    std::array<uint8_t, N> out;
    if (!detail::srtp_kdf(master_cipher, master_salt, label, out.data(), N)) return std::nullopt;
    return out;
}
template <size_t N>
std::optional<std::array<uint8_t, N>> srtp_kdf(ByteView master_key, ByteView master_salt, uint8_t label) {
    if (master_salt.size != 14) return std::nullopt;
    crypto::AesCtr c;
    if (!c.set_key(master_key)) return std::nullopt;
    return srtp_kdf<N>(c, master_salt.data, label);
}

struct SessionKeys {
    uint8_t cipher_key[16] = {};
    uint8_t auth_key[20] = {};
    uint8_t salt[14] = {};
};
// Labels 0/1/2 (rtcp = false) or 3/4/5 (rtcp = true). nullopt only if libgcrypt fails.
std::optional<SessionKeys> derive_session_keys(const SrtpMaster &m, bool rtcp);

// One direction-and-kind of session keys with their keyed handles.
struct SessionContext {
    SessionKeys keys;
    crypto::AesCtr cipher;
    crypto::HmacSha1 auth;
    bool ready = false;
    bool init(const SessionKeys &k);
};

// Everything needed to authenticate and decrypt one sender's RTP and SRTCP.
class StreamKeys {
public:
    // WAHKDF(callKey, sender participant id) then labels 0..5. with_spec_warp_key also derives the
    // spec's CRY-07 tag key HKDF(empty salt, callKey, "warp auth key", 32).
    bool derive(ByteView call_key, std::string_view participant_id, bool with_spec_warp_key = false);
    bool derive_from_master(const SrtpMaster &m);
    bool set_spec_warp_key(ByteView call_key);
    bool valid() const { return rtp.ready && rtcp.ready; }

    SrtpMaster master;
    SessionContext rtp;   // labels 0..2
    SessionContext rtcp;  // labels 3..5
    crypto::HmacSha1 spec_warp_auth;
    bool has_spec_warp_auth = false;
};

enum class SrtpStatus { Ok, BadTag, TooShort, NoPayload, BadHeader, BadParam };
const char *srtp_status_name(SrtpStatus s);

enum class TagKey { SrtpAuthKey, SpecWarpAuthKey };
enum class IvLayout { Rfc3711, SpecRightAligned };

struct E2EOptions {
    size_t tag_len = 4;  // warp_mi_tag_len, 1..20
    TagKey tag_key = TagKey::SrtpAuthKey;
    IvLayout iv_layout = IvLayout::Rfc3711;
};

// The per-packet AES-CTR IV. Rfc3711: iv[0..14] = salt, iv[14..16] = 0. SpecRightAligned:
// iv[0..2] = 0, iv[2..16] = salt. Both then XOR the SSRC into iv[4..8] and the 48-bit index into
// iv[8..14].
void build_srtp_iv(const uint8_t salt[14], uint32_t ssrc, uint64_t index, IvLayout layout, uint8_t iv[16]);

struct RtpUnprotectInfo {
    size_t out_len = 0;      // header + plaintext payload (the packet without its tag)
    size_t header_len = 0;   // the plaintext payload starts at out + header_len
    size_t payload_len = 0;
    uint16_t seq = 0;
    uint32_t ssrc = 0;
    uint32_t roc = 0;
};

// WARP MI tag = HMAC-SHA1(key, packet_without_tag ‖ ROC BE)[0:tag_len] into tag (tag_len bytes).
void warp_mi_tag(crypto::HmacSha1 &auth, ByteView packet_without_tag, uint32_t roc, uint8_t *tag, size_t tag_len);

// Verifies the WARP MI tag with `roc` and only then writes header ‖ decrypted payload to out
// (capacity >= packet.size - tag_len; out may alias packet.data). On any failure out is not written.
SrtpStatus e2e_unprotect(StreamKeys &k, ByteView packet, uint32_t roc, const E2EOptions &opt, uint8_t *out,
                         size_t out_cap, RtpUnprotectInfo *info = nullptr);
// Same; verify_tag = false skips the MI check for a packet this code already authenticated with
// the same keys and ROC (a dissector's later pass over unchanged bytes): decryption only.
SrtpStatus e2e_unprotect_ex(StreamKeys &k, ByteView packet, uint32_t roc, const E2EOptions &opt, uint8_t *out,
                            size_t out_cap, RtpUnprotectInfo *info, bool verify_tag);
// Encrypts the payload of a plain RTP packet and appends the tag: out gets rtp.size + tag_len bytes.
SrtpStatus e2e_protect(StreamKeys &k, ByteView rtp, uint32_t roc, const E2EOptions &opt, uint8_t *out,
                       size_t out_cap, size_t &out_len);

// RFC 3711 §3.3.1 index guessing from the highest authenticated sequence number.
class RocEstimator {
public:
    explicit RocEstimator(uint32_t initial_roc = 0) : roc_(initial_roc) {}
    // Candidate ROC for seq; does not change state. Before the first commit it is the initial ROC.
    // A "before the wrap" guess at ROC 0 yields 0xFFFFFFFF (RFC 3711 arithmetic mod 2^32); such a
    // packet simply fails authentication instead of corrupting the state.
    uint32_t estimate(uint16_t seq) const;
    // Records an authenticated (seq, roc); keeps the highest index.
    void commit(uint16_t seq, uint32_t roc);
    bool started() const { return started_; }
    uint16_t highest_seq() const { return s_l_; }
    uint32_t roc() const { return roc_; }

private:
    bool started_ = false;
    uint16_t s_l_ = 0;
    uint32_t roc_ = 0;
};

// The receive order (estimate -> verify -> commit -> decrypt, with key rings, the initial ROC
// search and the hop-by-hop layer) is MediaReceiver's (media/receiver.h).

// ---- SRTCP (E2E with StreamKeys::rtcp, or HBH) ------------------------------------------------

constexpr size_t kSrtcpTagLen = 10;
constexpr size_t kSrtcpTrailerLen = 14;

struct SrtcpInfo {
    size_t out_len = 0;  // plaintext compound length (packet.size - 14)
    uint32_t index = 0;  // 31-bit
    bool encrypted = false;
    uint32_t ssrc = 0;   // sender SSRC (bytes 4..7)
};

// Verifies HMAC-SHA1-80 over everything before the tag, then (E set) decrypts bytes 8.. with the
// RTP-style IV (SSRC = sender SSRC, index = 31-bit SRTCP index). out capacity >= packet.size - 14;
// out may alias packet.data. out is not written on failure.
SrtpStatus srtcp_unprotect(SessionContext &k, ByteView packet, uint8_t *out, size_t out_cap,
                           SrtcpInfo *info = nullptr);
// out gets rtcp.size + 14 bytes.
SrtpStatus srtcp_protect(SessionContext &k, ByteView rtcp, uint32_t index, bool encrypt, uint8_t *out,
                         size_t out_cap, size_t &out_len);

}  // namespace wacall::media
