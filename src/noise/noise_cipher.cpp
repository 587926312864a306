// Noise symmetric state (digest §1.3) and the transport-phase cipher (digest §1.7).
#include "noise/noise.h"

#include <cstring>

namespace wacall::noise {

const char kProtocolXX[] = "Noise_XX_25519_AESGCM_SHA256";
const char kProtocolIK[] = "Noise_IK_25519_AESGCM_SHA256";
const char kProtocolXXFallback[] = "Noise_XXfallback_25519_AESGCM_SHA256";

void make_iv(uint32_t counter, uint8_t iv[12]) {
    std::memset(iv, 0, 8);
    put_be32(iv + 8, counter);
}

bool SymmetricState::rekey() { return gcm_.set_key(ByteView(k_.data(), k_.size())); }

bool SymmetricState::init(ByteView protocol_name, ByteView prologue) {
    crypto::init();
    if (protocol_name.size <= 32) {
        h_.fill(0);
        if (protocol_name.size) std::memcpy(h_.data(), protocol_name.data, protocol_name.size);
    } else {
        crypto::sha256(protocol_name, h_.data());
    }
    ck_ = h_;
    k_ = h_;
    n_ = 0;
    mix_hash(prologue);
    return rekey();
}

void SymmetricState::mix_hash(ByteView data) {
    uint8_t out[32];
    crypto::sha256_2(ByteView(h_.data(), h_.size()), data, out);
    std::memcpy(h_.data(), out, 32);
}

bool SymmetricState::mix_key(ByteView ikm) {
    std::optional<std::array<uint8_t, 64>> okm = crypto::hkdf_sha256<64>(ByteView(ck_.data(), ck_.size()), ikm, {});
    if (!okm) return false;
    std::memcpy(ck_.data(), okm->data(), 32);
    std::memcpy(k_.data(), okm->data() + 32, 32);
    n_ = 0;
    return rekey();
}

std::optional<Bytes> SymmetricState::encrypt_and_hash(ByteView pt) {
    Bytes out(pt.size + kTagSize, 0);
    uint8_t iv[12];
    make_iv(n_, iv);
    if (!gcm_.encrypt(ByteView(iv, 12), ByteView(h_.data(), h_.size()), pt, out.data(), out.data() + pt.size))
        return std::nullopt;
    n_++;
    mix_hash(out);
    return out;
}

std::optional<Bytes> SymmetricState::decrypt_and_hash(ByteView ct) {
    if (ct.size < kTagSize) return std::nullopt;
    size_t n = ct.size - kTagSize;
    Bytes pt(n);
    uint8_t iv[12];
    make_iv(n_, iv);
    if (!gcm_.decrypt(ByteView(iv, 12), ByteView(h_.data(), h_.size()), ct.sub(0, n), ct.data + n, pt.data()))
        return std::nullopt;
    n_++;
    mix_hash(ct);
    return pt;
}

std::optional<SymmetricState::TrafficKeys> SymmetricState::split() const {
    std::optional<std::array<uint8_t, 64>> okm = crypto::hkdf_sha256<64>(ByteView(ck_.data(), ck_.size()), {}, {});
    if (!okm) return std::nullopt;
    TrafficKeys t;
    std::memcpy(t.c2s.data(), okm->data(), 32);
    std::memcpy(t.s2c.data(), okm->data() + 32, 32);
    return t;
}

bool SymmetricState::copy_to(SymmetricState &other) const {
    other.h_ = h_;
    other.ck_ = ck_;
    other.k_ = k_;
    other.n_ = n_;
    return other.rekey();
}

bool TransportCipher::set_key(ByteView key32) {
    key_set_ = false;
    if (key32.size != 32) return false;
    crypto::init();
    key_set_ = gcm_.set_key(key32);
    return key_set_;
}

bool TransportCipher::decrypt(uint32_t counter, ByteView ct_with_tag, uint8_t *out) {
    if (!key_set_ || ct_with_tag.size < kTagSize) return false;
    size_t n = ct_with_tag.size - kTagSize;
    uint8_t iv[12];
    make_iv(counter, iv);
    return gcm_.decrypt(ByteView(iv, 12), {}, ct_with_tag.sub(0, n), ct_with_tag.data + n, out);
}

bool TransportCipher::encrypt(uint32_t counter, ByteView pt, uint8_t *out) {
    if (!key_set_) return false;
    uint8_t iv[12];
    make_iv(counter, iv);
    return gcm_.encrypt(ByteView(iv, 12), {}, pt, out, out + pt.size);
}

}  // namespace wacall::noise
