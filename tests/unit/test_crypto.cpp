// Pins the libgcrypt wrappers to published vectors: RFC 5869 (HKDF), RFC 7748 (X25519).
#include "crypto/crypto.h"

#include <gtest/gtest.h>

#include "test_support.h"

using namespace wacall;
using wacall::test::H;

TEST(Crypto, HkdfRfc5869Case1) {
    crypto::init();
    Bytes ikm(22, 0x0b), salt = H("000102030405060708090a0b0c"), info = H("f0f1f2f3f4f5f6f7f8f9");
    std::optional<std::array<uint8_t, 42>> okm = crypto::hkdf_sha256<42>(salt, ikm, info);
    ASSERT_TRUE(okm);
    EXPECT_EQ(to_hex({okm->data(), okm->size()}),
              "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    // The two steps on keyed objects give the same bytes (RFC 5869 A.1 PRK, then expand).
    crypto::HmacSha256 salted, prk_keyed;
    ASSERT_TRUE(salted.set_key(salt));
    uint8_t prk[32];
    crypto::hkdf_extract(salted, ikm, prk);
    EXPECT_EQ(to_hex({prk, 32}), "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    ASSERT_TRUE(prk_keyed.set_key(ByteView(prk, 32)));
    std::array<uint8_t, 42> expanded = crypto::hkdf_expand<42>(prk_keyed, info);
    EXPECT_EQ(expanded, *okm);
}

TEST(Crypto, HkdfRfc5869Case3EmptySaltAndInfo) {
    crypto::init();
    Bytes ikm(22, 0x0b);
    std::optional<std::array<uint8_t, 42>> okm = crypto::hkdf_sha256<42>({}, ikm, {});
    ASSERT_TRUE(okm);
    EXPECT_EQ(to_hex({okm->data(), okm->size()}),
              "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(Crypto, X25519Rfc7748) {
    crypto::init();
    Bytes a = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    Bytes b = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    std::optional<std::array<uint8_t, 32>> apub = crypto::x25519_public(a.data()), bpub = crypto::x25519_public(b.data());
    ASSERT_TRUE(apub && bpub);
    EXPECT_EQ(to_hex({apub->data(), 32}), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    std::optional<std::array<uint8_t, 32>> s1 = crypto::x25519(a.data(), bpub->data()), s2 = crypto::x25519(b.data(), apub->data());
    ASSERT_TRUE(s1 && s2);
    EXPECT_EQ(to_hex({s1->data(), 32}), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    EXPECT_EQ(*s2, *s1);
    // A low-order point (all zero) gives an all-zero secret: rejected, no value.
    const uint8_t zero_point[32] = {};
    EXPECT_EQ(crypto::x25519(a.data(), zero_point), std::nullopt);
}

TEST(Crypto, GcmRejectsBadTagAndZeroesOutput) {
    crypto::init();
    Bytes key(32, 7), nonce(12, 0), pt = H("00112233445566778899");
    crypto::AesGcm g;
    ASSERT_TRUE(g.set_key(key));
    uint8_t ct[10], tag[16], out[10];
    ASSERT_TRUE(g.encrypt(nonce, {}, pt, ct, tag));
    ASSERT_TRUE(g.decrypt(nonce, {}, {ct, 10}, tag, out));
    EXPECT_EQ(to_hex({out, 10}), "00112233445566778899");
    tag[0] ^= 1;
    EXPECT_FALSE(g.decrypt(nonce, {}, {ct, 10}, tag, out));
    EXPECT_EQ(to_hex({out, 10}), "00000000000000000000");
}

// The byte helpers of common/bytes.h that parse text: nullopt, never a partial result.
TEST(CommonBytes, FromHexAndDecimal) {
    EXPECT_EQ(from_hex("00fFa5"), (std::optional<Bytes>(Bytes{0x00, 0xff, 0xa5})));
    EXPECT_EQ(from_hex(""), std::optional<Bytes>(Bytes{}));
    EXPECT_EQ(from_hex("abc"), std::nullopt);   // odd length
    EXPECT_EQ(from_hex("0g"), std::nullopt);    // bad digit
    EXPECT_EQ(from_hex("00 1"), std::nullopt);  // no separators
    EXPECT_EQ(parse_decimal_u32("4294967295"), std::optional<uint32_t>(4294967295u));
    EXPECT_EQ(parse_decimal_u32("007"), std::optional<uint32_t>(7u));
    EXPECT_EQ(parse_decimal_u32("4294967296"), std::nullopt);
    EXPECT_EQ(parse_decimal_u32("12345678901"), std::nullopt);
    EXPECT_EQ(parse_decimal_u32("+1"), std::nullopt);
    EXPECT_EQ(parse_decimal_u32(""), std::nullopt);
}
