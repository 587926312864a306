#include "crypto/crypto.h"

#include <gcrypt.h>

#include <cstring>

namespace wacall::crypto {

void init() {
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_check_version(nullptr);
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
}

void sha256(ByteView data, uint8_t out[32]) { gcry_md_hash_buffer(GCRY_MD_SHA256, out, data.data, data.size); }

void sha256_2(ByteView a, ByteView b, uint8_t out[32]) {
    gcry_buffer_t iov[2] = {};
    iov[0].data = const_cast<uint8_t *>(a.data);
    iov[0].len = a.size;
    iov[1].data = const_cast<uint8_t *>(b.data);
    iov[1].len = b.size;
    gcry_md_hash_buffers(GCRY_MD_SHA256, 0, out, iov, 2);
}

bool detail::hkdf_key_prk(HmacSha256 &h, ByteView salt, ByteView ikm) {
    static const uint8_t zeros[32] = {};
    uint8_t prk[32];
    if (!h.set_key(salt.size ? salt : ByteView(zeros, 32))) return false;
    hkdf_extract(h, ikm, prk);
    return h.set_key(ByteView(prk, sizeof prk));
}

void hkdf_extract(HmacSha256 &salted, ByteView ikm, uint8_t prk[32]) { salted.compute(ikm, {}, prk); }

void detail::hkdf_expand(HmacSha256 &keyed_prk, ByteView info, uint8_t *out, size_t out_len) {
    uint8_t t[32];  // T(i)
    size_t t_len = 0;
    for (uint8_t i = 1; out_len; i++) {
        keyed_prk.reset();
        keyed_prk.write(ByteView(t, t_len));
        keyed_prk.write(info);
        keyed_prk.write(ByteView(&i, 1));
        keyed_prk.finish(t);
        t_len = 32;
        size_t n = out_len < 32 ? out_len : 32;
        std::memcpy(out, t, n);
        out += n;
        out_len -= n;
    }
}

void hmac_sha1(ByteView key, ByteView part1, ByteView part2, uint8_t out[20]) {
    HmacSha1 h;
    if (!h.set_key(key)) {
        std::memset(out, 0, 20);
        return;
    }
    h.compute(part1, part2, out);
}

std::optional<std::array<uint8_t, 32>> x25519(const uint8_t priv[32], const uint8_t pub[32]) {
    std::array<uint8_t, 32> out;
    if (gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out.data(), priv, pub)) return std::nullopt;
    // All-zero output means a low-order point: reject, as X25519 users must.
    uint8_t acc = 0;
    for (uint8_t b : out) acc |= b;
    if (acc == 0) return std::nullopt;
    return out;
}

std::optional<std::array<uint8_t, 32>> x25519_public(const uint8_t priv[32]) {
    std::array<uint8_t, 32> out;
    if (gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out.data(), priv, nullptr)) return std::nullopt;
    return out;
}

Hmac::~Hmac() {
    if (handle_) gcry_mac_close(static_cast<gcry_mac_hd_t>(handle_));
}

bool Hmac::set_key(ByteView key) {
    if (!handle_) {
        gcry_mac_hd_t h;
        if (gcry_mac_open(&h, algo_ == Sha1 ? GCRY_MAC_HMAC_SHA1 : GCRY_MAC_HMAC_SHA256, 0, nullptr)) return false;
        handle_ = h;
    }
    if (gcry_mac_setkey(static_cast<gcry_mac_hd_t>(handle_), key.data, key.size)) {
        gcry_mac_close(static_cast<gcry_mac_hd_t>(handle_));
        handle_ = nullptr;
        return false;
    }
    return true;
}

void Hmac::reset() { gcry_mac_reset(static_cast<gcry_mac_hd_t>(handle_)); }

void Hmac::write(ByteView part) {
    if (part.size) gcry_mac_write(static_cast<gcry_mac_hd_t>(handle_), part.data, part.size);
}

void Hmac::finish(uint8_t *out) {
    size_t len = size();
    gcry_mac_read(static_cast<gcry_mac_hd_t>(handle_), out, &len);
}

static void *open_cipher(int mode, ByteView key) {
    int algo = key.size == 16 ? GCRY_CIPHER_AES128 : key.size == 24 ? GCRY_CIPHER_AES192
             : key.size == 32 ? GCRY_CIPHER_AES256 : 0;
    if (!algo) return nullptr;
    gcry_cipher_hd_t h;
    if (gcry_cipher_open(&h, algo, mode, 0)) return nullptr;
    if (gcry_cipher_setkey(h, key.data, key.size)) {
        gcry_cipher_close(h);
        return nullptr;
    }
    return h;
}

static void close_cipher(void *&h) {
    if (h) gcry_cipher_close(static_cast<gcry_cipher_hd_t>(h));
    h = nullptr;
}

AesCtr::~AesCtr() { close_cipher(handle_); }
bool AesCtr::set_key(ByteView key) {
    close_cipher(handle_);
    handle_ = open_cipher(GCRY_CIPHER_MODE_CTR, key);
    return handle_ != nullptr;
}
bool AesCtr::crypt(const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len) {
    auto h = static_cast<gcry_cipher_hd_t>(handle_);
    if (!h || gcry_cipher_setctr(h, iv, 16)) return false;
    if (len == 0) return true;
    return !gcry_cipher_encrypt(h, out, len, in, len);
}

AesEcb::~AesEcb() { close_cipher(handle_); }
bool AesEcb::set_key(ByteView key) {
    close_cipher(handle_);
    handle_ = open_cipher(GCRY_CIPHER_MODE_ECB, key);
    return handle_ != nullptr;
}
bool AesEcb::encrypt(const uint8_t *in, uint8_t *out, size_t len) {
    auto h = static_cast<gcry_cipher_hd_t>(handle_);
    return h && len % 16 == 0 && !gcry_cipher_encrypt(h, out, len, in, len);
}

AesGcm::~AesGcm() { close_cipher(handle_); }
bool AesGcm::set_key(ByteView key) {
    close_cipher(handle_);
    handle_ = open_cipher(GCRY_CIPHER_MODE_GCM, key);
    return handle_ != nullptr;
}

bool AesGcm::decrypt(ByteView nonce, ByteView aad, ByteView ct, const uint8_t tag[16], uint8_t *out) {
    auto h = static_cast<gcry_cipher_hd_t>(handle_);
    bool ok = h && !gcry_cipher_reset(h) && !gcry_cipher_setiv(h, nonce.data, nonce.size) &&
              (aad.size == 0 || !gcry_cipher_authenticate(h, aad.data, aad.size));
    if (ok) {
        gcry_cipher_final(h);
        ok = ct.size == 0 || !gcry_cipher_decrypt(h, out, ct.size, ct.data, ct.size);
    }
    ok = ok && !gcry_cipher_checktag(h, tag, 16);
    if (!ok && ct.size) std::memset(out, 0, ct.size);
    return ok;
}

bool AesGcm::encrypt(ByteView nonce, ByteView aad, ByteView pt, uint8_t *out, uint8_t tag[16]) {
    auto h = static_cast<gcry_cipher_hd_t>(handle_);
    bool ok = h && !gcry_cipher_reset(h) && !gcry_cipher_setiv(h, nonce.data, nonce.size) &&
              (aad.size == 0 || !gcry_cipher_authenticate(h, aad.data, aad.size));
    if (ok) {
        gcry_cipher_final(h);
        ok = pt.size == 0 || !gcry_cipher_encrypt(h, out, pt.size, pt.data, pt.size);
    }
    return ok && !gcry_cipher_gettag(h, tag, 16);
}

}  // namespace wacall::crypto
