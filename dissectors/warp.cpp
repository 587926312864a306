// warp: WhatsApp media on the relay path. Owns the UDP entry point: decides whether a flow is
// WhatsApp media, unwraps the group-forwarding envelope, demultiplexes STUN / RTCP / RTP,
// attributes streams to calls and participants, and decrypts E2E SRTP/SRTCP. Decrypted RTP and
// RTCP become new data sources handed to Wireshark's own rtp/rtcp dissectors.
//
// The receive policy (attribution, ROC search, key rings, hop-by-hop layer, SFrame) is the core's
// MediaReceiver (src/media/receiver.h): per packet warp stores the receiver's first-pass verdict
// and on later passes asks it to replay the verdict; this file only renders what it returns.
#include "port_share.h"
#include "wacall_plugin.h"
#include "media_state.h"

#include "call/inferred.h"
#include "call/registry.h"
#include "common/frame_records.h"
#include "keys/keylog.h"
#include "media/demux.h"
#include "media/receiver.h"
#include "media/rtp.h"
#include "media/ssrc.h"
#include "media/stun.h"

#include <cstring>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

int proto_warp = -1;

namespace {

using namespace wacall;
using media::HbhMode;

int hf_envelope = -1, hf_envelope_len = -1, hf_version = -1, hf_padding = -1, hf_ext = -1, hf_cc = -1;
int hf_marker = -1, hf_pt = -1, hf_seq = -1, hf_ts = -1, hf_ssrc = -1, hf_ext_profile = -1, hf_ext_words = -1;
int hf_ext_id = -1, hf_payload = -1;
int hf_call_index = -1, hf_tag_assumed = -1;
int hf_call_id = -1, hf_participant = -1, hf_slot = -1, hf_roc = -1, hf_tag = -1, hf_auth_status = -1;
int hf_decrypted = -1, hf_tag_len = -1, hf_rtcp_pt = -1, hf_rtcp_ssrc = -1, hf_srtcp_e = -1;
int hf_srtcp_index = -1, hf_sframe = -1, hf_sframe_counter = -1, hf_other = -1, hf_other_text = -1;
int hf_master_key = -1, hf_master_salt = -1;
int hf_key = -1, hf_epoch = -1, hf_hbh_tag = -1, hf_hbh_tag_len = -1, hf_hbh_status = -1;
int hf_dtx = -1, hf_frame_info = -1, hf_keyframe = -1, hf_bandwidth = -1, hf_offset = -1, hf_tseq = -1;
int ett_warp = -1, ett_ext = -1, ett_envelope = -1;
expert_field ei_bad_tag = EI_INIT, ei_no_key = EI_INIT, ei_unattributed = EI_INIT, ei_envelope = EI_INIT;
expert_field ei_malformed = EI_INIT, ei_debe_no_x = EI_INIT, ei_hbh_bad = EI_INIT, ei_hbh_no_key = EI_INIT;

dissector_handle_t warp_udp_handle, wastun_handle, rtp_handle, rtcp_handle;
// UDP 3478/3480 stay STUN's (and, through it, TURN's, DTLS's, RTP's) unless a flow shows WhatsApp marks.
PortShare g_stun_port{"udp.port", 3478, nullptr}, g_stun_alt_port{"udp.port", 3480, nullptr};
int proto_warp_on_stun = -1;
dissector_handle_t sctp_handle;
int proto_rtp = -1;

pref_bool_t pref_try_sframe = TRUE;
pref_bool_t pref_show_keys = FALSE;  // secrets stay out of trees and columns unless asked for
// The stream slot, ROC and tag bytes of every decrypted RTP packet: each tree item costs time on
// every packet (-T fields and -V build and walk them all), and these are per-stream facts or
// bytes the auth.status item already spans. Failed packets show them regardless.
pref_bool_t pref_srtp_details = FALSE;
gint pref_tag_key = 0;    // 0 reference (SRTP auth key), 1 spec CRY-07 ("warp auth key")
gint pref_iv_layout = 0;  // 0 RFC 3711 (reference), 1 spec right-aligned salt
gint pref_hbh_mode = 0;   // HbhMode; 0 off as in the reference client
gint pref_hbh_tag = 0;    // 0 auto (10 then 4), else the tag length
gint pref_hbh_placement = 0;  // 0 MI inside the HBH layer, 1 MI appended outside it
gint pref_keyless_tag = 4;    // WARP tag length assumed without keys when none is signaled

const enum_val_t tag_key_vals[] = {
    {"reference", "SRTP auth key (reference implementation)", 0},
    {"spec", "HKDF(callKey, \"warp auth key\") (spec CRY-07)", 1},
    {nullptr, nullptr, 0}};
const enum_val_t iv_vals[] = {
    {"rfc3711", "RFC 3711, salt left-aligned (reference implementation)", 0},
    {"spec", "Salt right-aligned (spec CRY-02)", 1},
    {nullptr, nullptr, 0}};

const enum_val_t hbh_mode_vals[] = {
    {"off", "Off: no hop-by-hop layer (reference implementation)", int(HbhMode::Off)},
    {"rfc3711", "RFC 3711 KDF on the relay's 30 bytes (spec CRY-02/03)", int(HbhMode::Rfc3711)},
    {"hkdf_directional", "Two-stage HKDF, SRTP shared / SRTCP uplink+downlink labels (spec wa_sfu_kdf)",
     int(HbhMode::HkdfDirectional)},
    {"hkdf_shared", "Two-stage HKDF, shared SRTP / shared SRTCP labels", int(HbhMode::HkdfShared)},
    {nullptr, nullptr, 0}};
const enum_val_t hbh_tag_vals[] = {
    {"auto", "Auto: 10 bytes, then 4 (spec REL-05)", 0}, {"4", "4 bytes", 4}, {"10", "10 bytes", 10},
    {nullptr, nullptr, 0}};
const enum_val_t hbh_placement_vals[] = {
    {"inside", "MI tag inside the HBH layer (E2E, then HBH: CRY-05)", 0},
    {"outside", "MI tag appended after the HBH layer", 1},
    {nullptr, nullptr, 0}};

const enum_val_t keyless_tag_vals[] = {
    {"4", "4 bytes (reference default)", 4}, {"10", "10 bytes", 10}, {nullptr, nullptr, 0}};

const value_string key_kind_vals[] = {{0, "call key"}, {1, "group epoch"}, {0, nullptr}};

const value_string pt_vals[] = {{120, "WhatsApp audio (16 kHz)"}, {121, "WhatsApp audio RED"},
                                {111, "Opus (48 kHz)"}, {97, "H.264 video"}, {119, "RTC app data"}, {0, nullptr}};
const value_string slot_vals[] = {{0, "audio"}, {1, "audio FEC"}, {4, "audio NACK"}, {2, "video"}, {3, "video FEC"},
                                  {5, "video NACK"}, {7, "HBH-FEC tx"}, {8, "HBH-FEC rx"}, {6, "app data"}, {0, nullptr}};

using RS = media::ReceiveStatus;

// What the first pass learnt about a packet: the receiver's verdict (enough to re-decrypt it on
// any later pass), and for packets no keyed call claims the call inferred without keys.
struct warp_pkt_t : media::MediaVerdict {
    guint32 call_index;  // stream null: the call inferred without keys (0: none)
    guint8 tag_assumed;  // no key: tag_len is the assumed one (not signaled), see keyless_tag
};
static_assert(sizeof(warp_pkt_t) <= 32, "warp_pkt_t: one FrameRecords slot per packet, keep it small");

guint32 inferred_index(const warp_pkt_t *rec) { return rec && !rec->stream ? rec->call_index : 0; }

struct media_conv_t {
    gboolean claimed;    // the UDP flow itself is WhatsApp media...
    guint32 claimed_from;  // ...from this frame on
    gboolean datachannel;  // the flow is DTLS whose SCTP DataChannel carries WhatsApp media
};

// Client-side UDP sockets seen talking to a WhatsApp relay: every other flow from them (peer
// STUN checks, peer-to-peer RTP) is the same call's media.
std::set<std::string> g_media_sockets;
// Flows whose RTP payload types were announced (once per flow).
std::unordered_set<std::string> g_announced_flows;

std::string sock_key(const address *a, guint32 port) {
    char buf[64];
    address_to_str_buf(a, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(port);
}

// Every RTP/RTCP packet's record (see FrameRecords: p_add_proto_data costs ~110 bytes and three
// allocations per packet); cleared with the file's state.
FrameRecords<warp_pkt_t> g_records;

void keyless_init();

void apply_prefs();

void media_init() {
    apply_prefs();  // a file may be opened with preferences that no apply callback has seen yet
    g_media_sockets.clear();
    g_announced_flows.clear();
    g_records.clear();
    keyless_init();
}

bool is_relay_port(guint32 p) { return p == 3478 || p == 3480; }

call::AddrFamily family_of(const address *a) {
    return a->type == AT_IPv4 ? call::AddrFamily::IPv4 : a->type == AT_IPv6 ? call::AddrFamily::IPv6 : call::AddrFamily::None;
}

bool known_endpoint(const address *a, guint32 port) {
    call::AddrFamily f = family_of(a);
    if (f == call::AddrFamily::None) return false;
    return wacall_calls().call_for_endpoint(f, static_cast<const uint8_t *>(a->data), static_cast<uint16_t>(port)) != nullptr;
}

// WhatsApp-only marks in a STUN message (0x08xx types, 0x40xx attributes): the core's test.
using media::stun_has_wa_marks;

// WARP RTP: version 2, no CSRC, the extension bit set and WhatsApp's 0xDEBE profile whose
// declared length fits the packet (other apps use RFC 8285's 0xBEDE/0x100X profiles; bytes
// 12-13 of an RTP packet without extension are payload and prove nothing). Or an SSRC that a
// known call derives.
bool rtp_looks_wa(ByteView b) {
    if (b.size < 16 || (b[0] & 0xC0) != 0x80) return false;
    if ((b[0] & 0x1F) == 0x10 && b[12] == 0xDE && b[13] == 0xBE && 16u + 4u * be16(b.data + 14) <= b.size) return true;
    return wacall_media().attribute(be32(b.data + 8)) != nullptr;
}

// A message is WhatsApp media by its own content: STUN with WhatsApp marks, RTP with 0xDEBE or an
// SSRC derived from a known call, RTCP from such an SSRC.
bool message_looks_wa(ByteView b) {
    switch (media::classify(b)) {
    case media::PacketKind::Stun: return stun_has_wa_marks(b);
    case media::PacketKind::Rtp: return rtp_looks_wa(b);
    case media::PacketKind::Rtcp: return b.size >= 8 && wacall_media().attribute(be32(b.data + 4)) != nullptr;
    default: return false;
    }
}

bool decide_claim(tvbuff_t *tvb, packet_info *pinfo) {
    if (g_media_sockets.count(sock_key(&pinfo->src, pinfo->srcport)) ||
        g_media_sockets.count(sock_key(&pinfo->dst, pinfo->destport)))
        return true;
    if (known_endpoint(&pinfo->src, pinfo->srcport) || known_endpoint(&pinfo->dst, pinfo->destport)) return true;
    guint len = tvb_captured_length(tvb);
    ByteView b(tvb_get_ptr(tvb, 0, len), len);
    if (b.size && b[0] == 0x09) {
        media::EnvelopeResult env = media::unwrap_group_envelope(b);
        if (!env.ok()) return false;
        b = b.sub(env.header_len);
    }
    return message_looks_wa(b);
}

// A flow is WhatsApp's from the first datagram that shows it: earlier datagrams stay with
// whoever had them on the first pass, on every pass (the decision is stored with its frame).
// Nothing is stored for flows that are not claimed, so other traffic is left as it was.
bool claim(tvbuff_t *tvb, packet_info *pinfo) {
    conversation_t *conv = find_conversation_pinfo(pinfo, 0);
    auto *mc = conv ? static_cast<media_conv_t *>(conversation_get_proto_data(conv, proto_warp)) : nullptr;
    if (mc && mc->claimed) {
        if (pinfo->num >= mc->claimed_from) return true;
        if (PINFO_FD_VISITED(pinfo)) return false;
    }
    if (PINFO_FD_VISITED(pinfo) || !decide_claim(tvb, pinfo)) return false;
    if (!conv) conv = find_or_create_conversation(pinfo);
    if (!mc) {
        mc = wmem_new0(wmem_file_scope(), media_conv_t);
        conversation_add_proto_data(conv, proto_warp, mc);
    }
    mc->claimed = TRUE;
    mc->claimed_from = pinfo->num;
    conversation_set_dissector(conv, warp_udp_handle);
    if (!is_relay_port(pinfo->srcport)) g_media_sockets.insert(sock_key(&pinfo->src, pinfo->srcport));
    if (!is_relay_port(pinfo->destport)) g_media_sockets.insert(sock_key(&pinfo->dst, pinfo->destport));
    return true;
}

// Per-packet records are keyed by the layer number: unique per WARP layer in a frame (a tunnel
// may carry more than one) and the same on every pass.
guint32 layer_key(packet_info *pinfo) { return pinfo->curr_layer_num; }

// The receiver's options: warp's preferences (set before every packet: the GUI may change them).
media::ReceiverOptions receiver_options() {
    media::ReceiverOptions o;
    o.tag_key = pref_tag_key ? media::TagKey::SpecWarpAuthKey : media::TagKey::SrtpAuthKey;
    o.iv_layout = pref_iv_layout ? media::IvLayout::SpecRightAligned : media::IvLayout::Rfc3711;
    o.hbh_mode = HbhMode(pref_hbh_mode);
    o.hbh_tag = static_cast<unsigned>(pref_hbh_tag);
    o.hbh_placement = pref_hbh_placement ? media::HbhPlacement::MiOutside : media::HbhPlacement::MiInside;
    o.try_sframe = pref_try_sframe;
    return o;
}

// The receiver's options change only with the preferences (not per packet).
void apply_prefs() { wacall_media().set_options(receiver_options()); }

// Uplink: towards the relay (its port, or an endpoint the signaling named).
media::FlowHint flow_hint(packet_info *pinfo) {
    media::FlowHint f;
    f.to_relay = is_relay_port(pinfo->destport) || known_endpoint(&pinfo->dst, pinfo->destport);
    return f;
}

// WhatsApp's payload types: names and clock rates (what SDP would announce; WhatsApp sends mono
// audio). Shared by decrypted RTP (announce_payload_types) and RTP left encrypted.
void insert_wa_payload_types(rtp_dyn_payload_t *payload_types) {
    wacall_rtp_dyn_payload_insert(payload_types, 120, "WA-AUDIO", 16000, 1);
    wacall_rtp_dyn_payload_insert(payload_types, 121, "WA-RED", 16000, 1);
    wacall_rtp_dyn_payload_insert(payload_types, 111, "OPUS", 48000, 1);
    wacall_rtp_dyn_payload_insert(payload_types, 97, "H264", 90000, 1);
    wacall_rtp_dyn_payload_insert(payload_types, 102, "WA-VIDEO", 90000, 1);
    wacall_rtp_dyn_payload_insert(payload_types, 103, "WA-VIDEO", 90000, 1);
    wacall_rtp_dyn_payload_insert(payload_types, 119, "WA-APPDATA", 1000, 1);
}

// Tells Wireshark's RTP dissector the names and clock rates of WhatsApp's payload types for this
// flow (what SDP would do) through its public rtp_add_address() (the conversation struct behind it
// is private from 4.2 on). rtp_add_address() also makes RTP the dissector of the flow's
// wildcard conversation; that is handed straight back to WARP, which owns the flow. UDP only:
// rtp_add_address() takes no other transport (RTP in a DataChannel keeps numeric payload types).
void announce_payload_types(packet_info *pinfo, const MediaStream *stream) {
    if (proto_rtp < 0 || pinfo->ptype != PT_UDP) return;
    // Once per flow: the conversation lookup below is a measurable part of the per-packet cost.
    std::string flow(reinterpret_cast<const char *>(pinfo->net_dst.data), static_cast<size_t>(pinfo->net_dst.len));
    flow.append(reinterpret_cast<const char *>(&pinfo->destport), sizeof pinfo->destport);
    flow.append(reinterpret_cast<const char *>(&pinfo->srcport), sizeof pinfo->srcport);
    if (!g_announced_flows.insert(flow).second) return;
    // The setup frame links the stream to its call in Telephony › VoIP Calls and the Flow
    // Sequence: the offer when the signaling was decrypted, else the first media packet.
    guint32 setup_frame = pinfo->num;
    if (const call::Call *c = stream ? wacall_calls().find(stream->call_id) : nullptr)
        if (c->offer.seen) setup_frame = c->offer.frame;
    rtp_dyn_payload_t *payload_types = rtp_dyn_payload_new();
    insert_wa_payload_types(payload_types);
    rtp_add_address(pinfo, pinfo->ptype, &pinfo->net_dst, pinfo->destport, pinfo->srcport, "WACALL", setup_frame,
                    RTP_MEDIA_AUDIO | RTP_MEDIA_VIDEO, payload_types);
    address any_addr = ADDRESS_INIT_NONE;
    const conversation_type ctype = conversation_pt_to_conversation_type(pinfo->ptype);
    if (conversation_t *conv = find_conversation(pinfo->num, &pinfo->net_dst, &any_addr, ctype, pinfo->destport,
                                                 pinfo->srcport, NO_ADDR_B))
        conversation_set_dissector(conv, warp_udp_handle);
}

void add_attribution(proto_tree *t, tvbuff_t *tvb, const MediaStream *s, bool with_slot) {
    if (!s) return;
    proto_item *pi = proto_tree_add_string(t, hf_call_id, tvb, 0, 0, s->call_id.c_str());
    proto_item_set_generated(pi);
    pi = proto_tree_add_string(t, hf_participant, tvb, 0, 0, s->participant.c_str());
    proto_item_set_generated(pi);
    if (!with_slot) return;
    pi = proto_tree_add_uint(t, hf_slot, tvb, 0, 0, s->slot_word);
    proto_item_set_generated(pi);
}

// Which key authenticated the packet: shown for group epochs (a 1:1 call has only its call key,
// and every item costs tree-building time on every packet).
void add_key_used(proto_tree *t, tvbuff_t *tvb, guint64 key_id) {
    if (KeyCandidate::kind_of(key_id) != KeyCandidate::Epoch) return;
    proto_item *pi = proto_tree_add_uint(t, hf_key, tvb, 0, 0, KeyCandidate::Epoch);
    proto_item_set_generated(pi);
    pi = proto_tree_add_uint(t, hf_epoch, tvb, 0, 0, static_cast<guint32>(key_id));
    proto_item_set_generated(pi);
}

// One RTP/RTCP packet for the calls tap (report and stats tree) and the conversation filter.
void queue_media_tap(packet_info *pinfo, const MediaStream *s, guint32 ssrc, guint16 seq, bool rtcp, bool decrypted,
                     bool tag_failed) {
    if (!s || !have_tap_listener(wacall_calls_tap)) return;
    auto *info = wmem_new0(pinfo->pool, wacall_calls_tap_info);
    info->is_media = true;
    info->call_id = s->call_id.c_str();  // the receiver keeps streams until the file is closed
    info->participant = s->participant.c_str();
    info->slot_word = s->slot_word;
    info->ssrc = ssrc;
    info->seq = seq;
    info->rtcp = rtcp;
    info->decrypted = decrypted;
    info->tag_failed = tag_failed;
    tap_queue_packet(wacall_calls_tap, pinfo, info);
}

// The WARP header. Once a packet is decrypted Wireshark's rtp, right below, shows the fixed header
// (rtp.seq, rtp.ssrc, ...), so WARP then keeps only the 0xDEBE elements rtp cannot decode: the
// tree stays small, and tree items are most of the per-packet cost.
void add_rtp_header(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, const media::RtpHeader &h, bool brief) {
    proto_item *xi = nullptr;
    if (!brief) {
        proto_tree_add_item(t, hf_version, tvb, 0, 1, ENC_NA);
        proto_tree_add_item(t, hf_padding, tvb, 0, 1, ENC_NA);
        xi = proto_tree_add_item(t, hf_ext, tvb, 0, 1, ENC_NA);
        proto_tree_add_item(t, hf_cc, tvb, 0, 1, ENC_NA);
        proto_tree_add_item(t, hf_marker, tvb, 1, 1, ENC_NA);
        proto_tree_add_item(t, hf_pt, tvb, 1, 1, ENC_NA);
    }
    if (!brief) {
        proto_tree_add_item(t, hf_seq, tvb, 2, 2, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_ts, tvb, 4, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_ssrc, tvb, 8, 4, ENC_BIG_ENDIAN);
    }
    if (!h.has_ext) return;
    if (h.ext_without_x && xi) expert_add_info(pinfo, xi, &ei_debe_no_x);
    bool video = media::warp_pt_is_video(h.payload_type);
    proto_tree *et = t;  // decrypted: rtp shows the extension block; only its decoded meaning here
    if (!brief) {
        et = proto_tree_add_subtree(t, tvb, static_cast<gint>(h.ext_offset), 4 + 4 * h.ext_words, ett_ext, nullptr,
                                    "Header extension");
        proto_tree_add_item(et, hf_ext_profile, tvb, static_cast<gint>(h.ext_offset), 2, ENC_BIG_ENDIAN);
        proto_tree_add_item(et, hf_ext_words, tvb, static_cast<gint>(h.ext_offset) + 2, 2, ENC_BIG_ENDIAN);
        for (unsigned i = 0; i < h.n_elements; i++) {
            const auto &e = h.elements[i];
            // One item per element (id in the label and in warp.ext.id's value); it spans the
            // id/length byte and the value.
            proto_tree_add_uint_format(et, hf_ext_id, tvb, static_cast<gint>(e.value_offset) - 1, e.len + 1, e.id,
                                       "Element %u (%s), %u byte(s)", e.id,
                                       media::warp_ext_element_name(e.id, e.len, video), e.len);
        }
    }
    guint len = tvb_captured_length(tvb);
    media::WarpExtInfo w = media::decode_warp_ext(ByteView(tvb_get_ptr(tvb, 0, len), len), h, video);
    proto_item *pi;
    if (w.dtx_piggyback) { pi = proto_tree_add_boolean(et, hf_dtx, tvb, 0, 0, TRUE); proto_item_set_generated(pi); }
    if (w.frame_info) {
        pi = proto_tree_add_uint(et, hf_frame_info, tvb, 0, 0, *w.frame_info);
        proto_item_set_generated(pi);
        pi = proto_tree_add_boolean(et, hf_keyframe, tvb, 0, 0, w.keyframe);
        proto_item_set_generated(pi);
    }
    if (w.initial_bandwidth) { pi = proto_tree_add_uint(et, hf_bandwidth, tvb, 0, 0, *w.initial_bandwidth); proto_item_set_generated(pi); }
    if (w.short_offset) { pi = proto_tree_add_int(et, hf_offset, tvb, 0, 0, *w.short_offset); proto_item_set_generated(pi); }
    if (w.transport_seq) { pi = proto_tree_add_uint(et, hf_tseq, tvb, 0, 0, *w.transport_seq); proto_item_set_generated(pi); }
}

// The 0xDEBE block inside Wireshark's rtp tree (rtp.hdr_ext table): decrypted RTP shows its
// elements there instead of "Defined by profile: Unknown". data is the rtp's struct _rtp_info.
int dissect_warp_hdr_ext(tvbuff_t *tvb, packet_info *, proto_tree *tree, void *data) {
    guint len = tvb_captured_length(tvb);
    media::RtpHeader h;
    media::parse_warp_ext_elements(ByteView(tvb_get_ptr(tvb, 0, len), len), h);
    const auto *ri = static_cast<const struct _rtp_info *>(data);
    const bool video = ri && media::warp_pt_is_video(static_cast<uint8_t>(ri->info_payload_type));
    for (unsigned i = 0; i < h.n_elements; i++) {
        const auto &e = h.elements[i];
        proto_tree_add_uint_format(tree, hf_ext_id, tvb, static_cast<gint>(e.value_offset) - 1, e.len + 1, e.id,
                                   "Element %u (%s), %u byte(s)", e.id, media::warp_ext_element_name(e.id, e.len, video),
                                   e.len);
    }
    return static_cast<int>(len);
}

// ---- RTP left encrypted, in Wireshark's RTP tools ------------------------------------------------
//
// A WARP packet that does not decrypt (no key, unattributed, failed tag) still has a clear RTP
// header. Like stock Wireshark with SRTP set up by SDP, it is handed to the rtp dissector as SRTP:
// rtp shows the header, "SRTP Encrypted Payload" and "SRTP Auth Tag", feeds its tap (-z
// rtp,streams, RTP Stream Analysis, graphs, Flow Sequence) and calls no codec.
//
// srtp_add_address() would mark the whole flow as SRTP, and with keys the same flow carries
// decrypted RTP (and a flow may mix both, e.g. forged packets). So the per-packet record the rtp
// dissector looks up first (proto data key 0 under proto_rtp, which it otherwise copies from its
// conversation on the first pass) is set here for these packets only: method "WACALL", the setup
// frame, WhatsApp's payload types, the SRTP trailer length, and the extended sequence number and
// timestamp rtp would compute (unwrapped here per flow and SSRC). Decrypted packets get no record
// from WARP: rtp fills theirs from the conversation as before.

struct KeylessUnwrap {
    guint32 setup_frame;
    guint32 ext_seq;
    guint64 ext_ts;
};
std::unordered_map<std::string, KeylessUnwrap> g_keyless;  // flow (addresses, ports) + SSRC + inferred call
rtp_dyn_payload_t *g_keyless_pts;                          // file scope, made on first use

void keyless_init() {
    g_keyless.clear();
    g_keyless_pts = nullptr;  // freed with the file scope
}

// The SRTP trailer (MKI 0, tag) per length: rtp only reads these.
const struct srtp_info *keyless_srtp_info(unsigned trailer) {
    static struct srtp_info infos[64];
    if (trailer >= G_N_ELEMENTS(infos)) trailer = 0;
    struct srtp_info *i = &infos[trailer];
    i->encryption_algorithm = SRTP_ENC_ALG_AES_CM;
    i->auth_algorithm = trailer ? SRTP_AUTH_ALG_HMAC_SHA1 : SRTP_AUTH_ALG_NONE;
    i->mki_len = 0;
    i->auth_tag_len = trailer;
    return i;
}

// As packet-rtp.c's calculate_extended_seqno/_timestamp: within half the space of the previous.
guint32 unwrap_seq(guint32 prev, guint16 raw) {
    guint32 v = (prev & 0xFFFF0000u) | raw;
    if (v + 0x8000u < prev) v += 0x10000u;
    else if (prev + 0x8000u < v) v -= 0x10000u;
    return v;
}
guint64 unwrap_ts(guint64 prev, guint32 raw) {
    guint64 v = (prev & 0xFFFFFFFF00000000ull) | raw;
    if (v + 0x80000000ull < prev) v += 0x100000000ull;
    else if (prev + 0x80000000ull < v) v -= 0x100000000ull;
    return v;
}

// First pass: the rtp dissector's per-packet record for a packet left encrypted.
void keyless_rtp_record(packet_info *pinfo, const media::RtpHeader &h, const warp_pkt_t *rec, unsigned trailer) {
    std::string flow;
    flow.reserve(48);
    flow.append(reinterpret_cast<const char *>(pinfo->net_src.data), static_cast<size_t>(pinfo->net_src.len));
    flow.append(reinterpret_cast<const char *>(pinfo->net_dst.data), static_cast<size_t>(pinfo->net_dst.len));
    flow.append(reinterpret_cast<const char *>(&pinfo->srcport), sizeof pinfo->srcport);
    flow.append(reinterpret_cast<const char *>(&pinfo->destport), sizeof pinfo->destport);
    flow.append(reinterpret_cast<const char *>(&h.ssrc), sizeof h.ssrc);
    const guint32 call_index = inferred_index(rec);  // a later call reusing the flow and SSRC: a new stream
    flow.append(reinterpret_cast<const char *>(&call_index), sizeof call_index);
    auto it = g_keyless.find(flow);
    if (it == g_keyless.end()) {
        // The setup frame: the call's offer when the signaling was decrypted; for a call inferred
        // without keys its first frame, the one that opened its Telephony › VoIP Calls entry
        // (wacall_queue_inferred), so Wireshark's VoIP dialog links the stream to that call
        // (ui/voip_calls.c: an RTP stream belongs to the call whose graph holds its setup frame);
        // else this packet.
        guint32 setup = pinfo->num;
        if (const call::Call *c = rec->stream ? wacall_calls().find(rec->stream->call_id) : nullptr)
            if (c->offer.seen) setup = c->offer.frame;
        if (call_index && call_index <= wacall_inferred().calls().size())
            setup = wacall_inferred().calls()[call_index - 1].first_frame;
        it = g_keyless.emplace(std::move(flow), KeylessUnwrap{setup, 0x10000u, 0x100000000ull}).first;
    }
    KeylessUnwrap &u = it->second;
    u.ext_seq = unwrap_seq(u.ext_seq, h.seq);
    u.ext_ts = unwrap_ts(u.ext_ts, h.timestamp);
    if (!g_keyless_pts) {
        g_keyless_pts = rtp_dyn_payload_new();
        insert_wa_payload_types(g_keyless_pts);
    }
    auto *r = wmem_new0(wmem_file_scope(), wacall_rtp_packet_info);
    g_strlcpy(r->method, "WACALL", sizeof r->method);
    r->frame_number = u.setup_frame;
    r->media_types = RTP_MEDIA_AUDIO | RTP_MEDIA_VIDEO;
    r->rtp_dyn_payload = g_keyless_pts;
    r->extended_seqno = u.ext_seq;
    r->extended_timestamp = u.ext_ts;
    r->rtp_conv_info = nullptr;  // no reassembly of encrypted payloads
    r->srtp_info = const_cast<struct srtp_info *>(keyless_srtp_info(trailer));
    p_add_proto_data(wmem_file_scope(), pinfo, proto_rtp, wacall_rtp_packet_info_key, r);
}

// First pass, a packet without a key (unattributed, or its call has no key): the WARP tag length.
// Nothing in the clear tells it (the MI tag is random-looking bytes at the end; only the relay
// block's <warp_mi_tag_len> or WA_WARP_TAG_LEN says it), so without either it is the assumed one,
// the warp.keyless_tag_len preference (4, the reference default, or 10), and marked as assumed.
// An unattributed packet belongs to no known call, so nothing signaled its length (a key-log line
// always names a call): no lookup per packet.
void keyless_tag(warp_pkt_t *rec) {
    std::optional<unsigned> signaled;
    if (rec->stream) {
        if (rec->status != RS::NoKey) return;
        signaled = wacall_media().signaled_tag_len(rec->stream->call_id);
    } else if (rec->status != RS::Unattributed) {
        return;
    }
    rec->tag_assumed = !signaled;
    rec->tag_len = static_cast<guint8>(signaled.value_or(unsigned(pref_keyless_tag)));
}

// The bytes after the encrypted payload of a packet left encrypted: [HBH tag] ‖ [WARP tag] as in
// dissect_rtp; an unattributed packet (no call known) has the signaled tag length, else the assumed one.
unsigned keyless_trailer(const warp_pkt_t *rec) {
    if (!rec->stream) return rec->tag_len;
    const bool mi_outside = !rec->hbh_tag || pref_hbh_placement == 1;
    return rec->hbh_tag + (mi_outside ? rec->tag_len : 0u);
}

// Whether a packet left encrypted goes to rtp as SRTP; on the first pass this makes its record.
// Not when a 0xDEBE block is there without the X bit (rtp would take the block for payload).
// The tag length, when assumed, is shown as such.
bool keyless_for_rtp(packet_info *pinfo, proto_tree *t, tvbuff_t *tvb, const media::RtpHeader &h, warp_pkt_t *rec,
                     guint len) {
    if (!PINFO_FD_VISITED(pinfo)) keyless_tag(rec);
    if (rec->tag_assumed) {  // (the field's name says it all: no label text formatted per packet)
        proto_item *pi = proto_tree_add_uint(t, hf_tag_assumed, tvb, 0, 0, rec->tag_len);
        proto_item_set_generated(pi);
    }
    if (!rtp_handle || proto_rtp < 0 || h.ext_without_x) return false;
    if (PINFO_FD_VISITED(pinfo))
        return p_get_proto_data(wmem_file_scope(), pinfo, proto_rtp, wacall_rtp_packet_info_key) != nullptr;
    unsigned trailer = keyless_trailer(rec);
    if (h.header_len + trailer > len) trailer = 0;  // too short for its tag: all of it is payload
    keyless_rtp_record(pinfo, h, rec, trailer);
    return true;
}

// The inferred call of a flow's other datagrams (RTCP, text probes): a lookup only.
guint32 flow_call_index(packet_info *pinfo) {
    return wacall_inferred().call_for_flow(wacall_sock_src(pinfo), wacall_sock_dst(pinfo), wacall_rel_time(pinfo));
}

void add_call_index(proto_tree *t, tvbuff_t *tvb, guint32 index) {
    if (!index) return;
    proto_item *pi = proto_tree_add_uint(t, hf_call_index, tvb, 0, 0, index);
    proto_item_set_generated(pi);
}

// First pass: an RTP packet for the calls seen on the wire: attributed to a keyed call, it adds to
// that call's details (-z wacall,calls shows them in the call's entry); else it goes to the calls
// inferred without keys and the record gets the inferred call's index.
void infer_rtp_call(packet_info *pinfo, const media::RtpHeader &h, guint len, warp_pkt_t *rec) {
    call::RtpObservation o;
    if (!wacall_observe(pinfo, o)) return;
    o.ssrc = h.ssrc;
    o.pt = h.payload_type;
    o.seq = h.seq;
    o.ts = h.timestamp;
    o.bytes = len;
    if (rec->stream)
        wacall_inferred().add_rtp(rec->stream->call_id, o);
    else
        rec->call_index = wacall_inferred().add_rtp(o);
}

void dissect_rtp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *ti, proto_tree *t) {
    guint len = tvb_captured_length(tvb);
    ByteView b(tvb_get_ptr(tvb, 0, len), len);
    media::RtpHeader h;
    if (media::parse_rtp_header(b, h) != media::RtpParseError::None) {
        expert_add_info(pinfo, ti, &ei_malformed);
        return;
    }

    guint32 key = layer_key(pinfo);
    warp_pkt_t *rec = g_records.find(pinfo->num, key);
    auto &ms = wacall_media();
    auto *out = static_cast<guint8 *>(wmem_alloc(pinfo->pool, len));
    media::RtpPlain plain;
    if (!rec) {
        if (PINFO_FD_VISITED(pinfo)) {
            add_rtp_header(t, tvb, pinfo, h, false);
            col_add_fstr(pinfo->cinfo, COL_INFO, "WARP RTP PT=%u SSRC=0x%08X Seq=%u", h.payload_type, h.ssrc, h.seq);
            return;
        }
        rec = &g_records.add(pinfo->num, key);
        static_cast<media::MediaVerdict &>(*rec) = ms.first_pass_rtp(b, out, &plain);
        infer_rtp_call(pinfo, h, len, rec);
    } else if (rec->status == RS::Good) {
        plain = ms.replay_rtp(*rec, b, out);
        if (!plain.len) {
            add_rtp_header(t, tvb, pinfo, h, false);
            return;  // cannot happen: the same keys and ROC authenticated on the first pass
        }
    }
    const bool to_rtp = rec->status == RS::Good && rtp_handle;
    // Left encrypted: rtp shows the clear header as SRTP (see keyless_rtp_record), so here too
    // WARP keeps only what rtp cannot decode.
    const bool keyless_rtp = !to_rtp && keyless_for_rtp(pinfo, t, tvb, h, rec, len);
    add_rtp_header(t, tvb, pinfo, h, to_rtp || keyless_rtp);
    if (keyless_rtp) {
        call_dissector(rtp_handle, tvb, pinfo, tree);
        col_set_str(pinfo->cinfo, COL_PROTOCOL, "WARP");  // WARP's columns, as before (rtp wrote SRTP's)
    }
    if (!to_rtp)  // rtp writes its own Info for decrypted packets
        col_add_fstr(pinfo->cinfo, COL_INFO, "WARP RTP PT=%u SSRC=0x%08X Seq=%u Time=%u%s", h.payload_type, h.ssrc,
                     h.seq, h.timestamp, h.marker ? " Mark" : "");
    const bool details = pref_srtp_details || rec->status != RS::Good;
    add_attribution(t, tvb, rec->stream, details);
    add_call_index(t, tvb, inferred_index(rec));
    if (inferred_index(rec)) wacall_queue_inferred(pinfo, rec->call_index, false, h.ssrc, nullptr);
    queue_media_tap(pinfo, rec->stream, h.ssrc, h.seq, false, rec->status == RS::Good,
                    rec->status == RS::BadTag || rec->status == RS::HbhBad);
    if (!rec->stream) {
        expert_add_info(pinfo, ti, &ei_unattributed);
        // A header that fills the packet (e.g. 15 CSRCs) leaves no payload: an item at the end
        // with length -1 throws (found by scripts/mutate.sh).
        if (h.header_len < len)
            proto_tree_add_item(t, hf_payload, tvb, static_cast<gint>(h.header_len), -1, ENC_NA);
        return;
    }
    proto_item *pi = nullptr;
    if (rec->status != RS::Good) {  // a decrypted packet's tag item already spans the tag length
        pi = proto_tree_add_uint(t, hf_tag_len, tvb, 0, 0, rec->tag_len);
        proto_item_set_generated(pi);
    }
    // Wire trailer: [HBH tag] with the MI inside the HBH layer, or [HBH tag ‖ MI] with it outside.
    const bool mi_outside = !rec->hbh_tag || pref_hbh_placement == 1;
    const gint trailer = rec->hbh_tag + (mi_outside ? rec->tag_len : 0);
    const gint body_end = static_cast<gint>(len) - trailer;
    if (body_end > static_cast<gint>(h.header_len)) {
        if (rec->status != RS::Good)  // decrypted: the plaintext is in the Decrypted RTP source
            proto_tree_add_item(t, hf_payload, tvb, static_cast<gint>(h.header_len),
                                body_end - static_cast<gint>(h.header_len), ENC_NA);
        if (rec->hbh_tag) proto_tree_add_item(t, hf_hbh_tag, tvb, body_end, rec->hbh_tag, ENC_NA);
        if (mi_outside && details) proto_tree_add_item(t, hf_tag, tvb, static_cast<gint>(len) - rec->tag_len, rec->tag_len, ENC_NA);
    }
    if (HbhMode(pref_hbh_mode) != HbhMode::Off) {
        pi = proto_tree_add_uint(t, hf_hbh_tag_len, tvb, 0, 0, rec->hbh_tag);
        proto_item_set_generated(pi);
        guint8 hs = rec->hbh_tag ? PROTO_CHECKSUM_E_GOOD : rec->status == RS::HbhBad ? PROTO_CHECKSUM_E_BAD
                                                                                  : PROTO_CHECKSUM_E_UNVERIFIED;
        pi = proto_tree_add_uint(t, hf_hbh_status, tvb, 0, 0, hs);
        proto_item_set_generated(pi);
        if (rec->status == RS::NoHbhKey)
            expert_add_info_format(pinfo, pi, &ei_hbh_no_key,
                                   "No hop-by-hop key for call %s (relay <hbh_key> not decrypted, no WA_HBH_KEY line)",
                                   rec->stream->call_id.c_str());
        if (rec->status == RS::HbhBad) {
            expert_add_info(pinfo, pi, &ei_hbh_bad);
            col_append_str(pinfo->cinfo, COL_INFO, " [bad HBH tag]");
        }
    }
    guint8 auth = rec->status == RS::Good ? PROTO_CHECKSUM_E_GOOD : rec->status == RS::BadTag ? PROTO_CHECKSUM_E_BAD
                                                                                            : PROTO_CHECKSUM_E_UNVERIFIED;
    gint tag_off = static_cast<gint>(len) - rec->tag_len;
    pi = proto_tree_add_uint(t, hf_auth_status, tvb, mi_outside && tag_off > 0 ? tag_off : 0, mi_outside ? rec->tag_len : 0, auth);
    proto_item_set_generated(pi);
    proto_item *auth_item = pi;
    pi = proto_tree_add_boolean(t, hf_decrypted, tvb, 0, 0, rec->status == RS::Good);
    proto_item_set_generated(pi);
    if (rec->status == RS::NoKey) {
        expert_add_info_format(pinfo, ti, &ei_no_key,
                               "No key for call %s: add WA_CALL_KEY (or WA_CALL_EPOCH for a group call) to wacall.keylog_file",
                               rec->stream->call_id.c_str());
        return;
    }
    if (rec->status == RS::BadTag) {
        size_t nkeys = wacall_media().keyring(*rec->stream).size();
        expert_add_info_format(pinfo, auth_item, &ei_bad_tag,
                               "WARP tag check failed with %zu key(s) (sender %s, ROC %u): payload left encrypted", nkeys,
                               rec->stream->participant.c_str(), rec->roc);
        col_append_str(pinfo->cinfo, COL_INFO, " [bad tag]");
        return;
    }
    if (rec->status != RS::Good) return;
    if (details) {
        pi = proto_tree_add_uint(t, hf_roc, tvb, 0, 0, rec->roc);
        proto_item_set_generated(pi);
    }
    add_key_used(t, tvb, rec->key_id);
    if (pref_show_keys) {
        if (const KeyCandidate *c = ms.find_key(*rec->stream, rec->key_id)) {
            pi = proto_tree_add_bytes_with_length(t, hf_master_key, tvb, 0, 0, c->keys.master.key, 16);
            proto_item_set_generated(pi);
            pi = proto_tree_add_bytes_with_length(t, hf_master_salt, tvb, 0, 0, c->keys.master.salt, 14);
            proto_item_set_generated(pi);
        }
    }
    if (plain.sframe) {
        pi = proto_tree_add_boolean(t, hf_sframe, tvb, 0, 0, TRUE);
        proto_item_set_generated(pi);
        pi = proto_tree_add_uint64(t, hf_sframe_counter, tvb, 0, 0, plain.sframe_counter);
        proto_item_set_generated(pi);
    }
    tvbuff_t *ptvb = tvb_new_child_real_data(tvb, out, static_cast<guint>(plain.len), static_cast<gint>(plain.len));
    add_new_data_source(pinfo, ptvb, "Decrypted RTP");
    if (rtp_handle) {
        if (!PINFO_FD_VISITED(pinfo)) announce_payload_types(pinfo, rec->stream);  // file-scope data: once is enough
        call_dissector(rtp_handle, ptvb, pinfo, tree);
    }
}

bool rtcp_all_standard(const guint8 *p, size_t len) {
    const media::RtcpCompound c = media::parse_rtcp_compound(ByteView(p, len));
    if (!c.ok()) return false;
    for (const auto &r : c.packets)
        if (r.pt < 200 || r.pt > 206 || !r.error.empty()) return false;
    return !c.packets.empty();
}

void dissect_rtcp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, proto_item *ti, proto_tree *t) {
    guint len = tvb_captured_length(tvb);
    ByteView b(tvb_get_ptr(tvb, 0, len), len);
    proto_tree_add_item(t, hf_rtcp_pt, tvb, 1, 1, ENC_NA);
    proto_tree_add_item(t, hf_rtcp_ssrc, tvb, 4, 4, ENC_BIG_ENDIAN);
    uint32_t ssrc = be32(b.data + 4);
    col_add_fstr(pinfo->cinfo, COL_INFO, "WARP RTCP PT=%u SSRC=0x%08X", b[1], ssrc);
    guint32 key = layer_key(pinfo);
    warp_pkt_t *rec = g_records.find(pinfo->num, key);
    auto &ms = wacall_media();
    auto *out = static_cast<guint8 *>(wmem_alloc(pinfo->pool, len));
    media::RtcpPlain plain;
    media::RtcpVerdict r;  // this pass's verdict: SRTCP is authenticated again on every pass
    if (!rec) {
        if (PINFO_FD_VISITED(pinfo)) return;
        rec = &g_records.add(pinfo->num, key);
        r = ms.first_pass_rtcp(b, flow_hint(pinfo), out, &plain);
        rec->stream = r.stream;
        if (!rec->stream) rec->call_index = flow_call_index(pinfo);
    } else {
        r = ms.replay_rtcp(*rec, b, flow_hint(pinfo), out, &plain);
    }
    add_attribution(t, tvb, rec->stream, true);  // SRTCP: a few packets per second, all details shown
    add_call_index(t, tvb, inferred_index(rec));
    if (len >= 8 + media::kSrtcpTrailerLen) {
        proto_tree_add_item(t, hf_srtcp_e, tvb, len - 14, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_srtcp_index, tvb, len - 14, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_tag, tvb, len - 10, 10, ENC_NA);
    }
    if (!rec->stream) {
        expert_add_info(pinfo, ti, &ei_unattributed);
        return;
    }
    const bool used = r.status == RS::Good;
    const bool have_key = r.status != RS::NoKey;
    queue_media_tap(pinfo, rec->stream, ssrc, 0, true, used, have_key && !used);
    guint8 auth = !have_key ? PROTO_CHECKSUM_E_UNVERIFIED : used ? PROTO_CHECKSUM_E_GOOD : PROTO_CHECKSUM_E_BAD;
    proto_item *pi = proto_tree_add_uint(t, hf_auth_status, tvb, 0, 0, auth);
    proto_item_set_generated(pi);
    pi = proto_tree_add_boolean(t, hf_decrypted, tvb, 0, 0, used);
    proto_item_set_generated(pi);
    if (!have_key) {
        expert_add_info_format(pinfo, ti, &ei_no_key, "No key for call %s", rec->stream->call_id.c_str());
        return;
    }
    if (r.status == RS::HbhBad || r.status == RS::NoHbhKey) {
        expert_add_info_format(pinfo, ti, &ei_hbh_bad, "Hop-by-hop SRTCP layer did not authenticate (or no hop-by-hop key)");
        return;
    }
    if (!used) {
        expert_add_info_format(pinfo, ti, &ei_bad_tag, "SRTCP tag check failed (%s)", media::srtp_status_name(plain.srtp));
        return;
    }
    add_key_used(t, tvb, r.key_id);
    tvbuff_t *ptvb = tvb_new_child_real_data(tvb, out, static_cast<guint>(plain.len), static_cast<gint>(plain.len));
    add_new_data_source(pinfo, ptvb, "Decrypted RTCP");
    // Wireshark's rtcp knows 200-206; WhatsApp's compact 208/209 are shown by our own summary.
    if (rtcp_handle && rtcp_all_standard(out, plain.len)) {
        call_dissector(rtcp_handle, ptvb, pinfo, tree);
    } else {
        col_append_fstr(pinfo->cinfo, COL_INFO, " (%s)", media::rtcp_pt_name(out[1]));
    }
}

int dissect_warp_udp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *) {
    guint len = tvb_captured_length(tvb);
    ByteView b(tvb_get_ptr(tvb, 0, len), len);
    int off = 0;
    proto_item *env_item = nullptr;
    if (len && b[0] == 0x09) {
        media::EnvelopeResult env = media::unwrap_group_envelope(b);
        proto_item *ti = proto_tree_add_item(tree, proto_warp, tvb, 0, env.ok() ? static_cast<gint>(env.header_len) : -1, ENC_NA);
        proto_tree *et = proto_item_add_subtree(ti, ett_envelope);
        env_item = proto_tree_add_item(et, hf_envelope, tvb, 0, env.ok() ? static_cast<gint>(env.header_len) : -1, ENC_NA);
        col_set_str(pinfo->cinfo, COL_PROTOCOL, "WARP");
        if (!env.ok()) {
            expert_add_info_format(pinfo, env_item, &ei_envelope, "Group envelope: %s", media::envelope_status_name(env.status));
            return len;
        }
        proto_item *pi = proto_tree_add_uint(et, hf_envelope_len, tvb, 1, 1, static_cast<guint32>(env.header_len));
        proto_item_set_generated(pi);
        off = static_cast<int>(env.header_len);
    }
    tvbuff_t *inner = off ? tvb_new_subset_remaining(tvb, off) : tvb;
    ByteView ib = b.sub(off);
    media::PacketKind kind = media::classify(ib, true);  // a WhatsApp flow: cookieless pings are STUN
    if (kind == media::PacketKind::Stun && wastun_handle) return off + call_dissector(wastun_handle, inner, pinfo, tree);
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "WARP");
    proto_item *ti = proto_tree_add_item(tree, proto_warp, inner, 0, -1, ENC_NA);
    proto_tree *t = proto_item_add_subtree(ti, ett_warp);
    if (kind == media::PacketKind::Rtp) {
        dissect_rtp(inner, pinfo, tree, ti, t);
    } else if (kind == media::PacketKind::Rtcp) {
        dissect_rtcp(inner, pinfo, tree, ti, t);
    } else {
        // Seen in real captures: the relay's plain-text "health"/"OK" probes on the media flow.
        guint32 key = layer_key(pinfo);
        warp_pkt_t *rec = g_records.find(pinfo->num, key);
        if (!rec && !PINFO_FD_VISITED(pinfo)) {
            rec = &g_records.add(pinfo->num, key);
            rec->call_index = flow_call_index(pinfo);
        }
        add_call_index(t, tvb, inferred_index(rec));
        bool printable = ib.size > 0;
        for (size_t i = 0; i < ib.size; i++) printable = printable && g_ascii_isprint(ib[i]);
        if (printable) {
            proto_tree_add_item(t, hf_other_text, inner, 0, -1, ENC_ASCII);
            col_add_fstr(pinfo->cinfo, COL_INFO, "Relay text probe \"%s\"",
                         tvb_format_text(pinfo->pool, inner, 0, tvb_captured_length(inner)));
        } else if (ib.size) {  // (an empty datagram: no item, an item of length -1 there throws)
            proto_tree_add_item(t, hf_other, inner, 0, -1, ENC_NA);
            col_set_str(pinfo->cinfo, COL_INFO, "Unclassified relay datagram");
        }
    }
    return len;
}

heur_result_t heur_warp_udp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    if (!claim(tvb, pinfo)) return FALSE;
    dissect_warp_udp(tvb, pinfo, tree, data);
    return TRUE;
}

// ---- the web path: DataChannel messages (SCTP DATA in decrypted DTLS) ----------------------------

// Decrypted DTLS application data that is an SCTP packet whose first DATA chunk carries WhatsApp
// media: hand it to Wireshark's sctp, which passes each DataChannel message to heur_warp_sctp.
// Once one is seen, the DTLS flow's other SCTP packets (SACK, DCEP) go to sctp too.
heur_result_t heur_warp_dtls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *) {
    if (!sctp_handle) return FALSE;
    conversation_t *conv = find_or_create_conversation(pinfo);
    auto *mc = static_cast<media_conv_t *>(conversation_get_proto_data(conv, proto_warp));
    bool known = mc && mc->datachannel;
    guint len = tvb_captured_length(tvb);
    if (len < 16) return FALSE;
    ByteView b(tvb_get_ptr(tvb, 0, len), len);
    if (!known) {
        // SCTP common header (12) + DATA chunk header (16), PPID 50-57 (WebRTC, RFC 8831).
        if (len < 28 || b[12] != 0 || be16(b.data + 14) < 16) return FALSE;
        uint32_t ppid = be32(b.data + 24);
        size_t chunk_len = be16(b.data + 14);
        if (ppid < 50 || ppid > 57 || chunk_len > len - 12) return FALSE;
        if (!message_looks_wa(b.sub(28, chunk_len - 16))) return FALSE;
        if (!mc) {
            mc = wmem_new0(wmem_file_scope(), media_conv_t);  // claimed stays FALSE: UDP carries DTLS
            conversation_add_proto_data(conv, proto_warp, mc);
        }
        mc->datachannel = TRUE;
    }
    call_dissector(sctp_handle, tvb, pinfo, tree);
    return TRUE;
}

heur_result_t heur_warp_sctp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    guint len = tvb_captured_length(tvb);
    if (!message_looks_wa(ByteView(tvb_get_ptr(tvb, 0, len), len))) return FALSE;
    dissect_warp_udp(tvb, pinfo, tree, data);
    return TRUE;
}

// The relay ports belong to STUN: take the datagram only when it is WhatsApp's.
int dissect_warp_port(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    if (proto_is_protocol_enabled(find_protocol_by_id(proto_warp)) && claim(tvb, pinfo))
        return port_share_call(warp_udp_handle, tvb, pinfo, tree, data);
    return port_share_hand_back(pinfo->match_uint == 3480 ? g_stun_alt_port : g_stun_port, tvb, pinfo, tree, data);
}

}  // namespace

// The call of a dissected WARP frame, keyed or inferred (conversation filter): its first RTP/RTCP record.
static const std::string *frame_call(packet_info *pinfo) {
    const warp_pkt_t *rec = g_records.first(pinfo->num);
    return rec && rec->stream ? &rec->stream->call_id : nullptr;
}

static guint32 frame_call_index(packet_info *pinfo) { return inferred_index(g_records.first(pinfo->num)); }

void warp_register() {
    static hf_register_info hf[] = {
        {&hf_envelope, {"Group forwarding envelope", "warp.envelope", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_envelope_len, {"Envelope length", "warp.envelope.length", FT_UINT8, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_version, {"Version", "warp.version", FT_UINT8, BASE_DEC, nullptr, 0xC0, nullptr, HFILL}},
        {&hf_padding, {"Padding", "warp.padding", FT_BOOLEAN, 8, nullptr, 0x20, nullptr, HFILL}},
        {&hf_ext, {"Extension", "warp.ext", FT_BOOLEAN, 8, nullptr, 0x10, nullptr, HFILL}},
        {&hf_cc, {"CSRC count", "warp.cc", FT_UINT8, BASE_DEC, nullptr, 0x0F, nullptr, HFILL}},
        {&hf_marker, {"Marker", "warp.marker", FT_BOOLEAN, 8, nullptr, 0x80, nullptr, HFILL}},
        {&hf_pt, {"Payload type", "warp.pt", FT_UINT8, BASE_DEC, VALS(pt_vals), 0x7F, nullptr, HFILL}},
        {&hf_seq, {"Sequence number", "warp.seq", FT_UINT16, BASE_DEC, nullptr, 0,
                   "Only where rtp cannot show the header (0xDEBE block without the X bit); else see rtp.seq", HFILL}},
        {&hf_ts, {"Timestamp", "warp.timestamp", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_ssrc, {"SSRC", "warp.ssrc", FT_UINT32, BASE_HEX, nullptr, 0,
                    "Only where rtp cannot show the header (0xDEBE block without the X bit); else see rtp.ssrc", HFILL}},
        {&hf_ext_profile, {"Extension profile", "warp.ext.profile", FT_UINT16, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_ext_words, {"Extension length (words)", "warp.ext.words", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_ext_id, {"Element", "warp.ext.id", FT_UINT8, BASE_DEC, nullptr, 0,
                      "A 0xDEBE element: its id (the item spans id/length byte and value)", HFILL}},
        {&hf_dtx, {"DTX / piggyback word", "warp.ext.dtx", FT_BOOLEAN, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_frame_info, {"Media frame info", "warp.ext.frame_info", FT_UINT8, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_keyframe, {"Keyframe", "warp.ext.keyframe", FT_BOOLEAN, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_bandwidth, {"Initial bandwidth", "warp.ext.bandwidth", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_offset, {"Short offset", "warp.ext.offset", FT_INT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_tseq, {"Transport sequence", "warp.ext.transport_seq", FT_UINT16, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_payload, {"Encrypted payload", "warp.payload", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_id, {"Call ID", "warp.call_id", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_call_index, {"Inferred call", "warp.call_index", FT_UINT32, BASE_DEC, nullptr, 0,
                          "Call inferred without keys (as numbered in -z wacall,calls): media grouped by client "
                          "socket, SSRC and time", HFILL}},
        {&hf_participant, {"Participant", "warp.participant", FT_STRING, BASE_NONE, nullptr, 0,
                           "The sender's participant id", HFILL}},
        {&hf_slot, {"Stream slot", "warp.slot", FT_UINT32, BASE_DEC, VALS(slot_vals), 0, nullptr, HFILL}},
        {&hf_roc, {"Rollover counter", "warp.roc", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_tag_len, {"Tag length", "warp.tag_len", FT_UINT8, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_tag, {"Authentication tag", "warp.auth.tag", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_auth_status, {"Authentication status", "warp.auth.status", FT_UINT8, BASE_NONE, VALS(proto_checksum_vals), 0,
                           nullptr, HFILL}},
        {&hf_decrypted, {"Decrypted", "warp.decrypted", FT_BOOLEAN, BASE_NONE, nullptr, 0,
                         "True only when the payload was authenticated and decrypted", HFILL}},
        {&hf_rtcp_pt, {"RTCP packet type", "warp.rtcp.pt", FT_UINT8, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_rtcp_ssrc, {"RTCP sender SSRC", "warp.rtcp.ssrc", FT_UINT32, BASE_HEX, nullptr, 0, nullptr, HFILL}},
        {&hf_srtcp_e, {"SRTCP encrypted", "warp.srtcp.e", FT_BOOLEAN, 32, nullptr, 0x80000000, nullptr, HFILL}},
        {&hf_srtcp_index, {"SRTCP index", "warp.srtcp.index", FT_UINT32, BASE_DEC, nullptr, 0x7FFFFFFF, nullptr, HFILL}},
        {&hf_sframe, {"SFrame", "warp.sframe", FT_BOOLEAN, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_sframe_counter, {"SFrame counter", "warp.sframe.counter", FT_UINT64, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_master_key, {"SRTP master key", "warp.keys.master_key", FT_BYTES, BASE_NONE, nullptr, 0,
                          "Sender's E2E master key (shown only with warp.show_keys)", HFILL}},
        {&hf_master_salt, {"SRTP master salt", "warp.keys.master_salt", FT_BYTES, BASE_NONE, nullptr, 0,
                           "Sender's E2E master salt (shown only with warp.show_keys)", HFILL}},
        {&hf_key, {"Key used", "warp.key", FT_UINT8, BASE_DEC, VALS(key_kind_vals), 0,
                   "Which key authenticated the packet: the 1:1 call key or a group epoch", HFILL}},
        {&hf_epoch, {"Epoch transaction id", "warp.epoch", FT_UINT32, BASE_DEC, nullptr, 0,
                     "transaction-id of the <enc_rekey> epoch that authenticated the packet", HFILL}},
        {&hf_hbh_tag, {"Hop-by-hop tag", "warp.hbh.tag", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_hbh_tag_len, {"Hop-by-hop tag length", "warp.hbh.tag_len", FT_UINT8, BASE_DEC, nullptr, 0,
                           "0 when no hop-by-hop layer was removed", HFILL}},
        {&hf_hbh_status, {"Hop-by-hop status", "warp.hbh.status", FT_UINT8, BASE_NONE, VALS(proto_checksum_vals), 0,
                          nullptr, HFILL}},
        {&hf_tag_assumed, {"Tag length assumed (not signaled; preference warp.keyless_tag_len)", "warp.tag_len.assumed", FT_UINT8, BASE_DEC, nullptr, 0,
                           "No key and no signaled WARP tag length (relay block <warp_mi_tag_len>, WA_WARP_TAG_LEN): "
                           "the split of the packet's end into encrypted payload and tag assumes this length, "
                           "set by the preference warp.keyless_tag_len (nothing in the clear tells it)",
                           HFILL}},
        {&hf_other, {"Unclassified datagram", "warp.other", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_other_text, {"Relay text probe", "warp.text", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
    };
    static gint *ett[] = {&ett_warp, &ett_ext, &ett_envelope};
    static ei_register_info ei[] = {
        {&ei_bad_tag, {"warp.auth.bad", PI_DECRYPTION, PI_ERROR, "WARP/SRTCP tag check failed", EXPFILL}},
        {&ei_no_key, {"warp.no_key", PI_DECRYPTION, PI_WARN, "No call key", EXPFILL}},
        {&ei_unattributed, {"warp.unattributed", PI_UNDECODED, PI_NOTE,
                            "SSRC not derived from any known call and participant (no signaling or WA_PARTICIPANT)", EXPFILL}},
        {&ei_envelope, {"warp.envelope.malformed", PI_MALFORMED, PI_ERROR, "Malformed group envelope", EXPFILL}},
        {&ei_malformed, {"warp.malformed", PI_MALFORMED, PI_ERROR, "Malformed RTP header", EXPFILL}},
        {&ei_hbh_bad, {"warp.hbh.bad", PI_DECRYPTION, PI_ERROR, "Hop-by-hop tag check failed: payload left encrypted", EXPFILL}},
        {&ei_hbh_no_key, {"warp.hbh.no_key", PI_DECRYPTION, PI_WARN, "No hop-by-hop key", EXPFILL}},
        {&ei_debe_no_x, {"warp.ext.no_x", PI_PROTOCOL, PI_NOTE, "0xDEBE extension present although X=0 (spec R1)", EXPFILL}},
    };
    proto_warp = proto_register_protocol("WhatsApp Relay Media (WARP)", "WARP", "warp");
    proto_register_field_array(proto_warp, hf, G_N_ELEMENTS(hf));
    proto_register_subtree_array(ett, G_N_ELEMENTS(ett));
    expert_register_field_array(expert_register_protocol(proto_warp), ei, G_N_ELEMENTS(ei));
    module_t *mod = prefs_register_protocol(proto_warp, apply_prefs);
    prefs_register_enum_preference(mod, "tag_key", "WARP tag key",
                                   "Which key the WARP MI tag uses: the reference implementation's SRTP auth key, "
                                   "or the spec's HKDF(callKey, \"warp auth key\")",
                                   &pref_tag_key, tag_key_vals, FALSE);
    prefs_register_enum_preference(mod, "iv_layout", "E2E SRTP IV layout",
                                   "RFC 3711 (reference implementation, matches the vectors) or the spec's right-aligned salt",
                                   &pref_iv_layout, iv_vals, FALSE);
    prefs_register_enum_preference(mod, "hbh", "Hop-by-hop layer",
                                   "Remove a hop-by-hop SRTP/SRTCP layer (relay <hbh_key> or WA_HBH_KEY) before the E2E "
                                   "layer. Off in the reference client; the spec names two derivations (X1)",
                                   &pref_hbh_mode, hbh_mode_vals, FALSE);
    prefs_register_enum_preference(mod, "hbh_tag_len", "Hop-by-hop tag length",
                                   "4 or 10 bytes (spec REL-05 varies it per packet: auto tries 10, then 4)",
                                   &pref_hbh_tag, hbh_tag_vals, FALSE);
    prefs_register_enum_preference(mod, "hbh_mi", "WARP MI tag position with a hop-by-hop layer",
                                   "Inside the HBH layer (E2E then HBH, CRY-05) or appended after it (spec X9)",
                                   &pref_hbh_placement, hbh_placement_vals, FALSE);
    prefs_register_enum_preference(mod, "keyless_tag_len", "WARP tag length assumed without keys",
                                   "Without a key, the length of the WARP tag at the end of each RTP packet when neither "
                                   "the signaling (<warp_mi_tag_len>) nor the key log (WA_WARP_TAG_LEN) gives it: 4 "
                                   "(reference default) or 10. Only the split shown between encrypted payload and tag "
                                   "depends on it",
                                   &pref_keyless_tag, keyless_tag_vals, FALSE);
    prefs_register_bool_preference(mod, "show_keys", "Show derived keys",
                                   "Add each packet's SRTP master key and salt to the tree (off: secrets stay out of "
                                   "the tree, the columns and exports)",
                                   &pref_show_keys);
    prefs_register_bool_preference(mod, "srtp_details", "Show SRTP details of decrypted RTP",
                                   "Add the stream slot, the rollover counter and the tag bytes to every decrypted RTP "
                                   "packet (off: the Authentication status item spans the tag bytes; packets that do not "
                                   "decrypt always show them)",
                                   &pref_srtp_details);
    prefs_register_bool_preference(mod, "try_sframe", "Try SFrame on decrypted payloads",
                                   "As the reference client does on receive; payloads that fail stay plain codec bytes",
                                   &pref_try_sframe);
    warp_udp_handle = register_dissector("warp_udp", dissect_warp_udp, proto_warp);
    wacall_on_capture_reset(media_init);
    wacall_add_frame_call_source({frame_call, frame_call_index});
    proto_warp_on_stun = port_share_register_pino("WhatsApp relay media on the STUN ports", "WARP/STUN", "warp.on_stun",
                                                  "stun", proto_warp);
}

void warp_handoff() {
    wastun_handle = find_dissector("wastun");
    rtp_handle = find_dissector("rtp");
    rtcp_handle = find_dissector("rtcp");
    proto_rtp = proto_get_id_by_filter_name("rtp");
    dissector_handle_t port_handle = create_dissector_handle(dissect_warp_port, proto_warp_on_stun);
    port_share_take(g_stun_port, port_handle);
    port_share_take(g_stun_alt_port, port_handle);
    sctp_handle = find_dissector("sctp");
    heur_dissector_add("dtls", heur_warp_dtls, "WhatsApp media in a WebRTC DataChannel (SCTP over DTLS)", "warp_dtls",
                       proto_warp, HEURISTIC_ENABLE);
    heur_dissector_add("sctp", heur_warp_sctp, "WhatsApp media as DataChannel messages", "warp_sctp", proto_warp,
                       HEURISTIC_ENABLE);
    heur_dissector_add("udp", heur_warp_udp, "WhatsApp relay media over UDP", "warp_udp", proto_warp, HEURISTIC_ENABLE);
    dissector_add_uint("rtp.hdr_ext", media::kWarpExtProfile, create_dissector_handle(dissect_warp_hdr_ext, proto_warp));
}
