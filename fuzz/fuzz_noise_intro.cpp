// Noise connection intro and 3-byte framing: parse_intro over the stream start (with the default
// and a tiny edge-length cap), then the frame walk a dissector does over the rest, each frame
// handed to parse_handshake as the first three would be.
#include "fuzz_common.h"
#include "noise/noise.h"

using namespace wacall;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ByteView in(data, size);
    noise::Intro small = noise::parse_intro(in, 16);
    (void)small;
    noise::Intro intro = noise::parse_intro(in);
    if (intro.status != noise::IntroStatus::Ok) return 0;
    FUZZ_CHECK(intro.length <= size);
    FUZZ_CHECK(intro.wa_offset + noise::kWaHeaderSize == intro.length);
    if (intro.has_edge) FUZZ_CHECK(intro.edge_offset + intro.edge_length <= intro.wa_offset);
    ByteView pro = noise::intro_prologue(in, intro);
    FUZZ_CHECK(pro.size == noise::kWaHeaderSize);
    fuzz::touch(pro);
    size_t pos = intro.length;
    for (int frame = 0; pos + noise::kFrameHeaderSize <= size; frame++) {
        uint32_t len = noise::frame_length(data + pos);
        pos += noise::kFrameHeaderSize;
        if (len > size - pos) break;  // the dissector waits for more (reassembly)
        ByteView body(data + pos, len);
        if (frame < 3) {
            noise::HandshakeMessage m = noise::parse_handshake(body);
            for (const noise::HandshakePart *p : {&m.ephemeral, &m.static_key, &m.payload}) {
                if (!p->present) continue;
                FUZZ_CHECK(p->offset + p->data.size <= len);
                FUZZ_CHECK(p->field_offset + p->field_length <= len);
                fuzz::touch(p->data);
            }
            (void)noise::handshake_kind_name(m.kind);
        }
        pos += len;
    }
    return 0;
}
