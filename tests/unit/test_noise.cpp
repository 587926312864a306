// Noise transport: intro, framing, HandshakeMessage parsing, symmetric state pinned to the
// whatsapp-rust vectors (digest §5.1), handshake replay (XX, IK, XXfallback) against a
// responder simulated here, and the transport cipher.
#include "noise/cert.h"
#include "noise/noise.h"

#include <gtest/gtest.h>

#include "noise_support.h"
#include "test_support.h"

#include <cstring>

using namespace wacall;
using namespace wacall::test;
using namespace wacall::noise;

namespace {

std::string X(ByteView v) { return to_hex(v); }
std::string X(const Key32 &k) { return to_hex(ByteView(k.data(), k.size())); }
ByteView S(const char *s) { return ByteView(reinterpret_cast<const uint8_t *>(s), std::strlen(s)); }

// ---- §5.1 vectors
const char *kEPriv = "b8de0b5ebad3e7879fa659c0d27baa6c3e3f32a10f7c4cb2613cb4182fe83047";
const char *kEPub = "8537e1daadfb8e9ff8491896f5733008bad4967c2ba97670f69cf3053762ea4d";
const char *kSEPub = "27692cf5d6a08e51f2d601f2e475378456bda16f96255c5121d081d0aa4a815d";
const char *kEncStatic =
    "0addd1ce96c55699824fc20ef2a73928dd8168bc29ef863bdea6dc69002b00054add28f7711e3a7dff984d3f31badaa2";
const char *kServerStatic = "5854d333d8e13975abd6597bbaddd49d6935ced25c93a44bd3ade508f2bec330";
const char *kEncCert =
    "c4f948e737857d6bd675fa0a84f38ed784685b784402da53f972388a8aa3398f01be799862907d43cce7a49858023ec66dc909d1eac2"
    "45f842661360804acf4975801ca0a156f876ba6004cc2f1241f761f753c516cef59fb3c6b95d39ad6d3540caa40b361bfbb7189eaa2d"
    "331e086870f2bd846bc6653cf2887387ba25268c9923dec5ecdc5ee37507680ba6906550f9991f6a60b2dc74803c6df8d6df352f206c"
    "376b0bb3d7d17dca91e3999f73d6dc6469e59281bc18c22fd1e7d85467b3f17fafc141a62c6fd92d364310d5b32493c9f2c77817aa4d"
    "901aef2538858b157d46ea247371a9c2f577171796fa7be059d975dddee115d5aa967602b02a93be36";
const char *kCert =
    "0a770a3308c90210031a205854d333d8e13975abd6597bbaddd49d6935ced25c93a44bd3ade508f2bec33020d08f87bf0628d0c99fc4"
    "06124019cbee71b63bb8048af269f3aa7c13c62a1fd89ac4ef2509d1d78d68267f40393b49a9cc38db05e35a6c5bf3ba6172a4c5325f"
    "25f363338cf8f3535a4cd9520512760a32080310001a201c51a9ac303994c6c8d0b92ea1878a533476599cc599fbea35997d9aa90cce"
    "62208091aebe0628ffdeb7dc061240270f294648539fed4870e25054dd4e95983aba29189c2ba6c8eeda7055555f753740f5ec192ab6"
    "4c26c26d6ade6d20b9f774aee37120a6b20395f53c66058507";

Bytes vector_client_hello() {
    Bytes inner;
    put_bytes(inner, 1, H(kEPub));
    return wrap(2, inner);
}
Bytes vector_server_hello() {
    Bytes inner;
    put_bytes(inner, 1, H(kSEPub));
    put_bytes(inner, 2, H(kEncStatic));
    put_bytes(inner, 3, H(kEncCert));
    return wrap(3, inner);
}

}  // namespace

// ---- intro and framing ------------------------------------------------------------------------

TEST(NoiseIntro, PlainWaHeader) {
    Bytes d = H("57410603000024122200");
    Intro in = parse_intro(d);
    ASSERT_EQ(in.status, IntroStatus::Ok);
    EXPECT_FALSE(in.has_edge);
    EXPECT_EQ(in.wa_offset, 0u);
    EXPECT_EQ(in.protocol, 6);
    EXPECT_EQ(in.dict_version, 3);
    EXPECT_EQ(in.length, 4u);
    EXPECT_EQ(X(intro_prologue(d, in)), "57410603");
    EXPECT_EQ(frame_length(d.data() + in.length), 0x24u);
}

TEST(NoiseIntro, EdgeRoutingVectors) {
    // edge_routing.rs: data 010203 -> 45440001 000003 010203
    Bytes d = H("45440001000003010203574106020000");
    Intro in = parse_intro(d);
    ASSERT_EQ(in.status, IntroStatus::Ok);
    EXPECT_TRUE(in.has_edge);
    EXPECT_EQ(in.edge_offset, 7u);
    EXPECT_EQ(in.edge_length, 3u);
    EXPECT_EQ(in.wa_offset, 10u);
    EXPECT_EQ(in.dict_version, 2);
    EXPECT_EQ(in.length, 14u);
    EXPECT_EQ(X(intro_prologue(d, in)), "57410602");
    // Empty routing data.
    in = parse_intro(H("4544000100000057410603"));
    ASSERT_EQ(in.status, IntroStatus::Ok);
    EXPECT_EQ(in.edge_length, 0u);
    EXPECT_EQ(in.length, 11u);
}

TEST(NoiseIntro, RealCapturePrefixes) {
    // 2019 capture: protocol 2, dictionary 1; 2022 capture: protocol 5, dictionary 2.
    Intro in = parse_intro(H("4544000100000408050802574102010000ee12eb01"));
    ASSERT_EQ(in.status, IntroStatus::Ok);
    EXPECT_EQ(in.protocol, 2);
    EXPECT_EQ(in.dict_version, 1);
    EXPECT_EQ(in.length, 15u);
    in = parse_intro(H("45440001000004080908025741050200010e128b02"));
    ASSERT_EQ(in.status, IntroStatus::Ok);
    EXPECT_EQ(in.protocol, 5);
    EXPECT_EQ(in.dict_version, 2);
    // Any dictionary byte is reported; the caller decides whether it knows it.
    in = parse_intro(H("574106ff"));
    ASSERT_EQ(in.status, IntroStatus::Ok);
    EXPECT_EQ(in.dict_version, 255);
}

TEST(NoiseIntro, EveryPrefixNeedsMore) {
    Bytes d = H("4544000100000408050802574102010000ee");
    for (size_t n = 0; n < 15; n++)
        EXPECT_EQ(parse_intro(ByteView(d.data(), n)).status, IntroStatus::NeedMore) << n;
    EXPECT_EQ(parse_intro(ByteView(d.data(), 15)).status, IntroStatus::Ok);
    Bytes w = H("57410603");
    for (size_t n = 0; n < 4; n++) EXPECT_EQ(parse_intro(ByteView(w.data(), n)).status, IntroStatus::NeedMore) << n;
}

TEST(NoiseIntro, RejectsOtherProtocols) {
    EXPECT_EQ(parse_intro(H("1603010200010001fc0303")).status, IntroStatus::NotIntro);  // TLS ClientHello
    EXPECT_EQ(parse_intro(H("1703030fe022e4")).status, IntroStatus::NotIntro);          // TLS app data
    EXPECT_EQ(parse_intro(H("deadbeef00000000")).status, IntroStatus::NotIntro);
    EXPECT_EQ(parse_intro(H("57420603")).status, IntroStatus::NotIntro);  // "WB"
    EXPECT_EQ(parse_intro(H("57410003")).status, IntroStatus::NotIntro);  // protocol 0
    EXPECT_EQ(parse_intro(H("5741f003")).status, IntroStatus::NotIntro);  // implausible protocol
    EXPECT_EQ(parse_intro(H("45440002000000")).status, IntroStatus::NotIntro);
    EXPECT_EQ(parse_intro(H("45440001000003010203deadbeef")).status, IntroStatus::NotIntro);
    // Huge edge-routing length: not waited for.
    EXPECT_EQ(parse_intro(H("45440001ffffff")).status, IntroStatus::NotIntro);
    EXPECT_EQ(parse_intro(H("45440001ffffff"), 0xFFFFFF).status, IntroStatus::NeedMore);
}

TEST(NoiseFraming, FrameLength) {
    Bytes a = H("0000050102030405"), b = H("ffffff"), c = H("010203");
    EXPECT_EQ(frame_length(a.data()), 5u);
    EXPECT_EQ(frame_length(b.data()), 0xFFFFFFu);
    EXPECT_EQ(frame_length(c.data()), 0x010203u);
}

// ---- handshake messages -----------------------------------------------------------------------

TEST(NoiseHandshake, ParseXxClientHello) {
    Bytes m = vector_client_hello();
    ASSERT_EQ(m.size(), 36u);
    EXPECT_EQ(X(ByteView(m.data(), 4)), "1222" "0a20");
    HandshakeMessage h = parse_handshake(m);
    ASSERT_TRUE(h.ok()) << h.error_text;
    EXPECT_EQ(h.kind, HandshakeKind::ClientHello);
    EXPECT_EQ(h.inner_offset, 2u);
    EXPECT_EQ(h.inner_length, 34u);
    ASSERT_TRUE(h.ephemeral.present);
    EXPECT_EQ(h.ephemeral.offset, 4u);
    EXPECT_EQ(h.ephemeral.field_offset, 2u);
    EXPECT_EQ(h.ephemeral.field_length, 34u);
    EXPECT_EQ(X(h.ephemeral.data), kEPub);
    EXPECT_FALSE(h.static_key.present);
    EXPECT_FALSE(h.payload.present);
    EXPECT_TRUE(h.other_fields.empty());
}

TEST(NoiseHandshake, ParseServerHelloOffsets) {
    Bytes m = vector_server_hello();
    HandshakeMessage h = parse_handshake(m);
    ASSERT_TRUE(h.ok()) << h.error_text;
    EXPECT_EQ(h.kind, HandshakeKind::ServerHello);
    // 1a <varint 2 bytes> 0a 20 <32> 12 30 <48> 1a 81 02 <257>
    EXPECT_EQ(h.inner_offset, 3u);
    EXPECT_EQ(h.ephemeral.offset, 5u);
    EXPECT_EQ(h.static_key.offset, 5u + 32 + 2);
    EXPECT_EQ(h.static_key.data.size, 48u);
    EXPECT_EQ(h.payload.offset, 5u + 32 + 2 + 48 + 3);
    EXPECT_EQ(h.payload.data.size, 257u);
    EXPECT_EQ(h.payload.offset + h.payload.data.size, m.size());
    EXPECT_EQ(X(h.static_key.data), kEncStatic);
}

TEST(NoiseHandshake, ClientFinishAndOtherFields) {
    Bytes inner;
    put_bytes(inner, 1, Bytes(48, 0xAA));
    put_bytes(inner, 2, Bytes(20, 0xBB));
    inner.push_back(0x28);  // simulateXxkemFs = 1 (field 5 varint)
    inner.push_back(0x01);
    Bytes m = wrap(4, inner);
    m.push_back(0x38);  // an unknown outer varint field 7
    m.push_back(0x05);
    HandshakeMessage h = parse_handshake(m);
    ASSERT_TRUE(h.ok()) << h.error_text;
    EXPECT_EQ(h.kind, HandshakeKind::ClientFinish);
    EXPECT_EQ(h.static_key.data.size, 48u);
    EXPECT_EQ(h.static_key.offset, 4u);
    EXPECT_EQ(h.payload.data.size, 20u);
    EXPECT_FALSE(h.ephemeral.present);
    ASSERT_EQ(h.other_fields.size(), 2u);
    EXPECT_FALSE(h.other_fields[0].outer);
    EXPECT_EQ(h.other_fields[0].number, 5u);
    EXPECT_EQ(h.other_fields[0].varint, 1u);
    EXPECT_EQ(h.other_fields[0].offset, 2u + 50 + 22);
    EXPECT_EQ(h.other_fields[0].length, 2u);
    EXPECT_TRUE(h.other_fields[1].outer);
    EXPECT_EQ(h.other_fields[1].number, 7u);
    EXPECT_EQ(h.other_fields[1].varint, 5u);

    // ClientHello extras (useExtended=4 bool, paddedBytes=6) are listed, not lost.
    Bytes ch;
    put_bytes(ch, 1, H(kEPub));
    ch.push_back(0x20);
    ch.push_back(0x01);
    put_bytes(ch, 6, Bytes(5, 0));
    h = parse_handshake(wrap(2, ch));
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h.other_fields.size(), 2u);
    EXPECT_EQ(h.other_fields[0].number, 4u);
    EXPECT_EQ(h.other_fields[1].number, 6u);
    EXPECT_EQ(h.other_fields[1].bytes.size, 5u);
}

TEST(NoiseHandshake, MalformedNeverCrashes) {
    EXPECT_TRUE(parse_handshake({}).error);
    Bytes m = vector_server_hello();
    for (size_t n = 0; n < m.size(); n++) {
        HandshakeMessage h = parse_handshake(ByteView(m.data(), n));
        EXPECT_TRUE(h.error) << n;
        EXPECT_FALSE(h.error_text.empty());
    }
    // Ephemeral with a varint wire type.
    Bytes bad = wrap(2, H("0801"));
    EXPECT_TRUE(parse_handshake(bad).error);
    // Not a handshake at all.
    EXPECT_TRUE(parse_handshake(H("0801")).error);
    EXPECT_TRUE(parse_handshake(H("ffffffffffffffffffffff")).error);
    // Two handshake messages.
    Bytes two = vector_client_hello();
    Bytes more = vector_client_hello();
    two.insert(two.end(), more.begin(), more.end());
    HandshakeMessage h = parse_handshake(two);
    EXPECT_TRUE(h.error);
    EXPECT_EQ(h.kind, HandshakeKind::ClientHello);
}

TEST(NoiseHandshake, RandomMutationsNeverCrash) {
    Bytes base = vector_server_hello();
    uint32_t x = 777;
    auto rnd = [&x] { return x = x * 1103515245u + 12345u, x >> 8; };
    for (int it = 0; it < 3000; it++) {
        Bytes b = base;
        for (int k = 0; k < 3; k++) b[rnd() % b.size()] = static_cast<uint8_t>(rnd());
        if (it & 1) b.resize(rnd() % b.size());
        HandshakeMessage h = parse_handshake(b);
        for (const HandshakePart *p : {&h.ephemeral, &h.static_key, &h.payload})
            if (p->present) {
                EXPECT_LE(p->offset + p->data.size, b.size());
            }
        for (const HandshakeOtherField &f : h.other_fields) EXPECT_LE(f.offset + f.length, b.size());
        (void)parse_intro(b);
    }
}

// ---- symmetric state --------------------------------------------------------------------------

TEST(NoiseSymmetric, InitAndPatternHash) {
    SymmetricState ss;
    ASSERT_TRUE(ss.init(S(kProtocolXX), kPrologue));
    EXPECT_EQ(X(ss.h()), "ffff0c9267310966f1311170c04b38c79504285bf5edf763e5c946492a50a755");
    EXPECT_EQ(X(ss.ck()), "4e6f6973655f58585f32353531395f41455347434d5f53484132353600000000");
    EXPECT_EQ(ss.nonce(), 0u);
    uint8_t h[32];
    crypto::sha256(V(ss.ck()), h);  // the padded name is ck0
    EXPECT_EQ(X(ByteView(h, 32)), "5df72b67b965add1168f0a6c756df21c204f7e64fc682be6a3ab4b682c8db64b");

    // A name longer than 32 bytes is hashed.
    SymmetricState fb;
    ASSERT_TRUE(fb.init(S(kProtocolXXFallback), {}));
    uint8_t want[32];
    crypto::sha256(S(kProtocolXXFallback), want);
    EXPECT_EQ(X(fb.ck()), X(ByteView(want, 32)));
}

TEST(NoiseSymmetric, FullXxTranscriptFromGoData) {
    Key32 e_priv = K(kEPriv);
    EXPECT_EQ(X(pub(e_priv)), kEPub);
    SymmetricState ss;
    ASSERT_TRUE(ss.init(S(kProtocolXX), kPrologue));
    ss.mix_hash(H(kEPub));
    EXPECT_EQ(X(ss.h()), "86790a969b7100866dfbf74fcfe5a175f8adff7f8c5139f74cd2f14a8fa5f11f");
    ss.mix_hash(H(kSEPub));
    EXPECT_EQ(X(ss.h()), "9fd7bf2736e1e5b48b2759fd5806225ccb6822d557579d725459795cdd0885d3");
    ASSERT_TRUE(ss.mix_key(dh(e_priv, K(kSEPub))));
    EXPECT_EQ(X(ss.ck()), "a505e995a2068e7103a582be6f6ba9d6b447a80db4e679209b2f7cc6da633709");
    std::optional<Bytes> server_static = ss.decrypt_and_hash(H(kEncStatic));
    ASSERT_TRUE(server_static);
    EXPECT_EQ(X(*server_static), kServerStatic);
    EXPECT_EQ(ss.nonce(), 1u);
    EXPECT_EQ(X(ss.h()), "8f29e8901b6ffb3cb393795c023d6d219ceb447dbbbae075533010907cbfbc6c");
    ASSERT_TRUE(ss.mix_key(dh(e_priv, K(kServerStatic))));
    EXPECT_EQ(X(ss.ck()), "5092572187a71abe8044010b9c8419633272b45b2babf4ca316966edc3eb9bde");
    EXPECT_EQ(ss.nonce(), 0u);
    Bytes enc_cert = H(kEncCert);
    ASSERT_EQ(enc_cert.size(), 257u);
    std::optional<Bytes> cert = ss.decrypt_and_hash(enc_cert);
    ASSERT_TRUE(cert);
    EXPECT_EQ(cert->size(), 241u);
    EXPECT_EQ(X(*cert), kCert);
    EXPECT_EQ(X(ss.h()), "4a82b448599eb44f85bacedaff0a81820999a87be156b08989c2857b8651d4d2");
}

TEST(NoiseSymmetric, DecryptFailureLeavesStateUnchanged) {
    SymmetricState ss;
    ASSERT_TRUE(ss.init(S(kProtocolXX), kPrologue));
    ss.mix_hash(H(kEPub));
    ss.mix_hash(H(kSEPub));
    ASSERT_TRUE(ss.mix_key(dh(K(kEPriv), K(kSEPub))));
    Key32 h = ss.h();
    Bytes ct = H(kEncStatic);
    ct[3] ^= 1;
    EXPECT_EQ(ss.decrypt_and_hash(ct), std::nullopt);
    EXPECT_EQ(ss.h(), h);
    EXPECT_EQ(ss.nonce(), 0u);
    EXPECT_EQ(ss.decrypt_and_hash(H("00")), std::nullopt);  // shorter than a tag
    std::optional<Bytes> out = ss.decrypt_and_hash(H(kEncStatic));  // still decrypts afterwards
    ASSERT_TRUE(out);
    EXPECT_EQ(X(*out), kServerStatic);
}

TEST(NoiseSymmetric, EncryptDecryptSymmetry) {
    SymmetricState a, b;
    ASSERT_TRUE(a.init(S(kProtocolIK), kPrologue));
    ASSERT_TRUE(b.init(S(kProtocolIK), kPrologue));
    ASSERT_TRUE(a.mix_key(H("0102")));
    ASSERT_TRUE(b.mix_key(H("0102")));
    Bytes ct = enc(a, H("68656c6c6f"));
    EXPECT_EQ(ct.size(), 5u + 16);
    std::optional<Bytes> pt = b.decrypt_and_hash(ct);
    ASSERT_TRUE(pt);
    EXPECT_EQ(X(*pt), "68656c6c6f");
    EXPECT_EQ(a.h(), b.h());
    Key32 c1{}, s1{}, c2{}, s2{};
    split_into(a, c1, s1);
    split_into(b, c2, s2);
    EXPECT_EQ(c1, c2);
    EXPECT_EQ(s1, s2);
    EXPECT_NE(c1, s1);
}

TEST(NoiseSymmetric, ServerStaticDecryptionWithGoValues) {
    Key32 e_priv = K("58a49f1c633f3d5161f6b7854c13d4b28ba4b6b5fe91644a5fc3c09fd623e07d");
    SymmetricState ss;
    ASSERT_TRUE(ss.init(S(kProtocolXX), kPrologue));
    EXPECT_EQ(X(ss.ck()), "4e6f6973655f58585f32353531395f41455347434d5f53484132353600000000");
    ASSERT_TRUE(ss.mix_key(dh(e_priv, K("9d9b8241572937f6672ce07221c143bc1cb1266334333f33797a592669523733"))));
    EXPECT_EQ(X(ss.ck()), "cf20e4a2d076541a3f45609407f6501d9f20d55f40b06ff32af4573c44ab1595");
    // The test pins the AAD directly, so decrypt with the state's key and that AAD.
    crypto::AesGcm g;
    ASSERT_TRUE(g.set_key(V(ss.k())));
    Bytes ct = H("6de6577bb273d20bb64ee96ffc99fabd1390853791c26fad729806b5b7ddedc44d689b48e05068e2823b44dd533fff8d");
    Bytes aad = H("42e2950db11903f6fd490bedd1cc630feb40b1d01ac350655a98273284498a1d");
    uint8_t iv[12], out[32];
    make_iv(0, iv);
    ASSERT_TRUE(g.decrypt(ByteView(iv, 12), aad, ByteView(ct.data(), 32), ct.data() + 32, out));
    EXPECT_EQ(X(ByteView(out, 32)), kServerStatic);
}

TEST(NoiseSymmetric, LiveDecryptionWithGoValues) {
    crypto::init();
    crypto::AesGcm g;
    ASSERT_TRUE(g.set_key(H("0e34efece6dc4516c05c53bb7e0c2128bc66c053da4e0b18afb0afe8e648c05d")));
    Bytes ct = H("920d8096b1c0e4376e0667c877d746fb2697c72b940beb73e89f87cc79e43aae6a23ed5c5ec7a4e37f04a9c4a9a25f02");
    Bytes aad = H("78b3c79d1c15cf84ec402678ac0478106a6f201a77e4d2364de1e096d65c7bfe");
    uint8_t iv[12], out[32];
    make_iv(0, iv);
    ASSERT_TRUE(g.decrypt(ByteView(iv, 12), aad, ByteView(ct.data(), 32), ct.data() + 32, out));
    EXPECT_EQ(X(ByteView(out, 32)), kServerStatic);
}

TEST(NoiseSymmetric, IvVectors) {
    uint8_t iv[12];
    make_iv(0, iv);
    EXPECT_EQ(X(ByteView(iv, 12)), "000000000000000000000000");
    make_iv(1, iv);
    EXPECT_EQ(X(ByteView(iv, 12)), "000000000000000000000001");
    make_iv(0x01020304, iv);
    EXPECT_EQ(X(ByteView(iv, 12)), "000000000000000001020304");
}

// ---- handshake replay -------------------------------------------------------------------------

TEST(NoiseReplay, XxFromGoDataWithoutClientFinish) {
    ReplayKeys keys;
    keys.client_ephemeral_private = K(kEPriv);
    keys.client_static_private = K("0101010101010101010101010101010101010101010101010101010101010101");
    Bytes ch = vector_client_hello(), sh = vector_server_hello();
    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh);
    ReplayResult r = replay_handshake(keys, kPrologue, &mch, &msh, nullptr);
    EXPECT_EQ(r.pattern, HandshakePattern::XX);
    EXPECT_TRUE(r.client_hello.ok) << r.client_hello.error;
    EXPECT_TRUE(r.server_hello.ok) << r.server_hello.error;
    EXPECT_FALSE(r.client_finish.attempted);
    ASSERT_TRUE(r.server_static);
    EXPECT_EQ(X(*r.server_static), kServerStatic);
    ASSERT_TRUE(r.certificate);
    EXPECT_EQ(X(*r.certificate), kCert);
    EXPECT_TRUE(r.keys);
    EXPECT_FALSE(r.client_static);  // no ClientFinish replayed
    EXPECT_FALSE(r.client_payload);
    EXPECT_TRUE(r.expects_client_finish());
    EXPECT_EQ(r.first_error(), "");
}

TEST(NoiseReplay, WrongEphemeralIsReported) {
    ReplayKeys keys;
    keys.client_ephemeral_private = K("0202020202020202020202020202020202020202020202020202020202020202");
    Bytes ch = vector_client_hello(), sh = vector_server_hello();
    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh);
    ReplayResult r = replay_handshake(keys, kPrologue, &mch, &msh, nullptr);
    EXPECT_FALSE(r.client_hello.ok);
    EXPECT_EQ(r.client_hello.error, "client ephemeral private key does not match the ClientHello ephemeral");
    EXPECT_FALSE(r.server_hello.ok);
    EXPECT_FALSE(r.keys);
    EXPECT_EQ(r.first_error(), r.client_hello.error);
}

TEST(NoiseReplay, TamperedServerStatic) {
    ReplayKeys keys;
    keys.client_ephemeral_private = K(kEPriv);
    Bytes ch = vector_client_hello(), sh = vector_server_hello();
    sh[5 + 32 + 2 + 10] ^= 0x40;  // inside the encrypted static
    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh);
    ReplayResult r = replay_handshake(keys, kPrologue, &mch, &msh, nullptr);
    EXPECT_TRUE(r.client_hello.ok);
    EXPECT_FALSE(r.server_hello.ok);
    EXPECT_EQ(r.server_hello.error, "server static decryption failed (wrong key?)");
    EXPECT_FALSE(r.keys);
}

namespace {

// A responder simulated with the same symmetric state (DH is commutative).
struct Peer {
    Key32 ce = K("a8abababababababababababababababababababababababababababababab6b");
    Key32 cs = K("c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d");
    Key32 se = K("d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedee7f");
    Key32 ss = K("1011121314151617181920212223242526272829303132333435363738393a7b");
    Bytes cert = H("0a0b0c0d"), client_payload = H("1122334455667788"), server_payload = H("99aa");
    Key32 c2s{}, s2c{};
};

// XX (or the XXfallback continuation) from MixHash(e_s): returns ServerHello and ClientFinish.
void xx_tail(Peer &p, SymmetricState &st, Bytes &server_hello, Bytes &client_finish) {
    Bytes sh, enc_s, enc_cert, enc_cs, enc_p;
    Key32 e_pub = pub(p.se), s_pub = pub(p.ss), c_pub = pub(p.cs);
    st.mix_hash(V(e_pub));
    ASSERT_TRUE(st.mix_key(dh(p.se, pub(p.ce))));
    enc_s = enc(st, V(s_pub));
    ASSERT_TRUE(st.mix_key(dh(p.ss, pub(p.ce))));
    enc_cert = enc(st, p.cert);
    put_bytes(sh, 1, V(e_pub));
    put_bytes(sh, 2, enc_s);
    put_bytes(sh, 3, enc_cert);
    server_hello = wrap(3, sh);
    enc_cs = enc(st, V(c_pub));
    ASSERT_TRUE(st.mix_key(dh(p.se, c_pub)));
    enc_p = enc(st, p.client_payload);
    Bytes cf;
    put_bytes(cf, 1, enc_cs);
    put_bytes(cf, 2, enc_p);
    client_finish = wrap(4, cf);
    split_into(st, p.c2s, p.s2c);
}

Bytes ik_client_hello(Peer &p, SymmetricState &st, const Key32 &rs_priv) {
    Key32 rs = pub(rs_priv), e_pub = pub(p.ce), c_pub = pub(p.cs);
    EXPECT_TRUE(st.init(S(kProtocolIK), kPrologue));
    st.mix_hash(V(rs));
    st.mix_hash(V(e_pub));
    EXPECT_TRUE(st.mix_key(dh(p.ce, rs)));
    Bytes enc_cs, enc_p;
    enc_cs = enc(st, V(c_pub));
    EXPECT_TRUE(st.mix_key(dh(p.cs, rs)));
    enc_p = enc(st, p.client_payload);
    Bytes ch;
    put_bytes(ch, 1, V(e_pub));
    put_bytes(ch, 2, enc_cs);
    put_bytes(ch, 3, enc_p);
    return wrap(2, ch);
}

ReplayKeys keys_for(const Peer &p) {
    ReplayKeys k;
    k.client_ephemeral_private = p.ce;
    k.client_static_private = p.cs;
    return k;
}

// Checks both traffic keys by decrypting a frame the peer encrypted in each direction.
void check_transport(const Peer &p, const ReplayResult &r) {
    TransportCipher server_tx, client_rx, client_tx, server_rx;
    ASSERT_TRUE(r.keys);
    ASSERT_TRUE(server_tx.set_key(V(p.s2c)));
    ASSERT_TRUE(client_rx.set_key(V(r.keys->s2c)));
    ASSERT_TRUE(client_tx.set_key(V(r.keys->c2s)));
    ASSERT_TRUE(server_rx.set_key(V(p.c2s)));
    Bytes pt = H("00f8021307"), ct(pt.size() + 16), out(pt.size());
    ASSERT_TRUE(server_tx.encrypt(3, pt, ct.data()));
    ASSERT_TRUE(client_rx.decrypt(3, ct, out.data()));
    EXPECT_EQ(out, pt);
    ASSERT_TRUE(client_tx.encrypt(0, pt, ct.data()));
    ASSERT_TRUE(server_rx.decrypt(0, ct, out.data()));
    EXPECT_EQ(out, pt);
}

}  // namespace

TEST(NoiseReplay, FullXx) {
    Peer p;
    SymmetricState st;
    ASSERT_TRUE(st.init(S(kProtocolXX), kPrologue));
    Key32 e_pub = pub(p.ce);
    st.mix_hash(V(e_pub));
    Bytes ch_inner;
    put_bytes(ch_inner, 1, V(e_pub));
    Bytes ch = wrap(2, ch_inner), sh, cf;
    xx_tail(p, st, sh, cf);

    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh), mcf = parse_handshake(cf);
    HandshakeReplay rp(keys_for(p), kPrologue);
    ASSERT_TRUE(rp.on_client_hello(mch));
    ASSERT_TRUE(rp.on_server_hello(msh));
    // Keys are there before the ClientFinish...
    ASSERT_TRUE(rp.result().keys);
    EXPECT_EQ(rp.result().keys->c2s, p.c2s);
    EXPECT_EQ(rp.result().keys->s2c, p.s2c);
    ASSERT_TRUE(rp.on_client_finish(mcf)) << rp.result().client_finish.error;
    const ReplayResult &r = rp.result();
    EXPECT_EQ(r.pattern, HandshakePattern::XX);
    EXPECT_EQ(r.server_static, pub(p.ss));
    EXPECT_EQ(r.certificate, p.cert);
    ASSERT_TRUE(r.client_static);
    EXPECT_EQ(r.client_static, pub(p.cs));
    ASSERT_TRUE(r.client_payload);
    EXPECT_EQ(r.client_payload, p.client_payload);
    // ...and the same after it.
    ASSERT_TRUE(r.keys);
    EXPECT_EQ(r.keys->c2s, p.c2s);
    EXPECT_EQ(r.keys->s2c, p.s2c);
    check_transport(p, r);
    EXPECT_EQ(r.first_error(), "");
}

TEST(NoiseReplay, XxWrongClientStatic) {
    Peer p;
    SymmetricState st;
    ASSERT_TRUE(st.init(S(kProtocolXX), kPrologue));
    Key32 e_pub = pub(p.ce);
    st.mix_hash(V(e_pub));
    Bytes ch_inner;
    put_bytes(ch_inner, 1, V(e_pub));
    Bytes ch = wrap(2, ch_inner), sh, cf;
    xx_tail(p, st, sh, cf);
    ReplayKeys k = keys_for(p);
    k.client_static_private[5] ^= 1;
    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh), mcf = parse_handshake(cf);
    ReplayResult r = replay_handshake(k, kPrologue, &mch, &msh, &mcf);
    EXPECT_TRUE(r.server_hello.ok);
    EXPECT_FALSE(r.client_finish.ok);
    EXPECT_EQ(r.client_finish.error, "client static private key does not match the ClientFinish static");
    EXPECT_FALSE(r.keys);
}

TEST(NoiseReplay, WrongPrologueFailsAtServerStatic) {
    Peer p;
    SymmetricState st;
    ASSERT_TRUE(st.init(S(kProtocolXX), kPrologue));
    Key32 e_pub = pub(p.ce);
    st.mix_hash(V(e_pub));
    Bytes ch_inner;
    put_bytes(ch_inner, 1, V(e_pub));
    Bytes ch = wrap(2, ch_inner), sh, cf;
    xx_tail(p, st, sh, cf);
    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh);
    ReplayResult r = replay_handshake(keys_for(p), H("57410602"), &mch, &msh, nullptr);
    EXPECT_FALSE(r.server_hello.ok);
    EXPECT_EQ(r.server_hello.error, "server static decryption failed (wrong key?)");
}

TEST(NoiseReplay, FullIk) {
    Peer p;
    SymmetricState st;
    Bytes ch = ik_client_hello(p, st, p.ss);
    Key32 e_pub = pub(p.se);
    st.mix_hash(V(e_pub));
    ASSERT_TRUE(st.mix_key(dh(p.se, pub(p.ce))));
    ASSERT_TRUE(st.mix_key(dh(p.se, pub(p.cs))));
    Bytes enc_sp, sh_inner;
    enc_sp = enc(st, p.server_payload);
    split_into(st, p.c2s, p.s2c);
    put_bytes(sh_inner, 1, V(e_pub));
    put_bytes(sh_inner, 3, enc_sp);
    Bytes sh = wrap(3, sh_inner);

    ReplayKeys k = keys_for(p);
    k.server_static_public = pub(p.ss);
    HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh);
    ReplayResult r = replay_handshake(k, kPrologue, &mch, &msh, nullptr);
    EXPECT_EQ(r.pattern, HandshakePattern::IK);
    ASSERT_TRUE(r.client_hello.ok) << r.client_hello.error;
    ASSERT_TRUE(r.server_hello.ok) << r.server_hello.error;
    EXPECT_FALSE(r.expects_client_finish());
    EXPECT_EQ(r.client_static, pub(p.cs));
    EXPECT_EQ(r.client_payload, p.client_payload);
    ASSERT_TRUE(r.server_payload);
    EXPECT_EQ(r.server_payload, p.server_payload);
    ASSERT_TRUE(r.keys);
    check_transport(p, r);

    // Without the cached server static, IK cannot be replayed, and says so.
    ReplayResult r2 = replay_handshake(keys_for(p), kPrologue, &mch, &msh, nullptr);
    EXPECT_FALSE(r2.client_hello.ok);
    EXPECT_NE(r2.client_hello.error.find("server static public key is not known"), std::string::npos);
    EXPECT_FALSE(r2.keys);

    // A stale cached server static.
    k.server_static_public = pub(p.se);
    ReplayResult r3 = replay_handshake(k, kPrologue, &mch, &msh, nullptr);
    EXPECT_FALSE(r3.client_hello.ok);
    EXPECT_EQ(r3.client_hello.error, "IK client static decryption failed (wrong server static key?)");
    EXPECT_FALSE(r3.keys);

    // A ClientFinish after IK is flagged.
    HandshakeReplay rp(keys_for(p), kPrologue);
    HandshakeMessage cf = parse_handshake(wrap(4, H("0a00")));
    EXPECT_FALSE(rp.on_client_finish(cf));
}

TEST(NoiseReplay, IkFallbackToXx) {
    for (bool know_rs : {false, true}) {
        Peer p;
        SymmetricState ik;
        // The client's cached server static is stale (the server rotated it): it uses p.se.
        Bytes ch = ik_client_hello(p, ik, p.se);
        SymmetricState st;
        ASSERT_TRUE(st.init(S(kProtocolXXFallback), kPrologue));
        st.mix_hash(V(pub(p.ce)));
        Bytes sh, cf;
        xx_tail(p, st, sh, cf);

        ReplayKeys k = keys_for(p);
        if (know_rs) k.server_static_public = pub(p.se);
        HandshakeMessage mch = parse_handshake(ch), msh = parse_handshake(sh), mcf = parse_handshake(cf);
        ReplayResult r = replay_handshake(k, kPrologue, &mch, &msh, &mcf);
        EXPECT_EQ(r.pattern, HandshakePattern::XXFallback);
        EXPECT_EQ(r.client_hello.ok, know_rs) << r.client_hello.error;  // IK part needs the cached key
        ASSERT_TRUE(r.server_hello.ok) << r.server_hello.error;
        ASSERT_TRUE(r.client_finish.ok) << r.client_finish.error;
        EXPECT_EQ(r.server_static, pub(p.ss));
        EXPECT_EQ(r.certificate, p.cert);
        EXPECT_EQ(r.client_static, pub(p.cs));
        EXPECT_EQ(r.client_payload, p.client_payload);
        ASSERT_TRUE(r.keys);
        EXPECT_EQ(r.keys->c2s, p.c2s);
        check_transport(p, r);
    }
}

// ---- transport cipher -------------------------------------------------------------------------

TEST(NoiseTransport, RoundTripAndFailures) {
    TransportCipher t;
    uint8_t out[64];
    EXPECT_FALSE(t.valid());
    EXPECT_FALSE(t.decrypt(0, Bytes(20, 0), out));
    EXPECT_FALSE(t.set_key(Bytes(16, 1)));  // transport keys are 32 bytes
    ASSERT_TRUE(t.set_key(Bytes(32, 7)));
    Bytes pt = H("0102030405060708090a"), ct(pt.size() + 16);
    ASSERT_TRUE(t.encrypt(41, pt, ct.data()));
    // Matches a direct AES-256-GCM with IV 0^8 || BE32(41) and empty AAD.
    crypto::AesGcm g;
    ASSERT_TRUE(g.set_key(Bytes(32, 7)));
    uint8_t iv[12], tag[16], ref[10];
    make_iv(41, iv);
    ASSERT_TRUE(g.encrypt(ByteView(iv, 12), {}, pt, ref, tag));
    EXPECT_EQ(X(ByteView(ct.data(), 10)), X(ByteView(ref, 10)));
    EXPECT_EQ(X(ByteView(ct.data() + 10, 16)), X(ByteView(tag, 16)));

    ASSERT_TRUE(t.decrypt(41, ct, out));
    EXPECT_EQ(X(ByteView(out, 10)), X(pt));
    EXPECT_FALSE(t.decrypt(42, ct, out));  // wrong counter
    for (int i = 0; i < 10; i++) EXPECT_EQ(out[i], 0) << "no unauthenticated plaintext";
    ct[0] ^= 1;
    EXPECT_FALSE(t.decrypt(41, ct, out));
    EXPECT_FALSE(t.decrypt(41, ByteView(ct.data(), 15), out));  // shorter than the tag
    // An empty plaintext is just a tag.
    Bytes empty_ct(16);
    ASSERT_TRUE(t.encrypt(0, {}, empty_ct.data()));
    EXPECT_TRUE(t.decrypt(0, empty_ct, out));
}

TEST(NoiseCert, VectorChainDecodesAndChecks) {
    Bytes plain = H(kCert);
    CertChain c = parse_cert_chain(plain);
    ASSERT_TRUE(c.ok) << c.error;
    ASSERT_TRUE(c.leaf.present && c.intermediate.present);
    EXPECT_EQ(c.intermediate.serial, 3u);
    EXPECT_EQ(c.intermediate.issuer_serial, 0u);
    EXPECT_EQ(to_hex(c.intermediate.key), "1c51a9ac303994c6c8d0b92ea1878a533476599cc599fbea35997d9aa90cce62");
    EXPECT_EQ(c.intermediate.not_before, 1741392000u);
    EXPECT_EQ(c.intermediate.not_after, 1804463999u);
    EXPECT_EQ(c.leaf.serial, 329u);
    EXPECT_EQ(c.leaf.issuer_serial, 3u);
    EXPECT_EQ(to_hex(c.leaf.key), kServerStatic);
    EXPECT_EQ(c.leaf.not_before, 1742850000u);
    EXPECT_EQ(c.leaf.not_after, 1753736400u);
    EXPECT_EQ(c.leaf.signature.size, 64u);
    EXPECT_EQ(c.intermediate.signature.size, 64u);
    // Offsets point at the values inside the chain.
    EXPECT_EQ(to_hex(ByteView(plain).sub(c.leaf.key_off + 2, 32)), kServerStatic);
    EXPECT_EQ(to_hex(ByteView(plain).sub(c.leaf.sig_off, 64)), to_hex(c.leaf.signature));
    CertChecks k = check_cert_chain(c, H(kServerStatic));
    EXPECT_TRUE(k.intermediate_issued_by_root && k.leaf_issued_by_intermediate && k.leaf_key_is_server_static);
    Bytes other = H(kServerStatic);
    other[0] ^= 1;
    EXPECT_FALSE(check_cert_chain(c, other).leaf_key_is_server_static);
    // Absent serials are nullopt, and two absent ones do not make the leaf "issued by" the
    // intermediate.
    CertChain bare = c;
    bare.leaf.issuer_serial.reset();
    bare.intermediate.serial.reset();
    EXPECT_FALSE(check_cert_chain(bare, H(kServerStatic)).leaf_issued_by_intermediate);
    // Truncations never read out of bounds and say what failed.
    for (size_t n = 0; n < plain.size(); n += 7) {
        CertChain t = parse_cert_chain(ByteView(plain).sub(0, n));
        if (!t.ok) {
            EXPECT_FALSE(t.error.empty());
        }
    }
}
