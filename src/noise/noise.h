// WhatsApp's Noise transport, as a passive observer needs it: the connection intro, the 3-byte
// framing, the HandshakeMessage protobuf, the symmetric state, a replay of the client side of the
// handshake from the client's private keys, and the transport-phase AES-256-GCM.
// Plain bytes in, plain values out: no Wireshark, no GLib. No exception leaves this API.
#pragma once

#include "common/bytes.h"
#include "crypto/crypto.h"

#include <array>
#include <optional>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wacall::noise {

using Key32 = std::array<uint8_t, 32>;

// ---- connection intro -------------------------------------------------------------------------
// [45 44 00 01 <u24 len> <edge routing data>] 57 41 <protocol> <dictionary version>

enum class IntroStatus : uint8_t {
    Ok,        // a complete intro was found
    NeedMore,  // everything seen so far matches an intro, but it is not complete yet
    NotIntro,  // these bytes do not start a WhatsApp Noise connection
};

struct Intro {
    IntroStatus status = IntroStatus::NotIntro;
    bool has_edge = false;     // an "ED\0\1" edge-routing block precedes the WA header
    size_t edge_offset = 0;    // of the routing data (after the 3-byte length)
    size_t edge_length = 0;    // of the routing data
    size_t wa_offset = 0;      // of the 4-byte WA header, which is also the Noise prologue
    uint8_t protocol = 0;      // 3rd WA byte (6 today; 5 and 2 seen in older captures)
    uint8_t dict_version = 0;  // 4th WA byte: the WABinary dictionary version (caller checks it)
    size_t length = 0;         // bytes before the first 3-byte frame length
};

constexpr size_t kWaHeaderSize = 4;
constexpr size_t kFrameHeaderSize = 3;
// The real routing data is a few bytes; a bigger declared length is taken as "not an intro"
// so random data cannot make the dissector wait for megabytes.
constexpr size_t kDefaultMaxEdgeLength = 0xFFFF;

Intro parse_intro(ByteView data, size_t max_edge_length = kDefaultMaxEdgeLength);

// The 4-byte WA header of a parsed intro (the Noise prologue). Empty unless status is Ok.
inline ByteView intro_prologue(ByteView data, const Intro &in) {
    if (in.status != IntroStatus::Ok) return {};
    return data.sub(in.wa_offset, kWaHeaderSize);
}

// 3-byte big-endian frame length; p must point at 3 readable bytes.
inline uint32_t frame_length(const uint8_t *p) { return be24(p); }

// ---- HandshakeMessage protobuf ----------------------------------------------------------------

enum class HandshakeKind : uint8_t { None, ClientHello, ServerHello, ClientFinish };

const char *handshake_kind_name(HandshakeKind k);

// One of the three fields the handshake uses (ephemeral / static / payload).
struct HandshakePart {
    bool present = false;
    ByteView data;             // the field's bytes (a view into the parsed message)
    size_t offset = 0;         // of the bytes, relative to the message start
    size_t field_offset = 0;   // of the field key, relative to the message start
    size_t field_length = 0;   // key + length + bytes
};

// Any other field, in the inner message (outer == false) or the outer HandshakeMessage.
struct HandshakeOtherField {
    bool outer = false;
    uint32_t number = 0;
    uint8_t wire_type = 0;     // protobuf wire type
    uint64_t varint = 0;       // varint / fixed value
    ByteView bytes;            // length-delimited payload
    size_t offset = 0;         // of the field key, relative to the message start
    size_t length = 0;         // whole field
};

struct HandshakeMessage {
    HandshakeKind kind = HandshakeKind::None;
    bool error = false;
    std::string error_text;
    size_t error_offset = 0;
    size_t inner_offset = 0;   // of the inner message's bytes (ClientHello, ...)
    size_t inner_length = 0;
    HandshakePart ephemeral;   // ClientHello / ServerHello field 1
    HandshakePart static_key;  // ClientHello / ServerHello field 2, ClientFinish field 1
    HandshakePart payload;     // ClientHello / ServerHello field 3, ClientFinish field 2
    std::vector<HandshakeOtherField> other_fields;

    bool ok() const { return !error && kind != HandshakeKind::None; }
};

// Parses one handshake frame payload. Malformed input sets error (with what was parsed kept).
HandshakeMessage parse_handshake(ByteView msg);

// ---- symmetric state (digest §1.3) ------------------------------------------------------------

extern const char kProtocolXX[];          // "Noise_XX_25519_AESGCM_SHA256"
extern const char kProtocolIK[];          // "Noise_IK_25519_AESGCM_SHA256"
extern const char kProtocolXXFallback[];  // "Noise_XXfallback_25519_AESGCM_SHA256"

// IV(n) = 8 zero bytes || n as u32 BE.
void make_iv(uint32_t counter, uint8_t iv[12]);

class SymmetricState {
public:
    SymmetricState() = default;
    SymmetricState(const SymmetricState &) = delete;
    SymmetricState &operator=(const SymmetricState &) = delete;

    // h0 = name zero-padded to 32 bytes, or SHA-256(name) when longer; h = ck = k = h0;
    // then MixHash(prologue). Returns false only if libgcrypt fails.
    bool init(ByteView protocol_name, ByteView prologue);
    void mix_hash(ByteView data);
    // ck, k = HKDF(salt=ck, ikm, info="", 64); nonce reset to 0.
    bool mix_key(ByteView ikm);
    // AES-256-GCM(k, IV(n), aad=h, pt) || tag; n++; MixHash(it). nullopt (state unchanged) only
    // if libgcrypt fails.
    std::optional<Bytes> encrypt_and_hash(ByteView pt);
    // Checks and decrypts ct||tag with aad = h; on success n++ and MixHash(ct). nullopt (state
    // unchanged) for a bad tag or ct shorter than a tag.
    std::optional<Bytes> decrypt_and_hash(ByteView ct);
    // okm = HKDF(salt=ck, ikm="", info="", 64): c2s = okm[0:32], s2c = okm[32:64]. nullopt only if
    // libgcrypt fails.
    struct TrafficKeys {
        Key32 c2s{}, s2c{};
    };
    std::optional<TrafficKeys> split() const;
    // Copies the whole state into another instance (for look-ahead derivations).
    bool copy_to(SymmetricState &other) const;

    const Key32 &h() const { return h_; }
    const Key32 &ck() const { return ck_; }
    const Key32 &k() const { return k_; }
    uint32_t nonce() const { return n_; }

private:
    bool rekey();
    Key32 h_{}, ck_{}, k_{};
    uint32_t n_ = 0;
    crypto::AesGcm gcm_;
};

// ---- handshake replay (digest §1.5) -----------------------------------------------------------

enum class HandshakePattern : uint8_t { Unknown, XX, IK, XXFallback };
const char *pattern_name(HandshakePattern p);

struct ReplayKeys {
    Key32 client_ephemeral_private{};
    Key32 client_static_private{};
    std::optional<Key32> server_static_public;  // a cached server static public key (needed for IK)
};

struct ReplayStep {
    bool attempted = false;
    bool ok = false;
    std::string error;  // empty when ok
};

struct ReplayResult {
    HandshakePattern pattern = HandshakePattern::Unknown;
    ReplayStep client_hello, server_hello, client_finish;

    std::optional<Key32> server_static;   // XX / fallback: decrypted from the ServerHello
    std::optional<Bytes> certificate;     // XX / fallback: the CertChain plaintext
    std::optional<Key32> client_static;   // decrypted from ClientFinish (XX) or ClientHello (IK)
    std::optional<Bytes> client_payload;  // ClientFinish payload (XX) or 0-RTT payload (IK)
    std::optional<Bytes> server_payload;  // IK-accepted ServerHello payload
    // A payload whose decryption fails after an earlier step decrypted one stays present, empty.

    std::optional<SymmetricState::TrafficKeys> keys;  // traffic keys derived

    // XX and XXfallback end with a ClientFinish; IK does not.
    bool expects_client_finish() const {
        return pattern == HandshakePattern::XX || pattern == HandshakePattern::XXFallback;
    }
    // The first error of any step, or empty.
    std::string first_error() const;
};

// Replays the client side of one handshake. Feed the messages in wire order; each call returns
// false (with the step's error set) when that step failed. For XX the traffic keys are already
// derived once the ServerHello is processed (Split depends on ck only); the ClientFinish then
// adds the client static/payload and a consistency check.
class HandshakeReplay {
public:
    HandshakeReplay(const ReplayKeys &keys, ByteView prologue);
    bool on_client_hello(const HandshakeMessage &m);
    bool on_server_hello(const HandshakeMessage &m);
    bool on_client_finish(const HandshakeMessage &m);
    const ReplayResult &result() const { return r_; }

private:
    bool fail(ReplayStep &s, std::string msg);
    bool process_xx_server_hello(const HandshakeMessage &m);

    ReplayKeys keys_;
    Bytes prologue_;
    Key32 e_pub_{}, s_pub_{};
    Key32 e_server_{};
    bool keys_ok_ = false;       // the private keys give valid public keys
    bool ch_done_ = false, sh_done_ = false;
    SymmetricState ss_;
    ReplayResult r_;
};

// Convenience: runs the whole replay over the messages that are available (nullptr = absent).
ReplayResult replay_handshake(const ReplayKeys &keys, ByteView prologue, const HandshakeMessage *client_hello,
                              const HandshakeMessage *server_hello, const HandshakeMessage *client_finish);

// ---- transport phase (digest §1.7) ------------------------------------------------------------

constexpr size_t kTagSize = 16;

class TransportCipher {
public:
    bool set_key(ByteView key32);
    bool valid() const { return key_set_; }
    // ct_with_tag = ciphertext || 16-byte tag; writes ct_with_tag.size - 16 bytes to out.
    // Returns false on a short input, a bad tag (out is zeroed) or no key.
    bool decrypt(uint32_t counter, ByteView ct_with_tag, uint8_t *out);
    // Writes pt.size + 16 bytes (ciphertext || tag) to out.
    bool encrypt(uint32_t counter, ByteView pt, uint8_t *out);

private:
    crypto::AesGcm gcm_;
    bool key_set_ = false;
};

}  // namespace wacall::noise
