// Noise transport AES-256-GCM with a fixed key: decrypting arbitrary frames (almost always a bad
// tag: must fail cleanly and zero the output), and a round trip (encrypt the input, decrypt it,
// compare) whose plaintext then goes through unpack_frame as a decrypted frame would.
#include "fuzz_common.h"
#include "noise/noise.h"
#include "wabinary/decoder.h"
#include "wabinary/frame.h"

#include <vector>

using namespace wacall;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::init_crypto();
    static noise::TransportCipher &cipher = *[] {
        auto *c = new noise::TransportCipher;
        FUZZ_CHECK(c->set_key(ByteView(fuzz::kat_call_key(), 32)));
        return c;
    }();
    fuzz::Input in(data, size);
    uint32_t counter = in.u32();
    ByteView body = in.rest();

    std::vector<uint8_t> out(body.size + noise::kTagSize + 1);
    bool ok = cipher.decrypt(counter, body, out.data());
    if (body.size < noise::kTagSize) FUZZ_CHECK(!ok);
    if (!ok && body.size >= noise::kTagSize)
        for (size_t i = 0; i < body.size - noise::kTagSize; i++) FUZZ_CHECK(out[i] == 0);

    std::vector<uint8_t> ct(body.size + noise::kTagSize), pt(body.size + 1);
    FUZZ_CHECK(cipher.encrypt(counter, body, ct.data()));
    FUZZ_CHECK(cipher.decrypt(counter, ByteView(ct.data(), ct.size()), pt.data()));
    FUZZ_CHECK(body.size == 0 || std::memcmp(pt.data(), body.data, body.size) == 0);
    if (!ct.empty()) {
        ct[counter % ct.size()] ^= 1;  // any flipped bit must fail the tag
        FUZZ_CHECK(!cipher.decrypt(counter, ByteView(ct.data(), ct.size()), pt.data()));
    }
    wabinary::Unpacked up = wabinary::unpack_frame(body, size_t(1) << 20);
    if (up.ok) {
        fuzz::touch(up.node);
        wabinary::DecodeResult r = wabinary::decode_node(up.node, wabinary::default_dictionary());
        (void)r;
    }
    return 0;
}
