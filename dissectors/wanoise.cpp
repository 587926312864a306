// wanoise: WhatsApp's Noise transport — connection intro, 3-byte framing (over raw TCP and over
// WebSocket messages), handshake messages, handshake replay and transport-frame decryption.
// Decrypted frames go to the wabinary dissector as a new data source, with their direction.
//
// The receiver itself is noise::Session (src/noise/session.*): this file hands it each frame's
// bytes and direction and renders the verdict it returns. State: the sessions live in
// g_sessions, reset with the capture; conversation and per-PDU records are POD in wmem file
// scope. The first pass stores each frame's verdict and plaintext per PDU; later passes (tshark
// -2, the GUI's random access) only read what was stored, so every view shows the same thing.
#include "port_share.h"
#include "wacall_plugin.h"

#include "call/registry.h"
#include "noise/cert.h"
#include "noise/noise.h"
#include "noise/session.h"
#include "noise/tcp_stream.h"

#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>

int proto_wanoise = -1;

namespace {

using namespace wacall;

int hf_intro_edge_magic = -1, hf_intro_edge_len = -1, hf_intro_edge_data = -1;
int hf_intro_magic = -1, hf_intro_protocol = -1, hf_intro_dict = -1;
int hf_frame_len = -1, hf_direction = -1, hf_counter = -1, hf_ciphertext = -1, hf_tag = -1;
int hf_decrypted = -1, hf_key_source = -1, hf_frame_kind = -1;
int hf_hs_type = -1, hf_hs_ephemeral = -1, hf_hs_static = -1, hf_hs_payload = -1, hf_hs_other = -1;
int hf_hs_pattern = -1, hf_hs_server_static = -1, hf_hs_certificate = -1, hf_hs_client_static = -1;
int hf_hs_client_payload = -1, hf_hs_server_payload = -1, hf_session = -1;
int hf_stream_offset = -1;
int ett_wanoise = -1, ett_intro = -1, ett_handshake = -1, ett_replay = -1, ett_cert = -1;
int hf_cert_serial = -1, hf_cert_issuer = -1, hf_cert_key = -1, hf_cert_not_before = -1, hf_cert_not_after = -1;
int hf_cert_signature = -1, hf_cert_root_ok = -1, hf_cert_chain_ok = -1, hf_cert_key_ok = -1;
expert_field ei_cert = EI_INIT;

expert_field ei_no_key = EI_INIT, ei_bad_tag = EI_INIT, ei_replay = EI_INIT, ei_hs_malformed = EI_INIT;
expert_field ei_short = EI_INIT, ei_counter = EI_INIT, ei_midstream = EI_INIT;
expert_field ei_tcp_gap = EI_INIT, ei_tcp_ooo = EI_INIT, ei_tcp_retrans = EI_INIT, ei_tcp_late = EI_INIT;
// The postdissector reads these TCP fields of segments TCP does not hand to a subdissector.
int hf_tcp_payload = -1, hf_tcp_seq = -1;
// Sessions captured without their intro/handshake: how many counters to try per direction.
guint pref_midstream_counters = 4096;

dissector_handle_t wanoise_tcp_handle, wanoise_ws_handle, wabinary_handle;
// TCP 443 and 5222 stay TLS's and XMPP's unless a stream opens with the WhatsApp intro.
PortShare g_tls_port{"tcp.port", 443, nullptr}, g_xmpp_port{"tcp.port", 5222, nullptr};
int proto_wanoise_on_tls = -1, proto_wanoise_on_xmpp = -1;

// The Noise receiver's policy lives in src/noise/session.*: it decides, this file renders.
using Direction = noise::Dir;
using noise::C2S;
using noise::S2C;
using noise::FrameStatus;
using noise::KeyOrigin;
enum PduKind : guint8 { PDU_HANDSHAKE = 1, PDU_TRANSPORT = 2 };  // noise::FrameKind's values
constexpr guint32 ko(KeyOrigin k) { return static_cast<guint32>(k); }

const value_string direction_vals[] = {{C2S, "client to server"}, {S2C, "server to client"}, {0, nullptr}};
const value_string key_source_vals[] = {
    {ko(KeyOrigin::None), "none"}, {ko(KeyOrigin::Traffic), "WA_NOISE_TRAFFIC"},
    {ko(KeyOrigin::Replay), "WA_NOISE_PRIVATE (handshake replay)"}, {0, nullptr}};
const value_string frame_kind_vals[] = {{PDU_HANDSHAKE, "handshake"}, {PDU_TRANSPORT, "transport"}, {0, nullptr}};
const value_string hs_type_vals[] = {{1, "ClientHello"}, {2, "ServerHello"}, {3, "ClientFinish"}, {0, nullptr}};

// ---- capture-wide session state (C++) -----------------------------------------------------------
std::unordered_map<guint32, std::unique_ptr<noise::Session>> g_sessions;
guint32 g_next_session = 1;

// ---- POD records in wmem --------------------------------------------------------------------
struct noise_conv_t {
    address client_addr;
    guint32 client_port;
    guint32 client_start_seq;  // TCP: relative seq of the intro's first byte
    guint32 session_id;
    gboolean is_ws;
    gboolean not_wa;
    guint32 midstream_tries;  // segments tried for a mid-stream pickup
    gboolean probe_done;      // raw TCP: the intro probe (dissect_wanoise_post) has decided
    // WebSocket: bytes of an unfinished frame per direction (first pass only)
    guint8 *ws_pending[2];
    guint32 ws_pending_len[2];
};

// ---- the intro probe: a connection whose client intro reaches the capture out of order ----
// TCP hands the port's owner (TLS, XMPP) or the heuristics the segments it has in order; an
// intro cut into segments that arrive out of order reaches none of them whole. Both directions of
// a TCP connection whose SYN was captured are rebuilt from offset 0 just far enough to tell: a
// head that is not an intro settles that direction, an intro at offset 0 of one of them claims
// the connection. Bytes seen meanwhile are not lost: the probe's streams become the session's.
struct IntroProbe {
    address side_a;  // sender of the first segment probed (index 0)
    guint32 port_a = 0;
    std::unique_ptr<noise::TcpFrameStream> st[2];
    std::vector<noise::StreamFrame> early[2];  // frames completed before the claim
    bool not_intro[2] = {false, false};
    size_t bytes = 0;
};
std::unordered_map<noise_conv_t *, std::unique_ptr<IntroProbe>> g_probes;
// Raw TCP: per capture frame, not per layer, what its segment completed; the same segment can be
// shown from TCP's call to wanoise in one pass and from the postdissector in another.
struct tcp_seg_t;
std::unordered_map<guint32, tcp_seg_t *> g_tcp_recs;

struct noise_pdu_t {
    noise::FrameVerdict v;  // what the session decided on the first pass
    guint32 session_id;
    guint8 *plain;
    guint32 plain_len;
};

// Raw TCP segment (one per capture frame) → the Noise frames it completed, in stream order, with
// how the segment fitted the stream. Stored on the first pass; every later view reads it.
enum TcpSegFlags : guint8 { TS_OOO = 1, TS_RETRANS = 2, TS_OVERLAP = 4, TS_FILLED = 8 };
struct tcp_frame_t {
    guint8 *bytes;
    guint32 len, intro_len;
    guint32 gap_before, late_for;  // TcpFrameStream's gap ids
    guint64 offset;
    guint8 dir;
    struct noise_pdu_t *pdu;  // set when first dissected (first pass)
};
struct tcp_seg_t {
    guint8 flags;
    guint32 nframes;
    tcp_frame_t *frames;
};

// WebSocket message → complete frames it finished (bytes kept, since frames can span messages).
struct ws_msg_t {
    guint32 nframes;
    guint8 **frames;
    guint32 *frame_lens;
};

noise::Session *session_get(guint32 id) {
    auto it = g_sessions.find(id);
    return it == g_sessions.end() ? nullptr : it->second.get();
}

void noise_init() {
    g_probes.clear();
    g_tcp_recs.clear();
    g_sessions.clear();
    g_next_session = 1;
}

noise_conv_t *conv_get(packet_info *pinfo, bool create) {
    conversation_t *conv = create ? find_or_create_conversation(pinfo) : find_conversation_pinfo(pinfo, 0);
    if (!conv) return nullptr;
    auto *nc = static_cast<noise_conv_t *>(conversation_get_proto_data(conv, proto_wanoise));
    if (!nc && create) {
        nc = wmem_new0(wmem_file_scope(), noise_conv_t);
        conversation_add_proto_data(conv, proto_wanoise, nc);
    }
    return nc;
}

Direction direction_of(const noise_conv_t *nc, packet_info *pinfo) {
    return addresses_equal(&nc->client_addr, &pinfo->src) && nc->client_port == pinfo->srcport ? C2S : S2C;
}

// Counter of wanoise PDUs within the frame being dissected: the per-PDU key, stable across
// passes because PDUs of a frame are always dissected in the same order.
guint32 next_pdu_key(packet_info *pinfo) {
    guint32 n = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_wanoise, 0));
    p_add_proto_data(pinfo->pool, pinfo, proto_wanoise, 0, GUINT_TO_POINTER(n + 1));
    return n + 1;
}

// Starts a session for a conversation whose client just sent the intro (first pass only).
void start_session(noise_conv_t *nc, packet_info *pinfo, const noise::Intro &intro, ByteView data) {
    copy_address_wmem(wmem_file_scope(), &nc->client_addr, &pinfo->src);
    nc->client_port = pinfo->srcport;
    nc->session_id = g_next_session++;
    g_probes.erase(nc);
    g_sessions[nc->session_id] = std::make_unique<noise::Session>(
        wacall_noise_keys(), noise::intro_prologue(data, intro), intro.dict_version, pref_midstream_counters);
}

void add_bytes_if(proto_tree *t, int hf, tvbuff_t *tvb, const noise::HandshakePart &p) {
    if (p.present) proto_tree_add_item(t, hf, tvb, static_cast<gint>(p.offset), static_cast<gint>(p.data.size), ENC_NA);
}

void add_generated_bytes(proto_tree *t, int hf, tvbuff_t *tvb, const uint8_t *data, size_t len) {
    proto_item *pi = proto_tree_add_bytes_with_length(t, hf, tvb, 0, 0, data, static_cast<gint>(len));
    proto_item_set_generated(pi);
}

// The decrypted certificate chain as a tree of its own data source: both certificates' details
// and the reference client's structural checks (the XEdDSA signatures are shown, not verified).
void add_cert(proto_tree *t, tvbuff_t *tvb, const noise::CertDetails &d, const char *role) {
    if (!d.present) return;
    proto_tree *ct = proto_tree_add_subtree_format(t, tvb, static_cast<gint>(d.offset), static_cast<gint>(d.length),
                                                   ett_cert, nullptr, "%s certificate, serial %u", role, d.serial.value_or(0));
    if (d.serial) proto_tree_add_uint(ct, hf_cert_serial, tvb, static_cast<gint>(d.serial_off), 1, *d.serial);
    if (d.issuer_serial) proto_tree_add_uint(ct, hf_cert_issuer, tvb, static_cast<gint>(d.issuer_off), 1, *d.issuer_serial);
    if (d.key.size)
        proto_tree_add_item(ct, hf_cert_key, tvb, static_cast<gint>(d.key_off) + 2, static_cast<gint>(d.key.size), ENC_NA);
    nstime_t ts;
    if (d.not_before) {
        ts.secs = static_cast<time_t>(*d.not_before);
        ts.nsecs = 0;
        proto_tree_add_time(ct, hf_cert_not_before, tvb, static_cast<gint>(d.not_before_off), 1, &ts);
    }
    if (d.not_after) {
        ts.secs = static_cast<time_t>(*d.not_after);
        ts.nsecs = 0;
        proto_tree_add_time(ct, hf_cert_not_after, tvb, static_cast<gint>(d.not_after_off), 1, &ts);
    }
    if (d.signature.size)
        proto_tree_add_item(ct, hf_cert_signature, tvb, static_cast<gint>(d.sig_off), static_cast<gint>(d.signature.size),
                            ENC_NA);
}

void show_cert_chain(proto_tree *rt, packet_info *pinfo, proto_item *ti, tvbuff_t *parent, const noise::ReplayResult &r) {
    const Bytes &cert = *r.certificate;  // shown only when the replay decrypted one
    auto *copy = static_cast<guint8 *>(wmem_memdup(pinfo->pool, cert.data(), cert.size()));
    tvbuff_t *ctvb = tvb_new_child_real_data(parent, copy, static_cast<guint>(cert.size()), static_cast<gint>(cert.size()));
    add_new_data_source(pinfo, ctvb, "Noise certificate chain");
    noise::CertChain c = noise::parse_cert_chain(ByteView(copy, cert.size()));
    proto_tree *t = proto_tree_add_subtree(rt, ctvb, 0, -1, ett_cert, nullptr, "Certificate chain");
    add_cert(t, ctvb, c.leaf, "Leaf");
    add_cert(t, ctvb, c.intermediate, "Intermediate");
    if (!c.ok) {
        expert_add_info_format(pinfo, ti, &ei_cert, "Certificate chain: %s", c.error.c_str());
        return;
    }
    noise::CertChecks k =
        noise::check_cert_chain(c, r.server_static ? ByteView(r.server_static->data(), 32) : ByteView());
    proto_item *pi = proto_tree_add_boolean(t, hf_cert_root_ok, ctvb, 0, 0, k.intermediate_issued_by_root);
    proto_item_set_generated(pi);
    pi = proto_tree_add_boolean(t, hf_cert_chain_ok, ctvb, 0, 0, k.leaf_issued_by_intermediate);
    proto_item_set_generated(pi);
    pi = proto_tree_add_boolean(t, hf_cert_key_ok, ctvb, 0, 0, k.leaf_key_is_server_static);
    proto_item_set_generated(pi);
    if (!k.intermediate_issued_by_root || !k.leaf_issued_by_intermediate || !k.leaf_key_is_server_static)
        expert_add_info_format(pinfo, ti, &ei_cert, "Certificate chain check failed:%s%s%s",
                               k.intermediate_issued_by_root ? "" : " intermediate not issued by the root (serial 0)",
                               k.leaf_issued_by_intermediate ? "" : " leaf not issued by the intermediate",
                               k.leaf_key_is_server_static ? "" : " leaf key is not the server static key");
}

void show_handshake(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *ti, const noise_pdu_t *,
                    const noise::Session *s) {
    tvbuff_t *body_tvb = tvb_new_subset_remaining(tvb, 3);
    guint len = tvb_captured_length(body_tvb);
    const guint8 *raw = tvb_get_ptr(body_tvb, 0, len);
    noise::HandshakeMessage m = noise::parse_handshake(ByteView(raw, len));
    const char *name = noise::handshake_kind_name(m.kind);
    col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", name);
    proto_item_append_text(ti, ", %s", name);
    proto_tree *ht = proto_tree_add_subtree(tree, body_tvb, 0, -1, ett_handshake, nullptr, name);
    proto_tree_add_uint(ht, hf_hs_type, body_tvb, 0, 0, static_cast<guint32>(m.kind));
    if (m.error) {
        expert_add_info_format(pinfo, ti, &ei_hs_malformed, "Malformed handshake message: %s", m.error_text.c_str());
        return;
    }
    add_bytes_if(ht, hf_hs_ephemeral, body_tvb, m.ephemeral);
    add_bytes_if(ht, hf_hs_static, body_tvb, m.static_key);
    add_bytes_if(ht, hf_hs_payload, body_tvb, m.payload);
    for (const auto &f : m.other_fields)
        proto_tree_add_bytes_format(ht, hf_hs_other, body_tvb, static_cast<gint>(f.offset), static_cast<gint>(f.length),
                                    nullptr, "%s field %u (wire type %u)", f.outer ? "HandshakeMessage" : "Inner",
                                    f.number, f.wire_type);
    const noise::ReplayResult *rp = s ? s->replay_result() : nullptr;
    if (!rp) return;
    const auto &r = *rp;
    proto_tree *rt = proto_tree_add_subtree(ht, body_tvb, 0, 0, ett_replay, nullptr, "Handshake replay (WA_NOISE_PRIVATE)");
    proto_item *pi = proto_tree_add_string(rt, hf_hs_pattern, body_tvb, 0, 0, noise::pattern_name(r.pattern));
    proto_item_set_generated(pi);
    const noise::ReplayStep *step = m.kind == noise::HandshakeKind::ClientHello   ? &r.client_hello
                                  : m.kind == noise::HandshakeKind::ServerHello   ? &r.server_hello
                                  : m.kind == noise::HandshakeKind::ClientFinish ? &r.client_finish : nullptr;
    if (step && step->attempted && !step->ok)
        expert_add_info_format(pinfo, ti, &ei_replay, "Handshake replay failed: %s", step->error.c_str());
    if (m.kind == noise::HandshakeKind::ServerHello) {
        if (r.server_static) add_generated_bytes(rt, hf_hs_server_static, body_tvb, r.server_static->data(), 32);
        if (r.certificate) {
            add_generated_bytes(rt, hf_hs_certificate, body_tvb, r.certificate->data(), r.certificate->size());
            show_cert_chain(rt, pinfo, ti, body_tvb, r);
        }
        if (r.server_payload)
            add_generated_bytes(rt, hf_hs_server_payload, body_tvb, r.server_payload->data(), r.server_payload->size());
    }
    if (m.kind == noise::HandshakeKind::ClientFinish ||
        (m.kind == noise::HandshakeKind::ClientHello && r.pattern == noise::HandshakePattern::IK)) {
        if (r.client_static) add_generated_bytes(rt, hf_hs_client_static, body_tvb, r.client_static->data(), 32);
        if (r.client_payload)
            add_generated_bytes(rt, hf_hs_client_payload, body_tvb, r.client_payload->data(), r.client_payload->size());
    }
}

// Dissects one frame: `tvb` is exactly [3-byte length][body].
void dissect_frame(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, noise_conv_t *nc, Direction dir,
                   const tcp_frame_t *tf) {
    // Raw TCP keeps the PDU record with the frame (the segment may be shown from the postdissector
    // in one pass and from TCP's call in another, at another layer number).
    guint32 key = tf ? 0 : next_pdu_key(pinfo);
    noise::Session *s = session_get(nc->session_id);
    auto *pdu = tf ? tf->pdu : static_cast<noise_pdu_t *>(p_get_proto_data(wmem_file_scope(), pinfo, proto_wanoise, key));
    if (!pdu && !PINFO_FD_VISITED(pinfo) && s) {
        guint len = tvb_captured_length_remaining(tvb, 3);
        noise::TcpPlace place;
        if (tf) place = noise::TcpPlace{tf->gap_before, tf->late_for};
        noise::FrameResult res = s->first_pass(dir, ByteView(tvb_get_ptr(tvb, 3, len), len), tf ? &place : nullptr);
        // Signaling plaintext is kept (few frames): later passes show it without decrypting again.
        pdu = wmem_new0(wmem_file_scope(), noise_pdu_t);
        pdu->v = res.verdict;
        if (res.verdict.status == FrameStatus::Decrypted) {
            pdu->plain_len = static_cast<guint32>(res.plaintext.size());
            pdu->plain = static_cast<guint8 *>(wmem_alloc(wmem_file_scope(), pdu->plain_len ? pdu->plain_len : 1));
            if (pdu->plain_len) std::memcpy(pdu->plain, res.plaintext.data(), pdu->plain_len);
        }
        pdu->session_id = nc->session_id;
        if (tf) const_cast<tcp_frame_t *>(tf)->pdu = pdu;
        else p_add_proto_data(wmem_file_scope(), pinfo, proto_wanoise, key, pdu);
    }

    proto_item *ti = proto_tree_add_item(tree, proto_wanoise, tvb, 0, -1, ENC_NA);
    proto_tree *nt = proto_item_add_subtree(ti, ett_wanoise);
    proto_tree_add_item(nt, hf_frame_len, tvb, 0, 3, ENC_BIG_ENDIAN);
    proto_item *pi = proto_tree_add_uint(nt, hf_direction, tvb, 0, 0, dir);
    proto_item_set_generated(pi);
    pi = proto_tree_add_uint(nt, hf_session, tvb, 0, 0, nc->session_id);
    proto_item_set_generated(pi);
    if (tf) {
        pi = proto_tree_add_uint64(nt, hf_stream_offset, tvb, 0, 0, tf->offset);
        proto_item_set_generated(pi);
        if (tf->gap_before)
            expert_add_info(pinfo, ti, &ei_tcp_gap);
        if (tf->late_for)
            expert_add_info_format(pinfo, ti, &ei_tcp_late,
                                   "Frame of an earlier TCP gap, completed after later data (out-of-order segments): "
                                   "decrypted with the counter set aside for it%s",
                                   pdu && pdu->v.status == FrameStatus::Decrypted ? "" : " (failed)");
    }
    if (!pdu) return;  // no session (mid-stream capture): just the framing
    pi = proto_tree_add_uint(nt, hf_frame_kind, tvb, 0, 0, static_cast<guint32>(pdu->v.kind));
    proto_item_set_generated(pi);
    if (pdu->v.kind == noise::FrameKind::Handshake) {
        show_handshake(tvb, pinfo, nt, ti, pdu, s);
        return;
    }
    pi = proto_tree_add_uint(nt, hf_counter, tvb, 0, 0, pdu->v.counter);
    proto_item_set_generated(pi);
    gint body_len = tvb_reported_length_remaining(tvb, 3);
    if (pdu->v.status == FrameStatus::TooShort) {
        proto_tree_add_item(nt, hf_ciphertext, tvb, 3, body_len, ENC_NA);
        expert_add_info(pinfo, ti, &ei_short);
        return;
    }
    proto_tree_add_item(nt, hf_ciphertext, tvb, 3, body_len - 16, ENC_NA);
    proto_tree_add_item(nt, hf_tag, tvb, 3 + body_len - 16, 16, ENC_NA);
    pi = proto_tree_add_boolean(nt, hf_decrypted, tvb, 0, 0, pdu->v.status == FrameStatus::Decrypted);
    proto_item_set_generated(pi);
    pi = proto_tree_add_uint(nt, hf_key_source, tvb, 0, 0, ko(pdu->v.key_source));
    proto_item_set_generated(pi);
    if (pdu->v.status == FrameStatus::NoKey) {
        std::optional<noise::Key32> ce = s ? s->client_ephemeral() : std::nullopt;
        gchar *eph = ce ? bytes_to_str(pinfo->pool, ce->data(), 8) : nullptr;
        expert_add_info_format(pinfo, ti, &ei_no_key,
                               "No key for this Noise session (client ephemeral %s…): add WA_NOISE_TRAFFIC or "
                               "WA_NOISE_PRIVATE to wacall.keylog_file",
                               eph ? eph : "unknown");
        col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", "Encrypted frame (no key)");
        return;
    }
    if (pdu->v.status == FrameStatus::BadTag) {
        expert_add_info_format(pinfo, ti, &ei_bad_tag,
                               "AES-GCM tag check failed for %s frame counter %u: wrong key or corrupted frame",
                               val_to_str_const(dir, direction_vals, "?"), pdu->v.counter);
        col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", "Encrypted frame (decryption failed)");
        return;
    }
    if (pdu->v.midstream)
        expert_add_info_format(pinfo, ti, &ei_midstream,
                               "Session picked up mid-stream (no intro or handshake captured): %s key found among the "
                               "key log's WA_NOISE_TRAFFIC lines, counter %u found by trial",
                               val_to_str_const(dir, direction_vals, "?"), pdu->v.counter);
    if (pdu->v.skipped)
        expert_add_info_format(pinfo, ti, &ei_counter,
                               "%u frame(s) of this direction missing from the capture: counter resynchronised to %u",
                               pdu->v.skipped, pdu->v.counter);
    tvbuff_t *plain = tvb_new_child_real_data(tvb, pdu->plain, pdu->plain_len, pdu->plain_len);
    add_new_data_source(pinfo, plain, "Decrypted Noise frame");
    // wabinary passes the direction on to wacall (the call registry's offer direction) and the corpus.
    wanoise_frame_info info{s ? s->dict_version() : -1,
                            dir == C2S ? call::Direction::ClientToServer : call::Direction::ServerToClient};
    call_dissector_with_data(wabinary_handle, plain, pinfo, tree, &info);
}

void show_intro(tvbuff_t *tvb, proto_tree *tree, const noise::Intro &in) {
    proto_item *ti = proto_tree_add_item(tree, proto_wanoise, tvb, 0, static_cast<gint>(in.length), ENC_NA);
    proto_item_append_text(ti, ", Connection intro");
    proto_tree *t = proto_item_add_subtree(ti, ett_intro);
    if (in.has_edge) {
        proto_tree_add_item(t, hf_intro_edge_magic, tvb, 0, 4, ENC_NA);
        proto_tree_add_item(t, hf_intro_edge_len, tvb, 4, 3, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_intro_edge_data, tvb, static_cast<gint>(in.edge_offset),
                            static_cast<gint>(in.edge_length), ENC_NA);
    }
    gint wa = static_cast<gint>(in.wa_offset);
    proto_tree_add_item(t, hf_intro_magic, tvb, wa, 2, ENC_ASCII);
    proto_tree_add_item(t, hf_intro_protocol, tvb, wa + 2, 1, ENC_NA);
    proto_tree_add_item(t, hf_intro_dict, tvb, wa + 3, 1, ENC_NA);
}

// ---- raw TCP --------------------------------------------------------------------------------
// TCP's "Relative sequence numbers" preference (on by default): with it, the stream's first byte is
// at 1 (0 when the capture missed the SYN), whatever the initial sequence number.
bool tcp_relative_seq() {
    module_t *tcp = prefs_find_module("tcp");
    pref_t *pref = tcp ? prefs_find_preference(tcp, "relative_sequence_numbers") : nullptr;
    return pref && prefs_get_bool_value(pref, pref_current);
}

// A transport frame's AES-GCM nonce is its position in its direction's stream, so frames must be
// decrypted in TCP sequence order, whatever order the capture has. With Wireshark's defaults
// (tcp.reassemble_out_of_order off) TCP hands a subdissector neither out-of-order segments nor,
// once it waits for a PDU, anything that does not continue it; tcp_dissect_pdus would stop a
// direction for good at the first reordered segment. So wanoise never asks TCP to reassemble:
// every segment goes, with its sequence number, into the session's TcpFrameStream, which buffers,
// trims retransmissions and hands out complete frames in order. Segments TCP keeps to itself
// reach the same code through the postdissector below (TCP's own tcp.payload and tcp.seq).

// The record of what one capture frame completed: frames with their direction, in order.
tcp_seg_t *make_seg_rec(const noise::SegmentResult &r, const std::vector<noise::DirFrame> &fs) {
    auto *rec = wmem_new0(wmem_file_scope(), tcp_seg_t);
    rec->flags = static_cast<guint8>((r.out_of_order ? TS_OOO : 0) | (r.retransmission ? TS_RETRANS : 0) |
                                     (r.overlap ? TS_OVERLAP : 0) | (r.filled ? TS_FILLED : 0));
    rec->nframes = static_cast<guint32>(fs.size());
    rec->frames = wmem_alloc0_array(wmem_file_scope(), tcp_frame_t, rec->nframes ? rec->nframes : 1);
    for (guint32 i = 0; i < rec->nframes; i++) {
        const auto &f = fs[i].first;
        tcp_frame_t &t = rec->frames[i];
        t.bytes = static_cast<guint8 *>(wmem_memdup(wmem_file_scope(), f.bytes.data(), f.bytes.size()));
        t.len = static_cast<guint32>(f.bytes.size());
        t.intro_len = static_cast<guint32>(f.intro_len);
        t.gap_before = f.gap_before;
        t.late_for = f.late_for;
        t.offset = f.offset;
        t.dir = fs[i].second;
    }
    return rec;
}

// First pass: one segment into the direction's stream; records what it completed.
tcp_seg_t *tcp_feed(noise_conv_t *nc, noise::Session *s, Direction dir, guint32 seq, ByteView data) {
    std::optional<guint32> start;  // none for a mid-stream pickup
    if (nc->client_start_seq != G_MAXUINT32) start = nc->client_start_seq;
    noise::TcpFeed feed = s->feed_tcp(dir, seq, data, start);
    return make_seg_rec(feed.segment, feed.frames);
}

// Shows what a TCP segment completed (stored on the first pass, read by every pass).
// From the postdissector, a segment that completed nothing leaves TCP's columns as they are
// (e.g. "[TCP Retransmission] ... Seq=..."), only the tree says what wanoise made of it.
void tcp_show(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, noise_conv_t *nc, const tcp_seg_t *rec,
              bool from_post = false) {
    const bool columns = !from_post || rec->nframes > 0;
    if (columns) {
        col_set_str(pinfo->cinfo, COL_PROTOCOL, "WANOISE");
        col_clear(pinfo->cinfo, COL_INFO);
    }
    if (rec->flags & (TS_OOO | TS_RETRANS | TS_OVERLAP) || rec->nframes == 0) {
        proto_item *ti = proto_tree_add_item(tree, proto_wanoise, tvb, 0, -1, ENC_NA);
        proto_item_append_text(ti, ", TCP segment");
        if (rec->flags & TS_OOO) {
            expert_add_info(pinfo, ti, &ei_tcp_ooo);
            if (columns) col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", "Out-of-order segment (buffered)");
        }
        if (rec->flags & (TS_RETRANS | TS_OVERLAP)) {
            const char *what = rec->flags & TS_RETRANS ? "Retransmission" : "Partial retransmission";
            expert_add_info_format(pinfo, ti, &ei_tcp_retrans, "%s: the TCP bytes seen before are ignored", what);
            if (columns) col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", what);
        }
        if (columns && rec->nframes == 0 && !(rec->flags & (TS_OOO | TS_RETRANS)))
            col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", "Noise frame fragment");
    }
    for (guint32 i = 0; i < rec->nframes; i++) {
        const tcp_frame_t &f = rec->frames[i];
        tvbuff_t *ft = tvb_new_child_real_data(tvb, f.bytes, f.len, f.len);
        add_new_data_source(pinfo, ft, "Reassembled Noise frame");
        if (f.intro_len) {
            noise::Intro in = noise::parse_intro(ByteView(f.bytes, f.len));
            show_intro(ft, tree, in);
            col_append_sep_fstr(pinfo->cinfo, COL_INFO, ", ", "Intro (WA %u, dictionary v%u%s)", in.protocol,
                                in.dict_version, in.has_edge ? ", edge routing" : "");
        }
        dissect_frame(tvb_new_subset_remaining(ft, static_cast<gint>(f.intro_len)), pinfo, tree, nc,
                      static_cast<Direction>(f.dir), &f);
    }
}


tcp_seg_t *stored_seg(packet_info *pinfo) {
    auto it = g_tcp_recs.find(pinfo->num);
    return it == g_tcp_recs.end() ? nullptr : it->second;
}

// Did TCP hand this frame's segment to wanoise already? (The postdissector's own call is the
// last layer.)
bool wanoise_layer_before(packet_info *pinfo) {
    int n = 0;
    for (wmem_list_frame_t *f = wmem_list_head(pinfo->layers); f; f = wmem_list_frame_next(f))
        if (GPOINTER_TO_INT(wmem_list_frame_data(f)) == proto_wanoise && wmem_list_frame_next(f)) n++;
    return n > 0;
}

// One TCP segment of a raw-TCP session: process it (first pass) and show the frames it completed.
void tcp_segment(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, noise_conv_t *nc, guint32 seq,
                 bool from_post = false) {
    tcp_seg_t *rec = stored_seg(pinfo);
    noise::Session *s = session_get(nc->session_id);
    if (!rec && !PINFO_FD_VISITED(pinfo) && s && !pinfo->flags.in_error_pkt) {
        guint len = tvb_captured_length(tvb);
        rec = tcp_feed(nc, s, direction_of(nc, pinfo), seq, ByteView(tvb_get_ptr(tvb, 0, len), len));
        g_tcp_recs[pinfo->num] = rec;
    }
    if (rec) tcp_show(tvb, pinfo, tree, nc, rec, from_post);
}

constexpr size_t kProbeMaxBytes = 256 * 1024;

bool syn_seen(packet_info *pinfo) {
    conversation_t *conv = find_conversation_pinfo(pinfo, 0);
    struct tcp_analysis *tcpd = conv ? get_tcp_conversation_data(conv, pinfo) : nullptr;
    return tcpd && (tcpd->conversation_completeness & 0x01);  // TCP_COMPLETENESS_SYNSENT
}

// First pass over a segment of an undecided connection. Returns the claim record when this
// segment completes a client intro at offset 0.
tcp_seg_t *probe_intro(packet_info *pinfo, noise_conv_t *nc, guint32 seq, ByteView data) {
    auto &pp = g_probes[nc];
    if (!pp) {
        pp = std::make_unique<IntroProbe>();
        copy_address_wmem(wmem_file_scope(), &pp->side_a, &pinfo->src);
        pp->port_a = pinfo->srcport;
    }
    IntroProbe &p = *pp;
    int side = addresses_equal(&p.side_a, &pinfo->src) && p.port_a == pinfo->srcport ? 0 : 1;
    if (!p.st[side]) p.st[side] = std::make_unique<noise::TcpFrameStream>(1, true);
    noise::SegmentResult r = p.st[side]->add(seq, data);
    p.bytes += data.size;
    for (auto &f : r.frames) p.early[side].push_back(std::move(f));
    noise::Intro in;
    if (!p.early[side].empty()) {
        const auto &f = p.early[side].front();
        if (f.intro_len) in = noise::parse_intro(ByteView(f.bytes.data(), f.bytes.size()));
        else p.not_intro[side] = true;
    } else {
        ByteView head = p.st[side]->head();
        in = noise::parse_intro(head);
        if (in.status == noise::IntroStatus::NotIntro && head.size) p.not_intro[side] = true;
        in.status = noise::IntroStatus::NeedMore;  // the intro's first frame is not complete yet
    }
    if ((p.not_intro[0] && p.not_intro[1]) || p.bytes > kProbeMaxBytes) {
        nc->probe_done = TRUE;
        g_probes.erase(nc);
        return nullptr;
    }
    if (in.status != noise::IntroStatus::Ok) return nullptr;
    // Claim: this side is the client. (start_session drops the map's probe: keep it alive here.)
    std::unique_ptr<IntroProbe> owned = std::move(pp);
    g_probes.erase(nc);
    const auto &first = p.early[side].front();
    start_session(nc, pinfo, in, ByteView(first.bytes.data(), first.bytes.size()));
    nc->client_start_seq = 1;
    nc->probe_done = TRUE;
    noise::Session *s = session_get(nc->session_id);
    s->adopt_stream(C2S, std::move(p.st[side]));
    if (p.st[1 - side]) s->adopt_stream(S2C, std::move(p.st[1 - side]));
    // Handshake order: the client's first frame (ClientHello), the server's, then the client's rest.
    std::vector<noise::DirFrame> fs;
    auto &cf = p.early[side];
    fs.emplace_back(std::move(cf.front()), C2S);
    for (auto &f : p.early[1 - side]) fs.emplace_back(std::move(f), S2C);
    for (size_t i = 1; i < cf.size(); i++) fs.emplace_back(std::move(cf[i]), C2S);
    s->handshake_order(fs);
    // From the next frame on TCP hands this connection to wanoise; this one shows the claim.
    conversation_set_dissector_from_frame_number(find_or_create_conversation(pinfo), pinfo->num + 1,
                                                 wanoise_tcp_handle);
    return make_seg_rec(r, fs);
}

int dissect_wanoise_tcp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    noise_conv_t *nc = conv_get(pinfo, false);
    auto *ti = static_cast<struct tcpinfo *>(data);
    if (!nc || nc->not_wa || !nc->session_id || nc->is_ws || !ti) return 0;
    tcp_segment(tvb, pinfo, tree, nc, ti->seq);
    return tvb_captured_length(tvb);
}

// Segments TCP did not hand to wanoise (out of order, retransmitted) of a raw-TCP session, and
// the intro probe of connections not decided yet, read from TCP's own fields. Everything else
// returns 0 at once and adds nothing, so other traffic keeps no trace.
int dissect_wanoise_post(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *) {
    if (pinfo->ptype != PT_TCP || pinfo->flags.in_error_pkt || wanoise_layer_before(pinfo)) return 0;
    noise_conv_t *nc = conv_get(pinfo, false);
    if (nc && (nc->not_wa || nc->is_ws)) return 0;
    GPtrArray *payloads = tree ? proto_get_finfo_ptr_array(tree, hf_tcp_payload) : nullptr;
    GPtrArray *seqs = tree ? proto_get_finfo_ptr_array(tree, hf_tcp_seq) : nullptr;
    field_info *pf = payloads && payloads->len ? static_cast<field_info *>(g_ptr_array_index(payloads, payloads->len - 1)) : nullptr;
    field_info *sf = seqs && seqs->len ? static_cast<field_info *>(g_ptr_array_index(seqs, seqs->len - 1)) : nullptr;
    tvbuff_t *seg = pf && pf->ds_tvb && pf->length > 0 ? tvb_new_subset_length(pf->ds_tvb, pf->start, pf->length) : nullptr;
    if (PINFO_FD_VISITED(pinfo)) {
        // Later passes only show what the first stored; the TCP fields are not always primed then
        // (tshark -2), so the frame's own bytes stand in for the segment's.
        tcp_seg_t *rec = stored_seg(pinfo);
        if (!rec || !nc) return 0;
        if (!seg) seg = tvb;
        tcp_show(seg, pinfo, tree, nc, rec, true);
        return tvb_captured_length(seg);
    }
    if (!seg || !sf) return 0;
    guint32 seq = fvalue_get_uinteger(wacall_field_value(sf));
    if (nc && nc->session_id) {
        tcp_segment(seg, pinfo, tree, nc, seq, true);
        return pf->length;
    }
    if ((nc && nc->probe_done) || !tcp_relative_seq() || !syn_seen(pinfo)) return 0;
    if (!nc) nc = conv_get(pinfo, true);
    tcp_seg_t *rec = probe_intro(pinfo, nc, seq, ByteView(tvb_get_ptr(seg, 0, pf->length), static_cast<size_t>(pf->length)));
    if (!rec) return 0;
    g_tcp_recs[pinfo->num] = rec;
    tcp_show(seg, pinfo, tree, nc, rec, true);
    return pf->length;
}

// A TCP segment that holds whole Noise frames back to back, one of which a WA_NOISE_TRAFFIC key
// authenticates at some counter: a session whose intro and handshake were not captured. Only
// the first few segments of a conversation are tried; TLS and other traffic fail the framing
// test at once (a TLS record header read as a 3-byte length overshoots the segment).
constexpr guint32 kMidstreamSegments = 8;

bool try_midstream(tvbuff_t *tvb, packet_info *pinfo, noise_conv_t *&nc) {
    // A connection whose SYN is in the capture is not picked up mid-stream: its intro is there,
    // maybe out of order (the intro probe waits for it).
    if (!pref_midstream_counters || syn_seen(pinfo)) return false;
    guint avail = tvb_captured_length(tvb);
    if (avail != tvb_reported_length(tvb)) return false;
    std::optional<ByteView> smallest = noise::midstream_candidate(ByteView(tvb_get_ptr(tvb, 0, avail), avail));
    if (!smallest) return false;
    noise::KeySource &keys = wacall_noise_keys();
    keys.refresh();
    if (keys.all_traffic().empty()) return false;
    if (!nc) nc = conv_get(pinfo, true);
    if (nc->midstream_tries++ >= kMidstreamSegments) return false;
    // The server listens on the lower (well-known) port.
    const Direction dir = pinfo->destport < pinfo->srcport ? C2S : S2C;
    std::unique_ptr<noise::Session> sess = noise::Session::pick_up_midstream(keys, dir, *smallest, pref_midstream_counters);
    if (!sess) return false;
    const address *client_addr = dir == C2S ? &pinfo->src : &pinfo->dst;
    copy_address_wmem(wmem_file_scope(), &nc->client_addr, client_addr);
    nc->client_port = dir == C2S ? pinfo->srcport : pinfo->destport;
    nc->client_start_seq = G_MAXUINT32;  // no intro position
    nc->session_id = g_next_session++;
    g_sessions[nc->session_id] = std::move(sess);
    conversation_set_dissector(find_or_create_conversation(pinfo), wanoise_tcp_handle);
    return true;
}


// Accepts a TCP conversation whose first client bytes are a WhatsApp intro, or (with keys) one
// picked up mid-stream.
// TCP may hand the intro over only after segments that came later in the capture: Wireshark 4.6
// reassembles a short intro with the segment after it, and the postdissector's probe has by then
// buffered the out-of-order rest. The new session continues the probe's streams, so nothing it
// buffered is lost (the intro's own bytes arrive again and are trimmed as a retransmission).
// The probe is taken before start_session(), which drops it.
std::unique_ptr<IntroProbe> take_probe(noise_conv_t *nc) {
    auto it = nc ? g_probes.find(nc) : g_probes.end();
    if (it == g_probes.end()) return nullptr;
    std::unique_ptr<IntroProbe> p = std::move(it->second);
    g_probes.erase(it);
    return p;
}

void adopt_probe(std::unique_ptr<IntroProbe> p, noise_conv_t *nc, packet_info *pinfo) {
    noise::Session *s = session_get(nc->session_id);
    if (!p || !s || nc->client_start_seq != 1 || !p->early[0].empty() || !p->early[1].empty()) return;
    const int client = addresses_equal(&p->side_a, &pinfo->src) && p->port_a == pinfo->srcport ? 0 : 1;
    if (p->st[client]) s->adopt_stream(C2S, std::move(p->st[client]));
    if (p->st[1 - client]) s->adopt_stream(S2C, std::move(p->st[1 - client]));
}

bool try_claim_tcp(tvbuff_t *tvb, packet_info *pinfo, void *data) {
    noise_conv_t *nc = conv_get(pinfo, false);
    if (nc && (nc->session_id || nc->not_wa || nc->is_ws))
        return nc->session_id && !nc->not_wa && !nc->is_ws;  // WebSocket sessions ride above TLS/HTTP
    if (PINFO_FD_VISITED(pinfo)) return false;
    guint avail = tvb_captured_length(tvb);
    if (avail < 4) return false;
    noise::Intro in = noise::parse_intro(ByteView(tvb_get_ptr(tvb, 0, avail), avail));
    if (in.status != noise::IntroStatus::Ok) return try_midstream(tvb, pinfo, nc);
    // The intro opens the client's byte stream: four bytes that happen to read "WA\x06\x03" in
    // the middle of some other stream (a TLS record, say) are no evidence.
    auto *ti = static_cast<struct tcpinfo *>(data);
    if (ti && ti->seq > 1 && tcp_relative_seq()) return false;
    std::unique_ptr<IntroProbe> probe = take_probe(nc);
    nc = conv_get(pinfo, true);
    start_session(nc, pinfo, in, ByteView(tvb_get_ptr(tvb, 0, avail), avail));
    nc->client_start_seq = ti ? ti->seq : 0;
    adopt_probe(std::move(probe), nc, pinfo);
    conversation_set_dissector(find_or_create_conversation(pinfo), wanoise_tcp_handle);
    return true;
}

heur_result_t heur_wanoise_tcp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    if (!try_claim_tcp(tvb, pinfo, data)) return FALSE;
    dissect_wanoise_tcp(tvb, pinfo, tree, data);
    return TRUE;
}

// Port 443 and 5222 belong to TLS and XMPP: take the stream only when it opens with the WA
// intro, and hand everything else to the dissector that owned the port before, untouched.
int dissect_wanoise_port(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    const PortShare &share = pinfo->match_uint == 5222 ? g_xmpp_port : g_tls_port;
    if (proto_is_protocol_enabled(find_protocol_by_id(proto_wanoise)) && try_claim_tcp(tvb, pinfo, data))
        return port_share_call(wanoise_tcp_handle, tvb, pinfo, tree, data);
    return port_share_hand_back(share, tvb, pinfo, tree, data);
}

// ---- WebSocket ------------------------------------------------------------------------------
// Frames do not align with WebSocket messages: the first pass keeps the unfinished tail per
// direction and records, per message, the complete frames it finished.
ws_msg_t *ws_first_pass(noise_conv_t *nc, Direction dir, const guint8 *data, guint len, bool with_intro,
                        guint intro_len) {
    auto *msg = wmem_new0(wmem_file_scope(), ws_msg_t);
    guint total = nc->ws_pending_len[dir] + len;
    auto *buf = static_cast<guint8 *>(wmem_alloc(wmem_file_scope(), total ? total : 1));
    if (nc->ws_pending_len[dir]) std::memcpy(buf, nc->ws_pending[dir], nc->ws_pending_len[dir]);
    std::memcpy(buf + nc->ws_pending_len[dir], data, len);
    guint pos = with_intro ? intro_len : 0;
    guint count = 0;
    guint8 *frames[64];
    guint32 lens[64];
    while (total - pos >= 3 && count < 64) {
        guint flen = 3 + be24(buf + pos);
        if (total - pos < flen) break;
        frames[count] = buf + pos;
        lens[count] = flen;
        count++;
        pos += flen;
    }
    nc->ws_pending[dir] = buf + pos;
    nc->ws_pending_len[dir] = total - pos;
    msg->nframes = count;
    msg->frames = static_cast<guint8 **>(wmem_memdup(wmem_file_scope(), frames, sizeof(guint8 *) * count));
    msg->frame_lens = static_cast<guint32 *>(wmem_memdup(wmem_file_scope(), lens, sizeof(guint32) * count));
    return msg;
}

int dissect_wanoise_ws(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *) {
    noise_conv_t *nc = conv_get(pinfo, false);
    if (!nc || !nc->session_id || !nc->is_ws) return 0;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "WANOISE");
    col_clear(pinfo->cinfo, COL_INFO);
    Direction dir = direction_of(nc, pinfo);
    guint len = tvb_captured_length(tvb);
    guint32 key = 0x10000 + next_pdu_key(pinfo);
    auto *msg = static_cast<ws_msg_t *>(p_get_proto_data(wmem_file_scope(), pinfo, proto_wanoise, key));
    const guint8 *raw = tvb_get_ptr(tvb, 0, len);
    noise::Intro in = noise::parse_intro(ByteView(raw, len));
    bool intro_here = dir == C2S && in.status == noise::IntroStatus::Ok &&
                      GPOINTER_TO_UINT(p_get_proto_data(wmem_file_scope(), pinfo, proto_wanoise, 0x20000)) == 1;
    if (!msg && !PINFO_FD_VISITED(pinfo)) {
        intro_here = dir == C2S && in.status == noise::IntroStatus::Ok && nc->client_start_seq == 0;
        if (intro_here) {
            nc->client_start_seq = 1;  // intro consumed
            p_add_proto_data(wmem_file_scope(), pinfo, proto_wanoise, 0x20000, GUINT_TO_POINTER(1));
        }
        msg = ws_first_pass(nc, dir, raw, len, intro_here, intro_here ? static_cast<guint>(in.length) : 0);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_wanoise, key, msg);
    }
    if (intro_here) {
        show_intro(tvb, tree, in);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, ", ", "Intro (WA %u, dictionary v%u%s)", in.protocol,
                            in.dict_version, in.has_edge ? ", edge routing" : "");
    }
    if (!msg) return len;
    for (guint32 i = 0; i < msg->nframes; i++) {
        tvbuff_t *ft = tvb_new_child_real_data(tvb, msg->frames[i], msg->frame_lens[i], msg->frame_lens[i]);
        add_new_data_source(pinfo, ft, "Reassembled Noise frame");
        dissect_frame(ft, pinfo, tree, nc, dir, nullptr);
    }
    if (msg->nframes == 0) col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", "Noise frame fragment");
    return len;
}

heur_result_t heur_wanoise_ws(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    noise_conv_t *nc = conv_get(pinfo, false);
    if (!nc || (!nc->session_id && !nc->is_ws)) {  // none yet, or only the raw-TCP intro probe's
        if (PINFO_FD_VISITED(pinfo)) return FALSE;
        guint avail = tvb_captured_length(tvb);
        noise::Intro in = noise::parse_intro(ByteView(tvb_get_ptr(tvb, 0, avail), avail));
        if (in.status != noise::IntroStatus::Ok) return FALSE;
        nc = conv_get(pinfo, true);
        start_session(nc, pinfo, in, ByteView(tvb_get_ptr(tvb, 0, avail), avail));
        nc->is_ws = TRUE;
    }
    if (!nc->is_ws || !nc->session_id) return FALSE;
    dissect_wanoise_ws(tvb, pinfo, tree, data);
    return TRUE;
}

}  // namespace

void wanoise_register() {
    static hf_register_info hf[] = {
        {&hf_intro_edge_magic, {"Edge routing marker", "wanoise.intro.edge_marker", FT_BYTES, BASE_NONE, nullptr, 0,
                                "ED 00 01: edge-routing data precedes the WA header", HFILL}},
        {&hf_intro_edge_len, {"Edge routing length", "wanoise.intro.edge_length", FT_UINT24, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_intro_edge_data, {"Edge routing data", "wanoise.intro.edge_data", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_intro_magic, {"Magic", "wanoise.intro.magic", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_intro_protocol, {"Protocol version", "wanoise.intro.protocol", FT_UINT8, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_intro_dict, {"Dictionary version", "wanoise.intro.dict_version", FT_UINT8, BASE_DEC, nullptr, 0,
                          "WABinary token dictionary version", HFILL}},
        {&hf_frame_len, {"Frame length", "wanoise.frame.length", FT_UINT24, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_direction, {"Direction", "wanoise.direction", FT_UINT8, BASE_DEC, VALS(direction_vals), 0, nullptr, HFILL}},
        {&hf_stream_offset, {"Stream offset", "wanoise.stream_offset", FT_UINT64, BASE_DEC, nullptr, 0,
                             "Raw TCP: offset of the frame in its direction's byte stream (0 = first byte)", HFILL}},
        {&hf_session, {"Session", "wanoise.session", FT_UINT32, BASE_DEC, nullptr, 0,
                       "Index of the Noise session in this capture", HFILL}},
        {&hf_frame_kind, {"Frame kind", "wanoise.frame.kind", FT_UINT8, BASE_DEC, VALS(frame_kind_vals), 0, nullptr, HFILL}},
        {&hf_counter, {"Counter", "wanoise.counter", FT_UINT32, BASE_DEC, nullptr, 0,
                       "Transport frame counter in this direction (the AES-GCM nonce)", HFILL}},
        {&hf_ciphertext, {"Ciphertext", "wanoise.ciphertext", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_tag, {"GCM tag", "wanoise.tag", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_decrypted, {"Decrypted", "wanoise.decrypted", FT_BOOLEAN, BASE_NONE, nullptr, 0,
                         "True when the frame was decrypted and its GCM tag verified", HFILL}},
        {&hf_key_source, {"Key source", "wanoise.key_source", FT_UINT8, BASE_DEC, VALS(key_source_vals), 0, nullptr, HFILL}},
        {&hf_hs_type, {"Handshake message", "wanoise.handshake.type", FT_UINT8, BASE_DEC, VALS(hs_type_vals), 0, nullptr, HFILL}},
        {&hf_hs_ephemeral, {"Ephemeral", "wanoise.handshake.ephemeral", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_static, {"Static (encrypted)", "wanoise.handshake.static", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_payload, {"Payload (encrypted)", "wanoise.handshake.payload", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_other, {"Other field", "wanoise.handshake.other", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_pattern, {"Pattern", "wanoise.handshake.pattern", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_server_static, {"Server static key", "wanoise.handshake.server_static", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_cert_serial, {"Serial", "wanoise.cert.serial", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_cert_issuer, {"Issuer serial", "wanoise.cert.issuer_serial", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_cert_key, {"Public key", "wanoise.cert.key", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_cert_not_before, {"Not before", "wanoise.cert.not_before", FT_ABSOLUTE_TIME, ABSOLUTE_TIME_UTC, nullptr, 0,
                               nullptr, HFILL}},
        {&hf_cert_not_after, {"Not after", "wanoise.cert.not_after", FT_ABSOLUTE_TIME, ABSOLUTE_TIME_UTC, nullptr, 0,
                              nullptr, HFILL}},
        {&hf_cert_signature, {"Signature (XEdDSA, not verified)", "wanoise.cert.signature", FT_BYTES, BASE_NONE, nullptr,
                              0, nullptr, HFILL}},
        {&hf_cert_root_ok, {"Intermediate issued by the root", "wanoise.cert.root_ok", FT_BOOLEAN, BASE_NONE, nullptr, 0,
                            "The intermediate's issuer serial is 0 (WA_CERT_ISSUER_SERIAL)", HFILL}},
        {&hf_cert_chain_ok, {"Leaf issued by the intermediate", "wanoise.cert.chain_ok", FT_BOOLEAN, BASE_NONE, nullptr, 0,
                             nullptr, HFILL}},
        {&hf_cert_key_ok, {"Leaf key is the server static key", "wanoise.cert.key_ok", FT_BOOLEAN, BASE_NONE, nullptr, 0,
                           nullptr, HFILL}},
        {&hf_hs_certificate, {"Certificate payload", "wanoise.handshake.certificate", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_client_static, {"Client static key", "wanoise.handshake.client_static", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_client_payload, {"Client payload", "wanoise.handshake.client_payload", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hs_server_payload, {"Server payload", "wanoise.handshake.server_payload", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
    };
    static gint *ett[] = {&ett_wanoise, &ett_intro, &ett_handshake, &ett_replay, &ett_cert};
    static ei_register_info ei[] = {
        {&ei_no_key, {"wanoise.no_key", PI_DECRYPTION, PI_WARN, "No key for this Noise session", EXPFILL}},
        {&ei_bad_tag, {"wanoise.bad_tag", PI_DECRYPTION, PI_ERROR, "AES-GCM tag check failed", EXPFILL}},
        {&ei_replay, {"wanoise.replay_failed", PI_DECRYPTION, PI_ERROR, "Handshake replay failed", EXPFILL}},
        {&ei_hs_malformed, {"wanoise.handshake.malformed", PI_MALFORMED, PI_ERROR, "Malformed handshake message", EXPFILL}},
        {&ei_short, {"wanoise.too_short", PI_MALFORMED, PI_ERROR, "Frame shorter than the 16-byte GCM tag", EXPFILL}},
        {&ei_cert, {"wanoise.cert.bad", PI_SECURITY, PI_WARN, "Certificate chain check failed", EXPFILL}},
        {&ei_midstream, {"wanoise.midstream", PI_SEQUENCE, PI_NOTE, "Session picked up mid-stream", EXPFILL}},
        {&ei_tcp_gap, {"wanoise.tcp.gap", PI_SEQUENCE, PI_WARN,
                       "TCP bytes missing before this frame (not captured, or still to come): the frame's counter "
                       "was found past the frames they hold", EXPFILL}},
        {&ei_tcp_ooo, {"wanoise.tcp.out_of_order", PI_SEQUENCE, PI_NOTE,
                       "Out-of-order TCP segment: buffered until the bytes before it arrive", EXPFILL}},
        {&ei_tcp_retrans, {"wanoise.tcp.retransmission", PI_SEQUENCE, PI_NOTE,
                           "Retransmitted TCP bytes: the bytes seen before are ignored", EXPFILL}},
        {&ei_tcp_late, {"wanoise.tcp.late", PI_SEQUENCE, PI_NOTE,
                        "Frame of an earlier TCP gap, completed after later data", EXPFILL}},
        {&ei_counter, {"wanoise.counter_resync", PI_SEQUENCE, PI_WARN, "Frames missing: counter resynchronised", EXPFILL}},
    };
    proto_wanoise = proto_register_protocol("WhatsApp Noise Transport", "WANOISE", "wanoise");
    proto_register_field_array(proto_wanoise, hf, G_N_ELEMENTS(hf));
    proto_register_subtree_array(ett, G_N_ELEMENTS(ett));
    expert_register_field_array(expert_register_protocol(proto_wanoise), ei, G_N_ELEMENTS(ei));
    module_t *mod = prefs_register_protocol(proto_wanoise, nullptr);
    prefs_register_uint_preference(mod, "midstream_counters", "Mid-stream counter search",
                                   "For TCP sessions captured without their intro and handshake: how many frame "
                                   "counters to try per direction with each WA_NOISE_TRAFFIC key (0 disables)",
                                   10, &pref_midstream_counters);
    wanoise_tcp_handle = register_dissector("wanoise_tcp", dissect_wanoise_tcp, proto_wanoise);
    wanoise_ws_handle = register_dissector("wanoise_ws", dissect_wanoise_ws, proto_wanoise);
    wacall_on_capture_reset(noise_init);
    proto_wanoise_on_tls = port_share_register_pino("WhatsApp Noise on the TLS port", "WANOISE/TLS", "wanoise.on_tls",
                                                    "tls", proto_wanoise);
    proto_wanoise_on_xmpp = port_share_register_pino("WhatsApp Noise on the XMPP port", "WANOISE/XMPP",
                                                     "wanoise.on_xmpp", "xmpp", proto_wanoise);
}

void wanoise_handoff() {
    wabinary_handle = find_dissector("wabinary");
    port_share_take(g_tls_port, create_dissector_handle(dissect_wanoise_port, proto_wanoise_on_tls));
    port_share_take(g_xmpp_port, create_dissector_handle(dissect_wanoise_port, proto_wanoise_on_xmpp));
    // Raw-TCP sessions also see the segments TCP keeps from subdissectors (see dissect_wanoise_post).
    hf_tcp_payload = proto_registrar_get_id_byname("tcp.payload");
    hf_tcp_seq = proto_registrar_get_id_byname("tcp.seq");
    dissector_handle_t post = create_dissector_handle(dissect_wanoise_post, proto_wanoise);
    register_postdissector(post);
    GArray *wanted = g_array_new(FALSE, FALSE, static_cast<guint>(sizeof(int)));
    g_array_append_val(wanted, hf_tcp_payload);
    g_array_append_val(wanted, hf_tcp_seq);
    set_postdissector_wanted_hfids(post, wanted);
    heur_dissector_add("tcp", heur_wanoise_tcp, "WhatsApp Noise over TCP", "wanoise_tcp", proto_wanoise, HEURISTIC_ENABLE);
    heur_dissector_add("ws", heur_wanoise_ws, "WhatsApp Noise over WebSocket", "wanoise_ws", proto_wanoise, HEURISTIC_ENABLE);
}
