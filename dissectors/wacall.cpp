// wacall: call-signaling semantics on top of a decoded WABinary stanza — <call> actions, their
// <ack>/<receipt>, the <relay> block — and the call model that links signaling to media.
// Also owns the `wacall.keylog_file` preference shared by every wacall protocol.
#include "wacall_plugin.h"

#include "call/call.h"
#include "call/registry.h"
#include "report/calls_report.h"
#include "keys/keylog.h"
#include "wabinary/node.h"
#include "wabinary/render.h"

#include <cstring>
#include <memory>

int proto_wacall = -1;

namespace {

using namespace wacall;
using namespace wacall::call;

int hf_kind = -1, hf_action = -1, hf_call_id = -1, hf_call_creator = -1, hf_from = -1, hf_to = -1;
int hf_stanza_id = -1, hf_time = -1, hf_platform = -1, hf_version = -1, hf_notify = -1, hf_participant = -1;
int hf_audio_enc = -1, hf_audio_rate = -1, hf_video = -1, hf_net_medium = -1, hf_net_protocol = -1;
int hf_cap_ver = -1, hf_cap_bytes = -1, hf_cap_blob = -1, hf_cap_bit = -1, hf_keygen = -1;
int hf_enc_type = -1, hf_enc_v = -1, hf_enc_count = -1, hf_enc_jid = -1, hf_enc_ct = -1;
int hf_te_ip = -1, hf_te_ipv6 = -1, hf_te_port = -1, hf_te_priority = -1, hf_te_rtt = -1, hf_te_latency = -1;
int hf_te_relay_name = -1, hf_te_relay_id = -1, hf_te_token_id = -1, hf_te_auth_token_id = -1;
int hf_te_c2r_rtt = -1, hf_te_fna = -1, hf_te_protocol = -1, hf_te_raw = -1;
int hf_relay_uuid = -1, hf_relay_self_pid = -1, hf_relay_peer_pid = -1, hf_relay_key = -1;
int hf_relay_key_bytes = -1, hf_relay_hbh = -1, hf_relay_hbh_enc = -1, hf_relay_tag_len = -1;
int hf_relay_token = -1, hf_relay_auth_token = -1, hf_relay_raw_e2e = -1;
int hf_reason = -1, hf_reason_grade = -1, hf_duration = -1, hf_audio_duration = -1;
int hf_transport_type = -1, hf_transport_type_name = -1, hf_p2p_round = -1;
int hf_video_state = -1, hf_mute_state = -1, hf_transaction_id = -1;
int hf_ack_class = -1, hf_ack_type = -1, hf_ack_error = -1, hf_ack_error_text = -1;
int hf_target = -1, hf_group_user = -1, hf_group_device = -1, hf_call_state = -1, hf_offer_frame = -1;
int hf_answered_by = -1, hf_notice_media = -1;
int ett_wacall = -1, ett_enc = -1, ett_te = -1, ett_relay = -1, ett_cap = -1, ett_group = -1;
expert_field ei_unknown_action = EI_INIT, ei_hbh_invalid = EI_INIT, ei_nonnormative = EI_INIT;
expert_field ei_ack_error = EI_INIT, ei_unknown_value = EI_INIT;

const char *pref_keylog_file = "";

void add_attr(proto_tree *t, int hf, tvbuff_t *tvb, const Attribute *a) {
    if (!a) return;
    const auto &v = a->value;
    proto_tree_add_string(t, hf, tvb, static_cast<gint>(v.offset), static_cast<gint>(v.length),
                          wabinary::shown_text(v).c_str());
}

// A number the core read from attribute a of node n (a is null when it was defaulted: then the node).
void add_attr_uint(proto_tree *t, int hf, tvbuff_t *tvb, const Node *n, const Attribute *a, std::optional<uint32_t> value) {
    if (!value || !n) return;
    if (a)
        proto_tree_add_uint(t, hf, tvb, static_cast<gint>(a->value.offset), static_cast<gint>(a->value.length), *value);
    else
        proto_tree_add_uint(t, hf, tvb, static_cast<gint>(n->offset), static_cast<gint>(n->length), *value);
}

// Bytes content of a node, located in the tvb (views point into the tvb's own buffer).
void add_content_bytes(proto_tree *t, int hf, tvbuff_t *tvb, const guint8 *base, ByteView b) {
    if (!b.data) return;
    proto_tree_add_item(t, hf, tvb, static_cast<gint>(b.data - base), static_cast<gint>(b.size), ENC_NA);
}

gint node_off(const Node *n) { return n ? static_cast<gint>(n->offset) : 0; }
gint node_len(const Node *n) { return n ? static_cast<gint>(n->length) : 0; }

void add_endpoint(proto_tree *parent, tvbuff_t *tvb, const guint8 *base, const Endpoint &ep, bool latency_action) {
    std::string label = "<" + ep.tag + "> " + (ep.family != AddrFamily::None ? ep.endpoint_text() : "(opaque)");
    if (!ep.relay_name.empty()) label += " " + ep.relay_name;
    proto_tree *t = proto_tree_add_subtree(parent, tvb, node_off(ep.node), node_len(ep.node), ett_te, nullptr, label.c_str());
    gint raw_off = ep.raw.data ? static_cast<gint>(ep.raw.data - base) : node_off(ep.node);
    if (ep.family == AddrFamily::IPv4 && !ep.from_attributes) {
        proto_tree_add_item(t, hf_te_ip, tvb, raw_off, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_te_port, tvb, raw_off + 4, 2, ENC_BIG_ENDIAN);
    } else if (ep.family == AddrFamily::IPv6 && !ep.from_attributes) {
        proto_tree_add_item(t, hf_te_ipv6, tvb, raw_off, 16, ENC_NA);
        proto_tree_add_item(t, hf_te_port, tvb, raw_off + 16, 2, ENC_BIG_ENDIAN);
    } else if (ep.family == AddrFamily::IPv4) {
        guint32 v4;
        std::memcpy(&v4, ep.addr, 4);
        proto_tree_add_ipv4(t, hf_te_ip, tvb, node_off(ep.node), node_len(ep.node), v4);
        proto_tree_add_uint(t, hf_te_port, tvb, node_off(ep.node), node_len(ep.node), ep.port);
    } else if (ep.raw.data) {
        proto_tree_add_item(t, hf_te_raw, tvb, raw_off, static_cast<gint>(ep.raw.size), ENC_NA);
    }
    const Node *n = ep.node;
    add_attr_uint(t, hf_te_priority, tvb, n, ep.at.priority, ep.priority);
    if (ep.latency_raw) {
        add_attr_uint(t, hf_te_latency, tvb, n, ep.at.latency, ep.latency_raw);
        if (ep.rtt_ms) {
            proto_item *pi = proto_tree_add_uint(t, hf_te_rtt, tvb, node_off(n), node_len(n), *ep.rtt_ms);
            proto_item_set_generated(pi);
            if (!latency_action) proto_item_append_text(pi, " (latency − 0x02000000)");
        }
    }
    if (!ep.relay_name.empty() && n) add_attr(t, hf_te_relay_name, tvb, ep.at.relay_name);
    add_attr_uint(t, hf_te_relay_id, tvb, n, ep.at.relay_id, ep.relay_id);
    add_attr_uint(t, hf_te_token_id, tvb, n, ep.at.token_id, ep.token_id);
    add_attr_uint(t, hf_te_auth_token_id, tvb, n, ep.at.auth_token_id, ep.auth_token_id);
    add_attr_uint(t, hf_te_c2r_rtt, tvb, n, ep.at.c2r_rtt, ep.c2r_rtt);
    add_attr_uint(t, hf_te_protocol, tvb, n, ep.at.protocol, ep.protocol);
    if (ep.is_fna && n) {
        const Attribute *a = ep.at.is_fna;
        proto_tree_add_boolean(t, hf_te_fna, tvb, a ? static_cast<gint>(a->value.offset) : 0,
                               a ? static_cast<gint>(a->value.length) : 0, TRUE);
    }
}

void add_relay(proto_tree *parent, tvbuff_t *tvb, packet_info *pinfo, const guint8 *base, const RelayBlock &r) {
    proto_tree *t = proto_tree_add_subtree(parent, tvb, node_off(r.node), node_len(r.node), ett_relay, nullptr,
                                           "Relay block");
    if (r.node) {
        add_attr(t, hf_relay_uuid, tvb, r.at.uuid);
        add_attr_uint(t, hf_relay_self_pid, tvb, r.node, r.at.self_pid, r.self_pid);
        add_attr_uint(t, hf_relay_peer_pid, tvb, r.node, r.at.peer_pid, r.peer_pid);
        add_attr_uint(t, hf_transaction_id, tvb, r.node, r.at.transaction_id, r.transaction_id);
    }
    if (r.key_node) {
        proto_tree_add_string(t, hf_relay_key, tvb, node_off(r.key_node), node_len(r.key_node), r.key_text.c_str());
        if (r.key_decoded_ok) {
            proto_item *pi = proto_tree_add_bytes_with_length(t, hf_relay_key_bytes, tvb, node_off(r.key_node),
                                                              node_len(r.key_node), r.key_decoded.data(),
                                                              static_cast<gint>(r.key_decoded.size()));
            proto_item_set_generated(pi);
        }
    }
    if (r.hbh_node) {
        proto_item *ei = proto_tree_add_string(t, hf_relay_hbh_enc, tvb, node_off(r.hbh_node), node_len(r.hbh_node),
                                               hbh_encoding_name(r.hbh_encoding));
        if (r.hbh_encoding == HbhEncoding::Plain || r.hbh_encoding == HbhEncoding::Double) {
            proto_item *pi = proto_tree_add_bytes_with_length(t, hf_relay_hbh, tvb, node_off(r.hbh_node),
                                                              node_len(r.hbh_node), r.hbh_key.data(),
                                                              static_cast<gint>(r.hbh_key.size()));
            proto_item_set_generated(pi);
        } else {
            expert_add_info(pinfo, ei, &ei_hbh_invalid);
        }
    }
    if (r.tag_len_present) {
        const Node *n = r.tag_len_node;
        proto_item *pi = r.tag_len_attr
                             ? proto_tree_add_uint(t, hf_relay_tag_len, tvb, static_cast<gint>(r.tag_len_attr->value.offset),
                                                   static_cast<gint>(r.tag_len_attr->value.length), r.tag_len_raw)
                             : proto_tree_add_uint(t, hf_relay_tag_len, tvb, node_off(n), node_len(n), r.tag_len_raw);
        if (!r.tag_len_valid)
            expert_add_info_format(pinfo, pi, &ei_unknown_value, "warp_mi_tag_len %u outside 1..20: using 4",
                                   r.tag_len_raw);
    }
    for (const auto &tok : r.tokens) {
        proto_item *pi = proto_tree_add_bytes_with_length(t, hf_relay_token, tvb, node_off(tok.node), node_len(tok.node),
                                                          tok.data.data, static_cast<gint>(tok.data.size));
        proto_item_append_text(pi, " (id %u%s)", tok.id, tok.ignored ? ", ignored" : "");
    }
    for (const auto &tok : r.auth_tokens) {
        proto_item *pi = proto_tree_add_bytes_with_length(t, hf_relay_auth_token, tvb, node_off(tok.node),
                                                          node_len(tok.node), tok.data.data,
                                                          static_cast<gint>(tok.data.size));
        proto_item_append_text(pi, " (id %u)", tok.id);
    }
    for (const auto &ep : r.te2) add_endpoint(t, tvb, base, ep, false);
    if (r.raw_e2e_node) add_content_bytes(t, hf_relay_raw_e2e, tvb, base, content_bytes(*r.raw_e2e_node));
}

void add_encs(proto_tree *parent, tvbuff_t *tvb, const guint8 *base, const CallStanza &cs) {
    for (const auto &e : cs.encs) {
        std::string label = "<enc type=" + e.type + (e.target_jid.empty() ? "" : " to " + e.target_jid) + ">";
        proto_tree *t = proto_tree_add_subtree(parent, tvb, node_off(e.node), node_len(e.node), ett_enc, nullptr,
                                               label.c_str());
        proto_item *pi;
        if (const Attribute *a = e.at.type) {
            add_attr(t, hf_enc_type, tvb, a);
        } else {
            pi = proto_tree_add_string(t, hf_enc_type, tvb, node_off(e.node), 0, e.type.c_str());
            proto_item_append_text(pi, " (absent: reference default)");
            proto_item_set_generated(pi);
        }
        add_attr_uint(t, hf_enc_v, tvb, e.node, e.at.v, e.v);
        add_attr_uint(t, hf_enc_count, tvb, e.node, e.at.count, e.count);
        if (e.to_node) add_attr(t, hf_enc_jid, tvb, e.at.jid);
        add_content_bytes(t, hf_enc_ct, tvb, base, e.ciphertext);
    }
}

void add_capability(proto_tree *parent, tvbuff_t *tvb, const guint8 *base, const Capability &c) {
    proto_tree *t = proto_tree_add_subtree_format(parent, tvb, node_off(c.node), node_len(c.node), ett_cap, nullptr,
                                                  "Capability ver %u: %s", c.ver, c.blob_name);
    add_attr_uint(t, hf_cap_ver, tvb, c.node, c.at.ver, c.ver);
    add_content_bytes(t, hf_cap_bytes, tvb, base, c.bytes);
    proto_item *pi = proto_tree_add_string(t, hf_cap_blob, tvb, node_off(c.node), node_len(c.node), c.blob_name);
    proto_item_append_text(pi, " [%s]", grade_name(c.blob_source));
    proto_item_set_generated(pi);
    for (uint16_t bit : c.set_bits) {
        pi = proto_tree_add_uint(t, hf_cap_bit, tvb, node_off(c.node), node_len(c.node), bit);
        proto_item_set_generated(pi);
    }
}

std::string info_summary(const CallStanza &cs) {
    std::string s;
    if (cs.kind == StanzaKind::Call) {
        s = "Call " + (cs.action_tag.empty() ? std::string("(no action)") : cs.action_tag);
    } else if (cs.kind == StanzaKind::Ack) {
        s = "Call ack";
        if (cs.ack.type) s += " " + std::string(cs.ack.type->value.text);
    } else {
        s = "Call receipt";
    }
    if (!cs.call_id.empty()) s += " call-id=" + cs.call_id;
    if (cs.action == Action::Terminate && !cs.reason.empty()) s += " reason=" + cs.reason;
    if (cs.transport_type) s += std::string(" type=") + cs.transport_type_name;
    if (!cs.relays.empty()) s += " +relay";
    return s;
}

// The calls tap (report, stats tree) and Wireshark's voip tap (Telephony › VoIP Calls). The state
// handed to voip is the call's state as of this frame, so every pass reports the same.
void queue_taps(packet_info *pinfo, const CallStanza &cs, const std::string &call_id) {
    if (call_id.empty()) return;
    wacall_note_frame_call(pinfo->num, call_id);
    const Call *c = wacall_calls().find(call_id);
    const char *action = cs.kind == StanzaKind::Call ? cs.action_tag.c_str() : stanza_kind_name(cs.kind);
    if (have_tap_listener(wacall_calls_tap)) {
        auto *info = wmem_new0(pinfo->pool, wacall_calls_tap_info);
        info->call_id = wmem_strdup(pinfo->pool, call_id.c_str());
        info->action = wmem_strdup(pinfo->pool, action);
        info->call = c;
        tap_queue_packet(wacall_calls_tap, pinfo, info);
    }
    if (c && have_tap_listener(wacall_voip_tap)) {
        auto *v = wmem_new0(pinfo->pool, voip_packet_info_t);
        v->protocol_name = wmem_strdup(pinfo->pool, "WhatsApp");
        v->call_id = wmem_strdup(pinfo->pool, call_id.c_str());
        switch (wacall::report::status_at(*c, pinfo->num)) {
        case CallStatus::Offered: v->call_state = VOIP_CALL_SETUP; break;
        case CallStatus::Ringing: v->call_state = VOIP_RINGING; break;
        case CallStatus::Accepted: v->call_state = VOIP_IN_CALL; break;
        case CallStatus::Rejected: v->call_state = VOIP_REJECTED; break;
        case CallStatus::Ended:
            v->call_state = c->accept.seen && c->accept.frame <= pinfo->num ? VOIP_COMPLETED : VOIP_CANCELLED;
            break;
        default: v->call_state = VOIP_UNKNOWN; break;
        }
        v->call_active_state = v->call_state == VOIP_COMPLETED || v->call_state == VOIP_CANCELLED ||
                                       v->call_state == VOIP_REJECTED ? VOIP_INACTIVE : VOIP_ACTIVE;
        v->from_identity = wmem_strdup(pinfo->pool, c->caller_jid.c_str());
        v->to_identity = wmem_strdup(pinfo->pool, c->callee_jid.c_str());
        v->frame_label = wmem_strdup(pinfo->pool, action);
        v->call_comment = wmem_strdup_printf(pinfo->pool, "WhatsApp %s call %s", c->is_video ? "video" : "voice",
                                             call_id.c_str());
        tap_queue_packet(wacall_voip_tap, pinfo, v);
    }
}

int dissect_wacall(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    auto *info = static_cast<wabinary_dissect_info *>(data);
    if (!info || !info->root) return 0;
    // Parsed into a long-lived object so a longjmp while building the tree leaks nothing.
    static std::unique_ptr<CallStanza> cs_holder;
    cs_holder = std::make_unique<CallStanza>(parse_stanza(*info->root));
    const CallStanza &cs = *cs_holder;
    if (!cs.is_call_related()) return 0;
    const guint8 *base = tvb_get_ptr(tvb, 0, tvb_captured_length(tvb));

    CallRegistry &reg = wacall_calls();
    // Several stanzas can share a frame: the registry keys its idempotency on (frame, index).
    guint32 index = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_wacall, 0));
    p_add_proto_data(pinfo->pool, pinfo, proto_wacall, 0, GUINT_TO_POINTER(index + 1));
    if (!PINFO_FD_VISITED(pinfo)) reg.update(cs, pinfo->num, nstime_to_sec(&pinfo->abs_ts), info->direction, index);
    // Acks and receipts that name no call-id still belong to one, through the stanza id.
    std::string call_id = cs.call_id;
    if (call_id.empty() && !cs.stanza_id.empty()) {
        if (const std::string *c = reg.call_for_stanza_id(cs.stanza_id)) call_id = *c;
    }

    queue_taps(pinfo, cs, call_id);

    col_set_str(pinfo->cinfo, COL_PROTOCOL, "WACALL");
    std::string summary = info_summary(cs);
    if (cs.call_id.empty() && !call_id.empty()) summary += " (call " + call_id + ")";
    col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", summary.c_str());

    proto_item *ti = proto_tree_add_item(tree, proto_wacall, tvb, 0, -1, ENC_NA);
    proto_item_append_text(ti, ", %s", summary.c_str());
    proto_tree *t = proto_item_add_subtree(ti, ett_wacall);
    proto_item *pi = proto_tree_add_string(t, hf_kind, tvb, 0, 0, stanza_kind_name(cs.kind));
    proto_item_set_generated(pi);
    if (cs.kind == StanzaKind::Call) {
        if (cs.action_node) {
            pi = proto_tree_add_string(t, hf_action, tvb, static_cast<gint>(cs.action_node->tag.offset),
                                       static_cast<gint>(cs.action_node->tag.length), cs.action_tag.c_str());
            if (cs.action == Action::Unknown)
                expert_add_info_format(pinfo, pi, &ei_unknown_action, "Action <%s> is not in either digest",
                                       cs.action_tag.c_str());
        }
    }
    if (cs.call_id_attr) {
        add_attr(t, hf_call_id, tvb, cs.call_id_attr);
    } else if (!call_id.empty()) {
        pi = proto_tree_add_string(t, hf_call_id, tvb, 0, 0, call_id.c_str());
        proto_item_append_text(pi, " (by stanza id)");
        proto_item_set_generated(pi);
    }
    add_attr(t, hf_call_creator, tvb, cs.call_creator_attr);
    add_attr(t, hf_stanza_id, tvb, cs.env.id);
    add_attr(t, hf_from, tvb, cs.env.from);
    add_attr(t, hf_to, tvb, cs.env.to);
    add_attr(t, hf_participant, tvb, cs.env.participant);
    add_attr(t, hf_time, tvb, cs.env.t);
    add_attr(t, hf_platform, tvb, cs.env.platform);
    add_attr(t, hf_version, tvb, cs.env.version);
    add_attr(t, hf_notify, tvb, cs.env.notify);

    for (const auto &a : cs.audio) {
        if (!a.node) continue;
        add_attr(t, hf_audio_enc, tvb, a.at.enc);
        add_attr_uint(t, hf_audio_rate, tvb, a.node, a.at.rate, a.rate);
    }
    if (cs.video_node) proto_tree_add_boolean(t, hf_video, tvb, node_off(cs.video_node), node_len(cs.video_node), TRUE);
    if (cs.net) {
        const Net &net = *cs.net;
        pi = nullptr;
        if (net.medium) {
            const Attribute *a = net.at.medium;
            pi = proto_tree_add_uint(t, hf_net_medium, tvb, a ? static_cast<gint>(a->value.offset) : node_off(net.node),
                                     a ? static_cast<gint>(a->value.length) : 0, *net.medium);
            proto_item_append_text(pi, " (%s)", net.medium_name);
        }
        add_attr_uint(t, hf_net_protocol, tvb, net.node, net.at.protocol, net.protocol);
    }
    if (cs.capability) add_capability(t, tvb, base, *cs.capability);
    add_attr_uint(t, hf_keygen, tvb, cs.encopt_node, cs.at.keygen, cs.keygen);
    for (const auto &tg : cs.targets) {
        if (tg.node) add_attr(t, hf_target, tvb, tg.at.jid);
    }
    add_encs(t, tvb, base, cs);
    bool latency_action = cs.action == Action::RelayLatency;
    for (const auto &ep : cs.endpoints) {
        add_endpoint(t, tvb, base, ep, latency_action);
        if (latency_action && ep.latency_raw && !ep.latency_offset_encoded)
            expert_add_info_format(pinfo, ti, &ei_unknown_value, "latency %u is below 0x02000000: not offset-encoded",
                                   *ep.latency_raw);
    }
    if (cs.reason_attr) {
        add_attr(t, hf_reason, tvb, cs.reason_attr);
        pi = proto_tree_add_string_format_value(t, hf_reason_grade, tvb, static_cast<gint>(cs.reason_attr->value.offset),
                                                static_cast<gint>(cs.reason_attr->value.length),
                                                grade_name(cs.reason_grade), "%s%s%s", grade_name(cs.reason_grade),
                                                *cs.reason_meaning ? ": " : "", cs.reason_meaning);
        proto_item_set_generated(pi);
        if (cs.reason_nonnormative)
            expert_add_info_format(pinfo, pi, &ei_nonnormative,
                                   "<reject reason> is not in the normative spec (SIG-08), only its stanza model");
    }
    if (cs.action == Action::Terminate) {
        add_attr_uint(t, hf_duration, tvb, cs.action_node, cs.at.duration, cs.duration);
        add_attr_uint(t, hf_audio_duration, tvb, cs.action_node, cs.at.audio_duration, cs.audio_duration);
        if (!cs.duration) {
            pi = proto_tree_add_string(t, hf_call_state, tvb, 0, 0, "duration not reported");
            proto_item_set_generated(pi);
        }
    }
    if (cs.transport_type) {
        add_attr_uint(t, hf_transport_type, tvb, cs.action_node, cs.at.transport_type, cs.transport_type);
        pi = proto_tree_add_string(t, hf_transport_type_name, tvb, 0, 0, cs.transport_type_name);
        proto_item_set_generated(pi);
    }
    add_attr_uint(t, hf_p2p_round, tvb, cs.action_node, cs.at.p2p_cand_round, cs.p2p_cand_round);
    if (cs.video_state) {
        const Attribute *a = cs.at.video_state;
        pi = proto_tree_add_uint(t, hf_video_state, tvb, a ? static_cast<gint>(a->value.offset) : 0,
                                 a ? static_cast<gint>(a->value.length) : 0, *cs.video_state);
        proto_item_append_text(pi, " (%s)", cs.video_state_name);
    }
    if (!cs.mute_state.empty() && cs.action_node) add_attr(t, hf_mute_state, tvb, cs.at.mute_state);
    if (cs.transaction_id && cs.action_node)
        add_attr_uint(t, hf_transaction_id, tvb, cs.action_node, cs.at.transaction_id, cs.transaction_id);
    if (!cs.notice_media.empty() && cs.action_node) add_attr(t, hf_notice_media, tvb, cs.at.notice_media);
    if (cs.group_info) {
        const GroupInfo &g = *cs.group_info;
        proto_tree *gt = proto_tree_add_subtree_format(t, tvb, node_off(g.node), node_len(g.node), ett_group, nullptr,
                                                       "Group info: %u users", static_cast<unsigned>(g.users.size()));
        for (const auto &u : g.users) {
            if (u.node) add_attr(gt, hf_group_user, tvb, u.at.jid);
            for (const auto &d : u.devices)
                if (d.node) add_attr(gt, hf_group_device, tvb, d.at.jid);
        }
    }
    if (cs.kind == StanzaKind::Ack) {
        add_attr(t, hf_ack_class, tvb, cs.ack.cls);
        add_attr(t, hf_ack_type, tvb, cs.ack.type);
        if (cs.ack.error_code) {
            pi = proto_tree_add_uint(t, hf_ack_error, tvb, node_off(cs.ack.error_node), node_len(cs.ack.error_node),
                                     *cs.ack.error_code);
            expert_add_info_format(pinfo, pi, &ei_ack_error, "Call ack carries error %u %s", *cs.ack.error_code,
                                   cs.ack.error_text.c_str());
            if (!cs.ack.error_text.empty())
                proto_tree_add_string(t, hf_ack_error_text, tvb, node_off(cs.ack.error_node),
                                      node_len(cs.ack.error_node), cs.ack.error_text.c_str());
        }
    }
    for (const auto &r : cs.relays) add_relay(t, tvb, pinfo, base, r);

    // Generated: the call this stanza belongs to, as the registry knows it.
    if (const Call *c = call_id.empty() ? nullptr : reg.find(call_id)) {
        if (c->offer.seen && c->offer.frame != pinfo->num) {
            pi = proto_tree_add_uint(t, hf_offer_frame, tvb, 0, 0, c->offer.frame);
            proto_item_set_generated(pi);
        }
        if (!c->answering_device.empty()) {
            pi = proto_tree_add_string(t, hf_answered_by, tvb, 0, 0, c->answering_device.c_str());
            proto_item_set_generated(pi);
        }
    }
    return tvb_captured_length(tvb);
}

void wacall_prefs_apply() { wacall_keys_set_path(pref_keylog_file); }


}  // namespace

void wacall_register() {
    static hf_register_info hf[] = {
        {&hf_kind, {"Stanza kind", "wacall.stanza", FT_STRING, BASE_NONE, nullptr, 0, "call, ack or receipt", HFILL}},
        {&hf_action, {"Action", "wacall.action", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_id, {"Call ID", "wacall.call_id", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_creator, {"Call creator", "wacall.call_creator", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_stanza_id, {"Stanza ID", "wacall.stanza_id", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_from, {"From", "wacall.from", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_to, {"To", "wacall.to", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_participant, {"Participant", "wacall.participant", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_time, {"Timestamp", "wacall.t", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_platform, {"Platform", "wacall.platform", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_version, {"Version", "wacall.version", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_notify, {"Push name", "wacall.notify", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_audio_enc, {"Audio codec", "wacall.audio.enc", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_audio_rate, {"Audio rate", "wacall.audio.rate", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_video, {"Video", "wacall.video", FT_BOOLEAN, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_net_medium, {"Net medium", "wacall.net.medium", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_net_protocol, {"Net protocol", "wacall.net.protocol", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_cap_ver, {"Capability version", "wacall.capability.ver", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_cap_bytes, {"Capability", "wacall.capability.bytes", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_cap_blob, {"Known blob", "wacall.capability.blob", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_cap_bit, {"Bit set (inferred LSB-first bitmap)", "wacall.capability.bit", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_keygen, {"Key generation", "wacall.encopt.keygen", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_target, {"Destination device", "wacall.destination.jid", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_enc_type, {"Enc type", "wacall.enc.type", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_enc_v, {"Enc version", "wacall.enc.v", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_enc_count, {"Enc count", "wacall.enc.count", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_enc_jid, {"Enc target device", "wacall.enc.jid", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_enc_ct, {"Signal ciphertext", "wacall.enc.ciphertext", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_te_ip, {"Endpoint address", "wacall.te.ip", FT_IPv4, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_te_ipv6, {"Endpoint IPv6 address", "wacall.te.ipv6", FT_IPv6, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_te_port, {"Endpoint port", "wacall.te.port", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_raw, {"Endpoint bytes (unknown layout)", "wacall.te.raw", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_te_priority, {"Priority", "wacall.te.priority", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_latency, {"Latency (raw)", "wacall.te.latency", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_rtt, {"Round-trip time (ms)", "wacall.relaylatency.rtt_ms", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_relay_name, {"Relay name", "wacall.te.relay_name", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_te_relay_id, {"Relay id", "wacall.te.relay_id", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_token_id, {"Token id", "wacall.te.token_id", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_auth_token_id, {"Auth token id", "wacall.te.auth_token_id", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_c2r_rtt, {"Client-to-relay RTT (ms)", "wacall.te.c2r_rtt", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_te_fna, {"Inbound-only (FNA)", "wacall.te.is_fna", FT_BOOLEAN, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_te_protocol, {"Protocol (meaning unknown)", "wacall.te.protocol", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_uuid, {"Relay UUID", "wacall.relay.uuid", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_self_pid, {"Self pid", "wacall.relay.self_pid", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_peer_pid, {"Peer pid", "wacall.relay.peer_pid", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_key, {"Relay key", "wacall.relay.key", FT_STRING, BASE_NONE, nullptr, 0,
                         "ASCII text of <key>: the STUN MESSAGE-INTEGRITY key", HFILL}},
        {&hf_relay_key_bytes, {"Relay key (decoded)", "wacall.relay.key_bytes", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_hbh, {"Hop-by-hop key", "wacall.relay.hbh_key", FT_BYTES, BASE_NONE, nullptr, 0,
                         "The decoded 30-byte hbh_key", HFILL}},
        {&hf_relay_hbh_enc, {"Hop-by-hop key encoding", "wacall.relay.hbh_encoding", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_tag_len, {"WARP MI tag length", "wacall.relay.warp_mi_tag_len", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_token, {"Relay token", "wacall.relay.token", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_auth_token, {"Auth token", "wacall.relay.auth_token", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_relay_raw_e2e, {"raw_e2e", "wacall.relay.raw_e2e", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_reason, {"Reason", "wacall.reason", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_reason_grade, {"Reason known from", "wacall.reason.grade", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_duration, {"Duration (s)", "wacall.duration", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_audio_duration, {"Audio duration (s)", "wacall.audio_duration", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_transport_type, {"Transport message type", "wacall.transport.type", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_transport_type_name, {"Transport message type name", "wacall.transport.type_name", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_p2p_round, {"P2P candidate round", "wacall.transport.p2p_cand_round", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_video_state, {"Video state", "wacall.video.state", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_mute_state, {"Mute state", "wacall.mute_state", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_transaction_id, {"Transaction id", "wacall.transaction_id", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_notice_media, {"Offer notice media", "wacall.offer_notice.media", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_ack_class, {"Ack class", "wacall.ack.class", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_ack_type, {"Ack type", "wacall.ack.type", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_ack_error, {"Ack error code", "wacall.ack.error", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_ack_error_text, {"Ack error text", "wacall.ack.error_text", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_group_user, {"Group user", "wacall.group.user", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_group_device, {"Group device", "wacall.group.device", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_state, {"Note", "wacall.note", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_offer_frame, {"Offer in frame", "wacall.offer_frame", FT_FRAMENUM, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_answered_by, {"Answered by", "wacall.answered_by", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
    };
    static gint *ett[] = {&ett_wacall, &ett_enc, &ett_te, &ett_relay, &ett_cap, &ett_group};
    static ei_register_info ei[] = {
        {&ei_unknown_action, {"wacall.unknown_action", PI_UNDECODED, PI_NOTE, "Unknown call action", EXPFILL}},
        {&ei_hbh_invalid, {"wacall.hbh_key.invalid", PI_MALFORMED, PI_WARN, "hbh_key does not decode to 30 bytes", EXPFILL}},
        {&ei_nonnormative, {"wacall.nonnormative", PI_PROTOCOL, PI_NOTE, "Not in the normative spec", EXPFILL}},
        {&ei_ack_error, {"wacall.ack.error.expert", PI_RESPONSE_CODE, PI_WARN, "Call ack with an error", EXPFILL}},
        {&ei_unknown_value, {"wacall.unknown_value", PI_PROTOCOL, PI_NOTE, "Value outside what the spec knows", EXPFILL}},
    };
    proto_wacall = proto_register_protocol("WhatsApp Call Signaling", "WACALL", "wacall");
    wacall_register_calls_tap();
    proto_register_field_array(proto_wacall, hf, G_N_ELEMENTS(hf));
    proto_register_subtree_array(ett, G_N_ELEMENTS(ett));
    expert_register_field_array(expert_register_protocol(proto_wacall), ei, G_N_ELEMENTS(ei));
    module_t *mod = prefs_register_protocol(proto_wacall, wacall_prefs_apply);
    prefs_register_filename_preference(mod, "keylog_file", "Key log file",
                                       "WA_NOISE_TRAFFIC / WA_NOISE_PRIVATE / WA_CALL_KEY / WA_PARTICIPANT lines "
                                       "(see the wacall docs); re-read when it grows",
                                       &pref_keylog_file, FALSE);
    register_dissector("wacall", dissect_wacall, proto_wacall);
    wacall_register_capture_state(&pref_keylog_file);
}

void wacall_handoff() {}
