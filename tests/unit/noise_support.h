// Helpers shared by the Noise unit tests (test_noise.cpp, test_noise_session.cpp): keys from hex,
// X25519, the symmetric state's encrypt and split, and the protobuf wrapping of handshake messages.
#pragma once

#include "crypto/crypto.h"
#include "noise/noise.h"
#include "test_support.h"

#include <cstring>
#include <optional>
#include <string>

namespace wacall::test {

inline ByteView V(const noise::Key32 &k) { return ByteView(k.data(), k.size()); }
// A 32-byte key from a hex literal (zero when the literal is not 32 bytes).
inline noise::Key32 K(const std::string &hex) {
    Bytes b = H(hex);
    noise::Key32 k{};
    if (b.size() == 32) std::memcpy(k.data(), b.data(), 32);
    return k;
}
inline noise::Key32 pub(const noise::Key32 &priv) {
    std::optional<noise::Key32> p = crypto::x25519_public(priv.data());
    EXPECT_TRUE(p.has_value());
    return p.value_or(noise::Key32{});
}
inline Bytes dh(const noise::Key32 &priv, const noise::Key32 &pub) {
    std::optional<noise::Key32> out = crypto::x25519(priv.data(), pub.data());
    EXPECT_TRUE(out.has_value());
    return out ? Bytes(out->begin(), out->end()) : Bytes(32);
}
// encrypt_and_hash's ciphertext ‖ tag; a failure fails the calling test.
inline Bytes enc(noise::SymmetricState &st, ByteView pt) {
    std::optional<Bytes> ct = st.encrypt_and_hash(pt);
    EXPECT_TRUE(ct.has_value());
    return ct.value_or(Bytes{});
}
// The split's traffic keys; a failure fails the calling test.
inline void split_into(const noise::SymmetricState &st, noise::Key32 &c2s, noise::Key32 &s2c) {
    std::optional<noise::SymmetricState::TrafficKeys> k = st.split();
    ASSERT_TRUE(k.has_value());
    c2s = k->c2s;
    s2c = k->s2c;
}
// Protobuf length-delimited fields, as the handshake messages nest them.
inline void put_varint(Bytes &b, uint64_t v) {
    while (v >= 0x80) {
        b.push_back(uint8_t(v | 0x80));
        v >>= 7;
    }
    b.push_back(uint8_t(v));
}
inline void put_bytes(Bytes &b, uint32_t num, ByteView data) {
    put_varint(b, uint64_t(num) << 3 | 2);
    put_varint(b, data.size);
    b.insert(b.end(), data.begin(), data.end());
}
inline Bytes wrap(uint32_t outer, const Bytes &inner) {
    Bytes b;
    put_bytes(b, outer, inner);
    return b;
}

// The connection intro's prologue ("WA", protocol 6, dictionary 3).
inline const Bytes kPrologue = {0x57, 0x41, 0x06, 0x03};

}  // namespace wacall::test
