// SFrame with a fixed key (derived from the KAT call key and peer id): header parsing, decryption
// of arbitrary frames (must fail cleanly, output zeroed), and encrypt/decrypt round trips with
// and without the header as AAD. Input: [u8 options][u64 counter as 8 bytes] then a frame.
#include "fuzz_common.h"
#include "media/sframe.h"

#include <vector>

using namespace wacall;
using namespace wacall::media;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::init_crypto();
    static SFrameKey *key = [] {
        auto *k = new SFrameKey;
        FUZZ_CHECK(k->derive(ByteView(fuzz::kat_call_key(), 32), fuzz::kPeerLid));
        return k;
    }();
    fuzz::Input in(data, size);
    uint8_t o = in.u8();
    uint64_t counter = uint64_t(in.u32()) << 32;
    counter |= in.u32();
    ByteView frame = in.rest();
    SFrameOptions opt;
    opt.header_as_aad = o & 1;

    const SFrameHeaderResult parsed = sframe_parse_header(frame);
    FUZZ_CHECK(*sframe_header_status_name(parsed.status) != '\0');
    FUZZ_CHECK(parsed.ok() || frame.size >= 19 || parsed.status == SFrameHeaderStatus::TooShort);
    if (parsed.ok()) {
        const SFrameHeader &h = parsed.header;
        FUZZ_CHECK(h.header_offset + h.header_len == frame.size);
        FUZZ_CHECK(h.ct_len + 16 == h.header_offset);
        FUZZ_CHECK(h.header_len >= 3);
    }
    std::vector<uint8_t> out(frame.size + 1, 0xEE);
    size_t out_len = 0;
    SFrameHeader hd;
    SFrameStatus st = sframe_decrypt(*key, frame, opt, out.data(), frame.size, out_len, &hd);
    (void)sframe_status_name(st);
    if (st == SFrameStatus::BadTag)
        for (size_t i = 0; i < hd.ct_len; i++) FUZZ_CHECK(out[i] == 0);

    uint64_t key_id = o >> 1;
    std::vector<uint8_t> enc(frame.size + 16 + 21);
    size_t enc_len = 0;
    FUZZ_CHECK(sframe_encrypt(*key, counter, key_id, frame, opt, enc.data(), enc.size(), enc_len));
    std::vector<uint8_t> back(frame.size + 1);
    size_t back_len = 0;
    SFrameHeader bh;
    FUZZ_CHECK(sframe_decrypt(*key, ByteView(enc.data(), enc_len), opt, back.data(), back.size(), back_len, &bh) ==
               SFrameStatus::Ok);
    FUZZ_CHECK(back_len == frame.size && bh.counter == counter && bh.key_id == key_id);
    FUZZ_CHECK(frame.size == 0 || std::memcmp(back.data(), frame.data, frame.size) == 0);
    uint8_t hdr[21];
    size_t hl = sframe_write_header(counter, key_id, hdr, sizeof hdr);
    FUZZ_CHECK(hl >= 3 && hl <= 21 && hdr[hl - 1] == hl);
    FUZZ_CHECK(sframe_write_header(counter, key_id, hdr, hl - 1) == 0);
    return 0;
}
