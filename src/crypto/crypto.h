// Thin RAII wrappers over libgcrypt: the only place the core touches a crypto library.
// Handles are opened once and reused (per stream / per session), because gcry_*_open is far
// more expensive than the per-packet work. libgcrypt 1.10 (Debian 12) has no HKDF, so HKDF is
// RFC 5869 over libgcrypt's HMAC-SHA256 and pinned to the RFC's vectors in the unit tests.
#pragma once

#include "common/bytes.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace wacall::crypto {

// Makes sure libgcrypt is initialised (a no-op when the host, e.g. Wireshark, already did).
void init();

void sha256(ByteView data, uint8_t out[32]);
// SHA-256 of a ‖ b without concatenating (Noise MixHash).
void sha256_2(ByteView a, ByteView b, uint8_t out[32]);

// One-shot HMAC-SHA1 (20-byte output) over the concatenation of up to two parts.
void hmac_sha1(ByteView key, ByteView part1, ByteView part2, uint8_t out[20]);

// X25519 scalar multiplication. nullopt for a low-order/invalid point (all-zero shared secret).
std::optional<std::array<uint8_t, 32>> x25519(const uint8_t priv[32], const uint8_t pub[32]);
// The public key of a private one; nullopt only if libgcrypt fails.
std::optional<std::array<uint8_t, 32>> x25519_public(const uint8_t priv[32]);

// Reusable HMAC keyed once: compute() restarts from the keyed state, so a key costs its two
// setup blocks once, not per message.
class Hmac {
public:
    enum Algo { Sha1, Sha256 };
    explicit Hmac(Algo algo) : algo_(algo) {}
    ~Hmac();
    Hmac(const Hmac &) = delete;
    Hmac &operator=(const Hmac &) = delete;
    bool set_key(ByteView key);
    bool valid() const { return handle_ != nullptr; }
    size_t size() const { return algo_ == Sha1 ? 20 : 32; }
    // HMAC over a ‖ b (b may be empty); writes size() bytes.
    void compute(ByteView a, ByteView b, uint8_t *out) {
        reset();
        write(a);
        write(b);
        finish(out);
    }
    // The same in steps, for messages of more parts.
    void reset();
    void write(ByteView part);
    void finish(uint8_t *out);  // writes size() bytes

private:
    Algo algo_;
    void *handle_ = nullptr;  // gcry_mac_hd_t
};

class HmacSha1 : public Hmac {
public:
    HmacSha1() : Hmac(Sha1) {}
};

class HmacSha256 : public Hmac {
public:
    HmacSha256() : Hmac(Sha256) {}
};

// HKDF's two steps (RFC 5869) on keyed HMAC-SHA256 objects, for callers that reuse a salt or a
// PRK (hkdf_sha256 is both in one): extract writes the 32-byte PRK with `salted` keyed with the
// salt; expand gives N bytes (at most 255 * 32, checked at compile time, so it cannot fail) with
// `keyed_prk` keyed with the PRK.
void hkdf_extract(HmacSha256 &salted, ByteView ikm, uint8_t prk[32]);
namespace detail {
void hkdf_expand(HmacSha256 &keyed_prk, ByteView info, uint8_t *out, size_t out_len);
// Keys `h` with the PRK of (salt, ikm); an empty salt means HashLen zero bytes. False only if
// libgcrypt fails.
bool hkdf_key_prk(HmacSha256 &h, ByteView salt, ByteView ikm);
}  // namespace detail
template <size_t N>
std::array<uint8_t, N> hkdf_expand(HmacSha256 &keyed_prk, ByteView info) {
    static_assert(N > 0 && N <= 255 * 32, "HKDF-SHA256 output is 1..8160 bytes");
    std::array<uint8_t, N> out;
    detail::hkdf_expand(keyed_prk, info, out.data(), N);
    return out;
}

// RFC 5869 HKDF-SHA256 with N bytes of output. An empty salt means HashLen zero bytes, as the RFC
// says. nullopt only if libgcrypt fails.
template <size_t N>
std::optional<std::array<uint8_t, N>> hkdf_sha256(ByteView salt, ByteView ikm, ByteView info) {
    HmacSha256 h;
    if (!detail::hkdf_key_prk(h, salt, ikm)) return std::nullopt;
    return hkdf_expand<N>(h, info);
}

// Reusable AES in CTR mode (full 128-bit big-endian counter), keyed once.
class AesCtr {
public:
    AesCtr() = default;
    ~AesCtr();
    AesCtr(const AesCtr &) = delete;
    AesCtr &operator=(const AesCtr &) = delete;
    bool set_key(ByteView key);  // 16, 24 or 32 bytes
    bool valid() const { return handle_ != nullptr; }
    // out may equal in. Returns false if libgcrypt fails.
    bool crypt(const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len);

private:
    void *handle_ = nullptr;  // gcry_cipher_hd_t
};

// Reusable AES-ECB single-block encryption (for counter modes with unusual carries).
class AesEcb {
public:
    AesEcb() = default;
    ~AesEcb();
    AesEcb(const AesEcb &) = delete;
    AesEcb &operator=(const AesEcb &) = delete;
    bool set_key(ByteView key);
    bool valid() const { return handle_ != nullptr; }
    bool encrypt(const uint8_t *in, uint8_t *out, size_t len);  // len multiple of 16

private:
    void *handle_ = nullptr;
};

// Reusable AES-GCM (any nonce length; 16-byte tag), keyed once.
class AesGcm {
public:
    AesGcm() = default;
    ~AesGcm();
    AesGcm(const AesGcm &) = delete;
    AesGcm &operator=(const AesGcm &) = delete;
    bool set_key(ByteView key);  // 16 or 32 bytes
    bool valid() const { return handle_ != nullptr; }
    // Decrypts ct into out (ct.size bytes) and checks the 16-byte tag. Returns false on a bad
    // tag; out is then zeroed so no unauthenticated plaintext escapes.
    bool decrypt(ByteView nonce, ByteView aad, ByteView ct, const uint8_t tag[16], uint8_t *out);
    // Encrypts (used by tests and benchmarks); writes ct (pt.size bytes) and a 16-byte tag.
    bool encrypt(ByteView nonce, ByteView aad, ByteView pt, uint8_t *out, uint8_t tag[16]);

private:
    void *handle_ = nullptr;
};

}  // namespace wacall::crypto
