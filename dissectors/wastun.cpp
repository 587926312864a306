// wastun: the relay's STUN dialect — Binding/Allocate, WhatsApp ping/pong (0x08xx), the 0x40xx
// attributes (relay token, protobuf stream descriptors and subscriptions), FINGERPRINT and
// MESSAGE-INTEGRITY verification (keyed by the relay <key> text), and request/response links.
#include "wacall_plugin.h"
#include "media_state.h"

#include "call/inferred.h"
#include "media/ssrc.h"
#include "media/stun.h"

#include <algorithm>
#include <string>
#include <unordered_map>

int proto_wastun = -1;

namespace {

using namespace wacall;

int hf_type = -1, hf_length = -1, hf_magic = -1, hf_txid = -1, hf_attr = -1, hf_attr_type = -1, hf_attr_len = -1;
int hf_attr_value = -1, hf_token = -1, hf_addr = -1, hf_error_code = -1, hf_error_reason = -1, hf_pcount = -1;
int hf_fingerprint = -1, hf_fingerprint_status = -1, hf_integrity = -1, hf_integrity_status = -1;
int hf_desc_ssrc = -1, hf_desc_participant = -1, hf_sub_ssrc = -1, hf_sub_pid = -1;
int hf_proto_field = -1, hf_call_id = -1, hf_response_to = -1, hf_rtt = -1;
int hf_layout = -1, hf_txid16 = -1, hf_trailing = -1, hf_body = -1, hf_wa_token = -1, hf_wa_token_kind = -1;
int hf_wa_token_ssrc = -1, hf_wa_token_rest = -1, hf_wa_token_participant = -1, hf_relay_time = -1;
int hf_relay_time_offset = -1, hf_zero_padding = -1, hf_reservation_token = -1, hf_call_index = -1;
int ett_wastun = -1, ett_attr = -1, ett_proto = -1;
expert_field ei_fp_bad = EI_INIT, ei_mi_bad = EI_INIT, ei_malformed = EI_INIT, ei_unknown_type = EI_INIT;
expert_field ei_padding_nonzero = EI_INIT;

const value_string layout_vals[] = {{0, "padded (RFC 5389)"},
                                    {1, "unpadded (WhatsApp clients up to 2020)"},
                                    {2, "opaque body (not attributes)"},
                                    {3, "broken (neither layout fits)"},
                                    {0, nullptr}};

struct stun_pkt_t {
    const std::string *call_id;  // attribution decided on the first pass
    guint32 response_to;         // request frame for a response (0: none)
    nstime_t rtt;
    guint32 call_index;          // call inferred without keys (0: attributed to a keyed call, or none)
};

struct Pending {
    guint32 frame;
    nstime_t time;
};
std::unordered_map<std::string, Pending> g_requests;  // txid (+5-tuple) → latest request
std::unordered_map<std::string, const std::string *> g_conv_call;  // conversation → call

void stun_init() {
    g_requests.clear();
    g_conv_call.clear();
}

std::string conv_key(packet_info *pinfo) {
    char a[64], b[64];
    address_to_str_buf(&pinfo->src, a, sizeof a);
    address_to_str_buf(&pinfo->dst, b, sizeof b);
    std::string x = std::string(a) + "/" + std::to_string(pinfo->srcport), y = std::string(b) + "/" + std::to_string(pinfo->destport);
    return x < y ? x + "|" + y : y + "|" + x;
}

// First pass: which call does this message belong to? Its stream descriptors (0x4024, or the
// 0x0022 tokens of older clients) name SSRCs derived from a call; otherwise the flow inherits the
// call of an earlier message.
const std::string *attribute_call(packet_info *pinfo, const media::StunMessage &m) {
    std::string ck = conv_key(pinfo);
    for (const auto &a : m.attrs) {
        std::vector<media::StreamDescriptor> ds;  // the descriptors before any decoding failure count too
        std::optional<media::WaToken> tk;
        if (a.type == media::kAttrWaToken && (tk = media::decode_wa_token(a.value))) {  // pre-2021 clients
            ds.emplace_back();
            ds.back().ssrc = tk->ssrc;
        } else if (a.type == media::kAttrStreamDescriptors) {
            ds = media::decode_stream_descriptors(a.value).items;
        } else {
            continue;
        }
        // An SSRC two senders derive (MediaStream::next) names no call by itself: the first
        // unambiguous one decides, the first ambiguous one only if there is nothing else.
        const MediaStream *pick = nullptr;
        for (const auto &d : ds) {
            const MediaStream *s = d.ssrc ? wacall_media().attribute(*d.ssrc) : nullptr;
            if (s && (!pick || (pick->next() && !s->next()))) pick = s;
        }
        if (pick) {
            const std::string *c = wacall_media().intern_call(pick->call_id);
            g_conv_call[ck] = c;
            return c;
        }
    }
    auto it = g_conv_call.find(ck);
    return it == g_conv_call.end() ? nullptr : it->second;
}

// A message for the calls seen on the wire: its type, transaction id, relay token and, in a
// success response, the XOR-MAPPED and relayed (0x0016) addresses. Attributed to a keyed call
// (call_id), it adds to that call's details and returns 0; else the inferred call's index.
guint32 infer_call(packet_info *pinfo, const media::StunMessage &m, const std::string *call_id) {
    call::StunObservation o;
    if (!wacall_observe(pinfo, o)) return 0;
    o.type = m.type;
    o.txid.assign(reinterpret_cast<const char *>(m.txid.data), m.txid.size);
    const bool success = media::stun_class(m.type) == media::StunClass::SuccessResponse;
    for (const auto &a : m.attrs) {
        std::optional<media::SockAddr> sa;
        if ((a.type == media::kAttrRelayToken || a.type == media::kAttrRelayToken2) && a.length && o.relay_token.empty())
            o.relay_token.assign(reinterpret_cast<const char *>(a.value.data), a.value.size);
        else if (success && a.type == media::kAttrXorMappedAddress && (sa = media::decode_xor_mapped_address(a.value, m.txid)))
            o.xor_mapped = sa->family == 4 ? call::SockEnd::v4(sa->addr, sa->port) : call::SockEnd::v6(sa->addr, sa->port);
        else if (success && a.type == media::kAttrWasmRelayEndpoint && (sa = media::decode_wasm_relay_endpoint(a.value, m.txid)))
            o.xor_relayed = sa->family == 4 ? call::SockEnd::v4(sa->addr, sa->port) : call::SockEnd::v6(sa->addr, sa->port);
    }
    if (call_id) {
        wacall_inferred().add_stun(*call_id, o);
        return 0;
    }
    return wacall_inferred().add_stun(o);
}

void add_protobuf(proto_tree *t, tvbuff_t *tvb, gint base, const std::vector<media::ProtoNode> &nodes) {
    for (const auto &n : nodes) {
        proto_item *pi;
        if (n.type == protowire::LengthDelimited && n.children.empty()) {
            pi = proto_tree_add_bytes_format(t, hf_proto_field, tvb, base + static_cast<gint>(n.offset),
                                             static_cast<gint>(n.length), nullptr, "Field %u: %s", n.number,
                                             text_or_hex(n.bytes, n.printable).c_str());
        } else if (n.type == protowire::LengthDelimited) {
            pi = proto_tree_add_bytes_format(t, hf_proto_field, tvb, base + static_cast<gint>(n.offset),
                                             static_cast<gint>(n.length), nullptr, "Field %u (message)", n.number);
            add_protobuf(proto_item_add_subtree(pi, ett_proto), tvb, base, n.children);
        } else {
            proto_tree_add_bytes_format(t, hf_proto_field, tvb, base + static_cast<gint>(n.offset),
                                        static_cast<gint>(n.length), nullptr, "Field %u: %" PRIu64, n.number, n.varint);
        }
    }
}

void add_attribute(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, const media::StunMessage &m,
                   const media::StunAttr &a, ByteView msg, const std::string &mi_key) {
    // The TLV spans its padding only in the padded layout.
    size_t span = 4 + (m.layout == media::StunLayout::Unpadded ? a.length : a.padded_length);
    span = std::min(span, msg.size - a.offset);
    proto_item *ai = proto_tree_add_none_format(t, hf_attr, tvb, static_cast<gint>(a.offset),
                                                static_cast<gint>(span), "%s (0x%04x)",
                                                media::stun_attr_name(a.type), a.type);
    proto_tree *at = proto_item_add_subtree(ai, ett_attr);
    proto_tree_add_item(at, hf_attr_type, tvb, static_cast<gint>(a.offset), 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(at, hf_attr_len, tvb, static_cast<gint>(a.offset) + 2, 2, ENC_BIG_ENDIAN);
    gint vo = static_cast<gint>(a.value_offset), vl = a.length;
    switch (a.type) {
    case media::kAttrRelayToken:
    case media::kAttrRelayToken2:
        proto_tree_add_item(at, hf_token, tvb, vo, vl, ENC_NA);
        break;
    case media::kAttrWaToken: {
        std::optional<media::WaToken> token = media::decode_wa_token(a.value);
        if (!token) {  // RFC 5766's 8-byte RESERVATION-TOKEN shape
            proto_item_set_text(ai, "RESERVATION-TOKEN (0x%04x)", a.type);
            if (vl) proto_tree_add_item(at, hf_reservation_token, tvb, vo, vl, ENC_NA);
            break;
        }
        const media::WaToken &tk = *token;
        proto_tree_add_item(at, hf_wa_token, tvb, vo, vl, ENC_NA);
        proto_tree_add_item(at, hf_wa_token_kind, tvb, vo, 1, ENC_NA);
        proto_tree_add_item(at, hf_wa_token_ssrc, tvb, vo + 1, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(at, hf_wa_token_rest, tvb, vo + static_cast<gint>(tk.rest_offset),
                            static_cast<gint>(tk.rest.size), ENC_NA);
        proto_item_append_text(ai, ": SSRC 0x%08x", tk.ssrc);
        if (const MediaStream *st = wacall_media().attribute(tk.ssrc)) {
            proto_item *pi = proto_tree_add_string(at, hf_wa_token_participant, tvb, vo + 1, 4, st->participant.c_str());
            proto_item_set_generated(pi);
            proto_item_append_text(ai, " (%s, %s)", st->participant.c_str(), media::slot_name(st->slot_word));
        }
        break;
    }
    case media::kAttrRelayTime: {
        std::optional<uint64_t> epoch_ms = media::decode_relay_time(a.value);
        if (!epoch_ms) {
            if (vl) proto_tree_add_item(at, hf_attr_value, tvb, vo, vl, ENC_NA);
            break;
        }
        const uint64_t ms = *epoch_ms;
        nstime_t t;
        t.secs = static_cast<time_t>(ms / 1000);
        t.nsecs = static_cast<int>((ms % 1000) * 1000000);
        proto_item *ti = proto_tree_add_time(at, hf_relay_time, tvb, vo, vl, &t);
        (void)ti;
        proto_item_append_text(ai, ": %s", abs_time_to_str(pinfo->pool, &t, ABSOLUTE_TIME_UTC, FALSE));
        // How far the relay's clock is from the capture's: a few milliseconds on real captures.
        nstime_t d;
        nstime_delta(&d, &t, &pinfo->abs_ts);
        proto_item *pi = proto_tree_add_time(at, hf_relay_time_offset, tvb, vo, vl, &d);
        proto_item_set_generated(pi);
        break;
    }
    case media::kAttrZeroPadding: {
        proto_item *pi = proto_tree_add_item(at, hf_zero_padding, tvb, vo, vl, ENC_NA);
        if (!media::is_zero_padding(a.value)) expert_add_info(pinfo, pi, &ei_padding_nonzero);
        proto_item_append_text(ai, ": %u byte(s)", a.length);
        break;
    }
    case media::kAttrXorMappedAddress:
    case media::kAttrMappedAddress:
    case media::kAttrWasmRelayEndpoint: {
        std::optional<media::SockAddr> sa =
            a.type == media::kAttrXorMappedAddress ? media::decode_xor_mapped_address(a.value, m.txid)
            : a.type == media::kAttrMappedAddress  ? media::decode_mapped_address(a.value)
                                                   : media::decode_wasm_relay_endpoint(a.value, m.txid);
        if (sa) {
            std::string s = sa->to_string();
            proto_tree_add_string(at, hf_addr, tvb, vo, vl, s.c_str());
            proto_item_append_text(ai, ": %s", s.c_str());
        }
        break;
    }
    case media::kAttrErrorCode: {
        if (std::optional<media::StunErrorCode> ec = media::decode_error_code(a.value)) {
            proto_tree_add_uint(at, hf_error_code, tvb, vo, vl, ec->code);
            proto_tree_add_string(at, hf_error_reason, tvb, vo, vl, ec->reason.c_str());
            proto_item_append_text(ai, ": %u %s", ec->code, ec->reason.c_str());
        }
        break;
    }
    case media::kAttrParticipantCount: {
        if (std::optional<uint64_t> n = media::decode_participant_count(a.value))
            proto_tree_add_uint64(at, hf_pcount, tvb, vo, vl, *n);
        break;
    }
    case media::kAttrStreamDescriptors: {
        // Descriptors decoded before a malformed entry are shown too.
        const media::StreamDescriptors ds = media::decode_stream_descriptors(a.value);
        for (const auto &d : ds.items) {
            const uint32_t ssrc = d.ssrc.value_or(0);  // an entry without one is shown as 0
            proto_item *di = proto_tree_add_uint_format(at, hf_desc_ssrc, tvb, vo + static_cast<gint>(d.offset), 1, ssrc,
                                                        "Stream %s / %s: SSRC 0x%08x",
                                                        d.android ? d.stream_name.c_str() : media::stream_index_name(d.stream_index),
                                                        media::stream_subtype_name(d.sub_type), ssrc);
            if (const MediaStream *s = d.ssrc ? wacall_media().attribute(*d.ssrc) : nullptr) {
                if (!s->next()) {
                    proto_item_append_text(di, " (%s, %s)", s->participant.c_str(), media::slot_name(s->slot_word));
                } else {  // two senders derive this SSRC: name them all
                    for (const MediaStream *o = s; o; o = o->next())
                        proto_item_append_text(di, "%s%s, %s, call %s", o == s ? " (shared: " : "; ",
                                               o->participant.c_str(), media::slot_name(o->slot_word),
                                               o->call_id.c_str());
                    proto_item_append_text(di, ")");
                }
                proto_item *pi = proto_tree_add_string(proto_item_add_subtree(di, ett_attr), hf_desc_participant, tvb,
                                                       vo + static_cast<gint>(d.offset), 1, s->participant.c_str());
                proto_item_set_generated(pi);
            }
        }
        break;
    }
    case media::kAttrSenderSubscriptions: {
        if (std::optional<media::SenderSubscriptions> subs = media::decode_sender_subscriptions(a.value)) {
            for (const auto &e : subs->entries) {
                for (uint32_t s : e.ssrcs) proto_tree_add_uint(at, hf_sub_ssrc, tvb, vo + static_cast<gint>(e.offset), 1, s);
                for (int64_t p : e.pids) proto_tree_add_int64(at, hf_sub_pid, tvb, vo + static_cast<gint>(e.offset), 1, p);
            }
        }
        if (std::optional<std::vector<media::ProtoNode>> nodes = media::protobuf_tree(a.value))
            add_protobuf(at, tvb, vo, *nodes);
        break;
    }
    case media::kAttrReceiverSubscriptions: {
        if (std::optional<std::vector<media::ProtoNode>> nodes = media::protobuf_tree(a.value))
            add_protobuf(at, tvb, vo, *nodes);
        break;
    }
    case media::kAttrFingerprint: {
        std::optional<uint32_t> expect = media::compute_fingerprint(msg, a.offset);
        proto_item *pi = proto_tree_add_checksum(at, tvb, vo, hf_fingerprint, hf_fingerprint_status, &ei_fp_bad, pinfo,
                                                 expect.value_or(0), ENC_BIG_ENDIAN,
                                                 expect ? PROTO_CHECKSUM_VERIFY : PROTO_CHECKSUM_NO_FLAGS);
        (void)pi;
        break;
    }
    case media::kAttrMessageIntegrity: {
        proto_tree_add_item(at, hf_integrity, tvb, vo, vl, ENC_NA);
        guint8 status = PROTO_CHECKSUM_E_UNVERIFIED;
        if (!mi_key.empty()) {
            media::StunCheck c = media::verify_message_integrity(
                msg, a, ByteView(reinterpret_cast<const uint8_t *>(mi_key.data()), mi_key.size()));
            status = c == media::StunCheck::Good ? PROTO_CHECKSUM_E_GOOD : PROTO_CHECKSUM_E_BAD;
        }
        proto_item *pi = proto_tree_add_uint(at, hf_integrity_status, tvb, vo, vl, status);
        proto_item_set_generated(pi);
        if (status == PROTO_CHECKSUM_E_BAD)
            expert_add_info(pinfo, pi, &ei_mi_bad);
        break;
    }
    default:
        if (vl) proto_tree_add_item(at, hf_attr_value, tvb, vo, vl, ENC_NA);
    }
}

int dissect_wastun(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *) {
    guint len = tvb_captured_length(tvb);
    ByteView msg(tvb_get_ptr(tvb, 0, len), len);
    media::StunMessage m;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "WASTUN");
    proto_item *ti = proto_tree_add_item(tree, proto_wastun, tvb, 0, -1, ENC_NA);
    proto_tree *t = proto_item_add_subtree(ti, ett_wastun);
    const media::StunStatus status = media::parse_stun(msg, m);
    const bool ok = status == media::StunStatus::Ok;
    proto_tree_add_item(t, hf_type, tvb, 0, 2, ENC_BIG_ENDIAN);
    if (len >= 20) {
        proto_tree_add_item(t, hf_length, tvb, 2, 2, ENC_BIG_ENDIAN);
        if (!ok || m.has_cookie) {
            proto_tree_add_item(t, hf_magic, tvb, 4, 4, ENC_BIG_ENDIAN);
            proto_tree_add_item(t, hf_txid, tvb, 8, 12, ENC_NA);
        } else {  // RFC 3489 header: no cookie, a 16-byte transaction id
            proto_tree_add_item(t, hf_txid16, tvb, 4, 16, ENC_NA);
        }
    }
    std::string name = media::stun_type_name(m.type ? m.type : (len >= 2 ? be16(msg.data) : 0));
    col_add_str(pinfo->cinfo, COL_INFO, name.c_str());
    proto_item_append_text(ti, ", %s", name.c_str());
    if (!ok) {
        expert_add_info_format(pinfo, ti, &ei_malformed, "Malformed STUN: %s", media::stun_status_name(status));
        return len;
    }
    // The header parsed but the body did not (a length past the datagram, a truncated attribute):
    // the attributes read so far are shown, and why the walk stopped.
    if (!m.warning.empty()) expert_add_info_format(pinfo, ti, &ei_malformed, "Malformed STUN: %s", m.warning.c_str());
    proto_item *li = proto_tree_add_uint(t, hf_layout, tvb, 20, static_cast<gint>(std::min<size_t>(m.length, len - 20)),
                                         static_cast<guint32>(m.layout));
    proto_item_set_generated(li);
    if (m.layout == media::StunLayout::Opaque && m.length)
        proto_tree_add_item(t, hf_body, tvb, 20, m.length, ENC_NA);
    if (!m.trailing.empty())
        proto_tree_add_item(t, hf_trailing, tvb, static_cast<gint>(len - m.trailing.size), static_cast<gint>(m.trailing.size),
                            ENC_NA);
    if (media::stun_is_wa_type(m.type) && media::stun_type_name(m.type).rfind("unknown", 0) == 0)
        expert_add_info_format(pinfo, ti, &ei_unknown_type, "WhatsApp STUN type 0x%04x is not in the digests", m.type);

    auto *rec = static_cast<stun_pkt_t *>(p_get_proto_data(wmem_file_scope(), pinfo, proto_wastun, 0));
    if (!rec && !PINFO_FD_VISITED(pinfo)) {
        rec = wmem_new0(wmem_file_scope(), stun_pkt_t);
        rec->call_id = attribute_call(pinfo, m);
        // A response (or WhatsApp's pong) answers the request with the same transaction id.
        std::string tx = to_hex(m.txid);
        if (media::stun_is_response(m.type)) {
            auto it = g_requests.find(tx);
            if (it != g_requests.end()) {
                rec->response_to = it->second.frame;
                nstime_delta(&rec->rtt, &pinfo->abs_ts, &it->second.time);
            }
        } else {
            g_requests[tx] = Pending{pinfo->num, pinfo->abs_ts};
        }
        rec->call_index = infer_call(pinfo, m, rec->call_id);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_wastun, 0, rec);
    }
    if (rec && rec->call_index) {
        proto_item *pi = proto_tree_add_uint(t, hf_call_index, tvb, 0, 0, rec->call_index);
        proto_item_set_generated(pi);
        wacall_queue_inferred(pinfo, rec->call_index, true, 0, name.c_str());
    }
    std::string mi_key;
    if (rec && rec->call_id) {
        proto_item *pi = proto_tree_add_string(t, hf_call_id, tvb, 0, 0, rec->call_id->c_str());
        proto_item_set_generated(pi);
        mi_key = wacall_media().relay_key(*rec->call_id);
    }
    if (rec && rec->response_to) {
        proto_item *pi = proto_tree_add_uint(t, hf_response_to, tvb, 0, 0, rec->response_to);
        proto_item_set_generated(pi);
        pi = proto_tree_add_time(t, hf_rtt, tvb, 0, 0, &rec->rtt);
        proto_item_set_generated(pi);
    }
    for (const auto &a : m.attrs) add_attribute(t, tvb, pinfo, m, a, msg, mi_key);
    return len;
}

}  // namespace

// The call a dissected STUN frame was attributed to, keyed or inferred (conversation filter).
static const std::string *frame_call(packet_info *pinfo) {
    auto *rec = static_cast<stun_pkt_t *>(p_get_proto_data(wmem_file_scope(), pinfo, proto_wastun, 0));
    return rec ? rec->call_id : nullptr;
}

static guint32 frame_call_index(packet_info *pinfo) {
    auto *rec = static_cast<stun_pkt_t *>(p_get_proto_data(wmem_file_scope(), pinfo, proto_wastun, 0));
    return rec ? rec->call_index : 0;
}

void wastun_register() {
    static hf_register_info hf[] = {
        {&hf_type, {"Message type", "wastun.type", FT_UINT16, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_length, {"Message length", "wastun.length", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_magic, {"Magic cookie", "wastun.cookie", FT_UINT32, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_txid, {"Transaction ID", "wastun.txid", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_attr, {"Attribute", "wastun.attr", FT_NONE, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_attr_type, {"Attribute type", "wastun.attr.type", FT_UINT16, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_attr_len, {"Attribute length", "wastun.attr.length", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_attr_value, {"Value", "wastun.attr.value", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_token, {"Relay token", "wastun.relay_token", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_addr, {"Address", "wastun.address", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_error_code, {"Error code", "wastun.error_code", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_error_reason, {"Error reason", "wastun.error_reason", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_pcount, {"Participant count", "wastun.participant_count", FT_UINT64, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_fingerprint, {"Fingerprint", "wastun.fingerprint", FT_UINT32, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_fingerprint_status, {"Fingerprint status", "wastun.fingerprint.status", FT_UINT8, BASE_NONE,
                                  VALS(proto_checksum_vals), 0, nullptr, HFILL}},
        {&hf_integrity, {"Message integrity", "wastun.integrity", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_integrity_status, {"Message integrity status", "wastun.integrity.status", FT_UINT8, BASE_NONE,
                                VALS(proto_checksum_vals), 0, nullptr, HFILL}},
        {&hf_desc_ssrc, {"Stream SSRC", "wastun.stream.ssrc", FT_UINT32, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_desc_participant, {"Stream participant", "wastun.stream.participant", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_sub_ssrc, {"Subscribed SSRC", "wastun.subscription.ssrc", FT_UINT32, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_sub_pid, {"Subscribed pid", "wastun.subscription.pid", FT_INT64, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_proto_field, {"Protobuf field", "wastun.protobuf", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_id, {"Call ID", "wastun.call_id", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_index, {"Inferred call", "wastun.call_index", FT_UINT32, BASE_DEC, nullptr, 0,
                          "Call inferred without keys (as numbered in -z wacall,calls): relay STUN grouped by client "
                          "socket, relay token and time", HFILL}},
        {&hf_response_to, {"Response to", "wastun.response_to", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0, nullptr, HFILL}},
        {&hf_rtt, {"Round-trip time", "wastun.time", FT_RELATIVE_TIME, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_layout, {"Attribute layout", "wastun.layout", FT_UINT8, BASE_DEC, VALS(layout_vals), 0,
                      "How the attributes were walked: padded to 4 bytes, or back to back as WhatsApp clients up to "
                      "2020 write them", HFILL}},
        {&hf_txid16, {"Transaction ID (RFC 3489, no cookie)", "wastun.txid16", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_trailing, {"Trailing bytes", "wastun.trailing", FT_BYTES, BASE_NONE, nullptr, 0,
                        "Bytes after the declared message length (seen on WhatsApp pings)", HFILL}},
        {&hf_body, {"Body (not attributes)", "wastun.body", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_wa_token, {"WhatsApp stream token", "wastun.wa_token", FT_BYTES, BASE_NONE, nullptr, 0,
                        "WhatsApp's 0x0022 (14-16 bytes; not RFC 5766 RESERVATION-TOKEN)", HFILL}},
        {&hf_wa_token_kind, {"Kind", "wastun.wa_token.kind", FT_UINT8, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_wa_token_ssrc, {"SSRC", "wastun.wa_token.ssrc", FT_UINT32, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_wa_token_rest, {"Undecoded", "wastun.wa_token.rest", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_wa_token_participant, {"Stream participant", "wastun.wa_token.participant", FT_STRING, BASE_NONE, nullptr, 0,
                                    "The key log's participant whose stream has this SSRC", HFILL}},
        {&hf_reservation_token, {"Reservation token", "wastun.reservation_token", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_time, {"Relay time", "wastun.relay_time", FT_ABSOLUTE_TIME, ABSOLUTE_TIME_UTC, nullptr, 0,
                          "0x4002: the relay's clock, Unix-epoch milliseconds", HFILL}},
        {&hf_relay_time_offset, {"Relay time minus capture time", "wastun.relay_time.offset", FT_RELATIVE_TIME, BASE_NONE,
                                 nullptr, 0, nullptr, HFILL}},
        {&hf_zero_padding, {"Zero padding", "wastun.zero_padding", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
    };
    static gint *ett[] = {&ett_wastun, &ett_attr, &ett_proto};
    static ei_register_info ei[] = {
        {&ei_padding_nonzero, {"wastun.zero_padding.nonzero", PI_PROTOCOL, PI_NOTE, "0x4004 padding is not all zero",
                               EXPFILL}},
        {&ei_fp_bad, {"wastun.fingerprint.bad", PI_CHECKSUM, PI_ERROR, "Bad FINGERPRINT", EXPFILL}},
        {&ei_mi_bad, {"wastun.integrity.bad", PI_CHECKSUM, PI_ERROR,
                      "MESSAGE-INTEGRITY does not match the relay key", EXPFILL}},
        {&ei_malformed, {"wastun.malformed", PI_MALFORMED, PI_ERROR, "Malformed STUN message", EXPFILL}},
        {&ei_unknown_type, {"wastun.unknown_type", PI_UNDECODED, PI_NOTE, "Unknown WhatsApp STUN type", EXPFILL}},
    };
    proto_wastun = proto_register_protocol("WhatsApp Relay STUN", "WASTUN", "wastun");
    proto_register_field_array(proto_wastun, hf, G_N_ELEMENTS(hf));
    proto_register_subtree_array(ett, G_N_ELEMENTS(ett));
    expert_register_field_array(expert_register_protocol(proto_wastun), ei, G_N_ELEMENTS(ei));
    register_dissector("wastun", dissect_wastun, proto_wastun);
    wacall_on_capture_reset(stun_init);
    wacall_add_frame_call_source({frame_call, frame_call_index});
}

void wastun_handoff() {}
