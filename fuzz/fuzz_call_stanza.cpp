// The call-stanza model: node bytes decoded with the v3 dictionary (as on every current
// connection), then call::parse_stanza (envelope, actions, <relay> block, endpoints, group
// info, ack/receipt) and CallRegistry::update, applied twice to check idempotence.
#include "call/call.h"
#include "call/registry.h"
#include "fuzz_common.h"
#include "wabinary/decoder.h"

using namespace wacall;
using namespace wacall::call;

namespace {

void check_stanza(const CallStanza &s) {
    for (const auto &r : s.relays) {
        fuzz::touch(ByteView(r.hbh_key));
        if (r.hbh_encoding == HbhEncoding::Plain || r.hbh_encoding == HbhEncoding::Double)
            FUZZ_CHECK(r.hbh_key.size() == 30);
        if (r.key_decoded_ok) FUZZ_CHECK(r.key_decoded.size() == 16);
        FUZZ_CHECK(r.warp_mi_tag_len >= 1 && r.warp_mi_tag_len <= 20);
        for (const auto &t : r.tokens) fuzz::touch(t.data);
        for (const auto &t : r.auth_tokens) fuzz::touch(t.data);
        for (const auto &e : r.te2) (void)e.endpoint_text();
    }
    for (const auto &e : s.endpoints) {
        fuzz::touch(e.raw);
        (void)e.endpoint_text();
        // An RTT exists only for an offset-encoded latency, and is the latency less the offset.
        FUZZ_CHECK(!e.rtt_ms || (e.latency_raw && e.latency_offset_encoded && *e.latency_raw - *e.rtt_ms == 0x02000000u));
    }
    for (const auto &e : s.encs) fuzz::touch(e.ciphertext);
    if (s.capability) {
        fuzz::touch(s.capability->bytes);
        FUZZ_CHECK(s.capability->header.has_value() == (s.capability->bytes.size >= 2));
    }
    (void)action_name(s.action);
    (void)stanza_kind_name(s.kind);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const wabinary::Dictionary *dict = wabinary::dictionary_for_version(3);
    wabinary::DecodeResult r = wabinary::decode_node(ByteView(data, size), dict);
    if (!r.has_root) return 0;
    // The dissector only models complete stanzas, but a partial tree must be safe too.
    CallStanza s = parse_stanza(r.root);
    check_stanza(s);
    if (!s.is_call_related()) return 0;
    CallRegistry reg;
    const Call *c1 = reg.update(s, 1, 1.0, Direction::ClientToServer, 0);
    uint64_t gen = reg.generation();
    size_t n = reg.size();
    const Call *c2 = reg.update(s, 1, 1.0, Direction::ClientToServer, 0);  // re-dissection: no change
    FUZZ_CHECK(c1 == c2 && reg.size() == n && reg.generation() == gen);
    const Call *c3 = reg.update(s, 2, 2.0, Direction::ServerToClient, 0);  // a second copy of it
    (void)c3;
    if (!s.stanza_id.empty()) (void)reg.call_for_stanza_id(s.stanza_id);
    for (const auto &call : reg.calls()) {
        for (const auto &e : call.endpoints) {
            (void)e.text();
            (void)reg.call_for_endpoint(e.family, e.addr, e.port);
            (void)reg.call_for_address(e.family, e.addr);
        }
        (void)call_status_name(call.status);
    }
    (void)reg.call_for_frame(1, 0);
    return 0;
}
