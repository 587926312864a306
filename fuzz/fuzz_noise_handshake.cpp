// HandshakeMessage protobuf parsing and the client-side replay (XX, IK, XXfallback) with fixed
// private keys. Input: [u8 key set] then up to three messages, each as u16 length + bytes.
// The key sets are the generator's (test-pcaps/gen, byte-identical across runs) for its XX, IK and
// IK->XXfallback connections, so the seeds (fuzz/make_seeds.py) replay to the end and mutations
// start from every step of a real handshake.
#include "fuzz_common.h"
#include "noise/noise.h"

using namespace wacall;

namespace {

void check(const noise::HandshakeMessage &m, size_t len) {
    FUZZ_CHECK(m.inner_offset + m.inner_length <= len);
    if (m.error) FUZZ_CHECK(m.error_offset <= len);
    for (const noise::HandshakePart *p : {&m.ephemeral, &m.static_key, &m.payload}) {
        if (!p->present) continue;
        FUZZ_CHECK(p->offset + p->data.size <= len);
        FUZZ_CHECK(p->field_offset + p->field_length <= len);
        fuzz::touch(p->data);
    }
    for (const auto &o : m.other_fields) {
        FUZZ_CHECK(o.offset + o.length <= len);
        fuzz::touch(o.bytes);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::init_crypto();
    fuzz::Input in(data, size);
    uint8_t flags = in.u8();
    // The whole input as one message too (the common case for a dissector).
    {
        ByteView all = in.rest();
        check(noise::parse_handshake(all), all.size);
    }
    noise::HandshakeMessage msgs[3];
    bool have[3] = {false, false, false};
    for (int i = 0; i < 3 && in.n >= 2; i++) {
        size_t len = size_t(in.u8()) << 8;
        len |= in.u8();
        if (len > in.n) len = in.n;
        ByteView b(in.p, len);
        msgs[i] = noise::parse_handshake(b);
        check(msgs[i], len);
        have[i] = true;
        in.p += len;
        in.n -= len;
    }
    // The replay starts with two X25519 operations; it is only worth them when there is a
    // ClientHello to replay (it refuses anything else first thing).
    if (!have[0] || msgs[0].kind != noise::HandshakeKind::ClientHello) return 0;
    static const char *const kSets[3][3] = {
        // client ephemeral private, client static private, cached server static public
        {"e34a6db3fdfa59d3361db28119a9aba5fd3295275ac502667de785c4bc506758",
         "1368165cfe2ba4071faba1ed5230a2268f1f92348c654157ec89b6d4ee8eb845",
         "0da085377d8a167f349d929477729ec6bbc05dc40bec857ef8e314da0780d34e"},
        {"9c3e4647e0e9cdede31fbb64f650ee2ca30ae68bad40d8bd0234f9bf2302a125",
         "7cc9d7440a77c3976da2b52a7c35213cd1770840b28b92b559f046c4f330258f",
         "fa55c09ea9924f7e9fce3f84229e569dfd74080275363e7a69e8f56a7ddfe151"},
        {"2544dccf27f28ad8cac912c33a759de6c86dafbea6a412237a0c53e115213346",
         "8d3cc4d51477c787a81f9a839f29fe1c5c5d4712bde1d5695d55ff13c2b11950",
         "0e06ec4c0c98718e246b2c88043d7771501a4ecf8f7818777e8e954158a68360"},
    };
    const auto &set = kSets[(flags & 0x7F) % 3];
    noise::ReplayKeys keys;
    std::optional<Bytes> b = from_hex(set[0]);
    FUZZ_CHECK(b && b->size() == 32);
    std::memcpy(keys.client_ephemeral_private.data(), b->data(), 32);
    b = from_hex(set[1]);
    FUZZ_CHECK(b && b->size() == 32);
    std::memcpy(keys.client_static_private.data(), b->data(), 32);
    b = from_hex(set[2]);
    FUZZ_CHECK(b && b->size() == 32);
    if ((flags & 0x80) == 0) {  // the cached server static is known (IK can be replayed)
        keys.server_static_public.emplace();
        std::memcpy(keys.server_static_public->data(), b->data(), 32);
    }
    static const uint8_t prologue[4] = {0x57, 0x41, 6, 3};
    noise::ReplayResult r = noise::replay_handshake(keys, ByteView(prologue, 4), have[0] ? &msgs[0] : nullptr,
                                                    have[1] ? &msgs[1] : nullptr, have[2] ? &msgs[2] : nullptr);
    (void)r.first_error();
    // Keys exist only with a successful step, and a payload only where decryption ran.
    FUZZ_CHECK(!r.keys || r.server_hello.ok || r.client_finish.ok);
    (void)noise::pattern_name(r.pattern);
    return 0;
}
