// The relay STUN dialect: header and attribute walk, every attribute decoder, MESSAGE-INTEGRITY
// (with the KAT relay key) and FINGERPRINT verification, the protobuf-valued WhatsApp
// attributes (0x4021/0x4024/0x4025) and the generic protobuf tree.
#include "fuzz_common.h"
#include "media/demux.h"
#include "media/stun.h"

#include <vector>

using namespace wacall;
using namespace wacall::media;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::init_crypto();
    ByteView msg(data, size);
    StunMessage m;
    if (StunStatus st = parse_stun(msg, m); st != StunStatus::Ok) {
        FUZZ_CHECK(*stun_status_name(st) != '\0');
        // The protobuf decoders also see whole datagrams in the dissector's fallbacks.
        (void)protobuf_tree(msg);
        return 0;
    }
    FUZZ_CHECK(m.txid.size == (m.has_cookie ? 12u : 16u));
    FUZZ_CHECK(m.has_cookie || stun_is_wa_type(m.type));
    FUZZ_CHECK(m.trailing.size == 0 || 20u + m.length + m.trailing.size == size);
    // The layout chosen is one the whole body walks in (opaque: none does, WhatsApp types only).
    if (m.warning.empty() && m.layout != StunLayout::Opaque)
        FUZZ_CHECK(stun_walk_fits(msg, 20u + m.length, m.layout == StunLayout::Padded));
    FUZZ_CHECK(m.layout != StunLayout::Opaque || (m.attrs.empty() && stun_is_wa_type(m.type)));
    (void)classify(msg, true);
    (void)stun_type_name(m.type);
    static const char kKey[] = "0123456789abcdef";
    ByteView key(reinterpret_cast<const uint8_t *>(kKey), 16);
    for (const StunAttr &a : m.attrs) {
        FUZZ_CHECK(a.value_offset == a.offset + 4);
        FUZZ_CHECK(a.value_offset + a.value.size <= size);
        FUZZ_CHECK(a.value.size == a.length);
        fuzz::touch(a.value);
        (void)stun_attr_name(a.type);
        std::optional<SockAddr> sa;
        switch (a.type) {
        case kAttrMappedAddress:
            if ((sa = decode_mapped_address(a.value))) (void)sa->to_string();
            break;
        case kAttrXorMappedAddress:
            if ((sa = decode_xor_mapped_address(a.value, m.txid))) (void)sa->to_string();
            break;
        case kAttrWasmRelayEndpoint:
            if ((sa = decode_wasm_relay_endpoint(a.value, m.txid))) (void)sa->to_string();
            break;
        case kAttrWaToken:
            if (std::optional<WaToken> tk = decode_wa_token(a.value))
                FUZZ_CHECK(tk->rest_offset + tk->rest.size == a.value.size);
            break;
        case kAttrRelayTime:
            (void)decode_relay_time(a.value);
            break;
        case kAttrZeroPadding:
            (void)is_zero_padding(a.value);
            break;
        case kAttrErrorCode:
            (void)decode_error_code(a.value);
            break;
        case kAttrParticipantCount:
            (void)decode_participant_count(a.value);
            break;
        case kAttrNativeSenderSub:
            (void)decode_native_sender_sub(a.value);
            break;
        case kAttrMessageIntegrity:
            (void)compute_message_integrity(msg, a.offset, key);
            (void)verify_message_integrity(msg, a, key);
            break;
        case kAttrFingerprint:
            (void)compute_fingerprint(msg, a.offset);
            (void)verify_fingerprint(msg, a);
            break;
        default: break;
        }
        // The protobuf decoders run on every attribute value (they must reject, not crash).
        // Descriptors decoded before a failure are kept (the dissector shows them), so all are checked.
        StreamDescriptors sd = decode_stream_descriptors(a.value);
        FUZZ_CHECK(*proto_status_name(sd.status) != '\0');
        FUZZ_CHECK(sd.ok() == (sd.status == ProtoStatus::Ok) && (sd.status != ProtoStatus::Empty || sd.items.empty()));
        for (const auto &d : sd.items) {
            FUZZ_CHECK(d.offset <= a.value.size);
            (void)stream_index_name(d.stream_index);
            (void)stream_subtype_name(d.sub_type);
        }
        if (std::optional<SenderSubscriptions> subs = decode_sender_subscriptions(a.value)) {
            (void)subscription_shape_name(subs->shape);
            FUZZ_CHECK(!subs->entries.empty());
            for (const auto &e : subs->entries) FUZZ_CHECK(e.offset <= a.value.size);
        }
        if (std::optional<std::vector<int64_t>> pids = decode_receiver_subscriptions(a.value)) FUZZ_CHECK(!pids->empty());
        (void)protobuf_tree(a.value);
    }
    // The checks also run at arbitrary attribute offsets (the dissector trusts parse_stun's, but
    // the functions are public and must bound-check on their own).
    if (size >= 24) {
        size_t off = 20 + (size_t(data[size - 1]) * 4) % (size - 20);
        (void)compute_message_integrity(msg, off, key);
        (void)compute_fingerprint(msg, off);
    }
    return 0;
}
