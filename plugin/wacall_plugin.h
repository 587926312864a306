// Shared declarations of the plugin glue: registration entry points of each protocol and the
// capture-wide state every dissector reads (key store, call registry).
#pragma once

#include "ws_includes.h"

#include <string>

namespace wacall {
namespace keys { class KeyStore; }
namespace call { class CallRegistry; class InferredCalls; struct SockEnd; struct Observation; enum class Direction : uint8_t; }
namespace noise { class KeySource; }
}  // namespace wacall

void wanoise_register();
void wanoise_handoff();
void wabinary_register();
void wabinary_handoff();
void wacall_register();
void wacall_handoff();
void wastun_register();
void wastun_handoff();
void warp_register();
void warp_handoff();
void wacall_register_tap_listeners();

// The key store behind the `wacall.keylog_file` preference. wacall_keys_refresh() re-reads the
// file when it changed (cheap stat otherwise) and reports each new problem once (file problems
// as failures, lines as warnings; past the cap, one line with the count).
wacall::keys::KeyStore &wacall_keys();
void wacall_keys_refresh();
// Points the key store at a new key-log path (the preference changed); re-reads it either way.
void wacall_keys_set_path(const char *path);
// Says once (stderr / GUI) which key-log line's key authenticated, when lines disagreed.
void wacall_keys_report_used(uint32_t line, const std::string &what);
// The key store as the Noise receiver (src/noise/session.h) asks it (plugin/noise_keys.cpp).
wacall::noise::KeySource &wacall_noise_keys();

// The call model of the open capture file (filled on the first pass, in frame order).
wacall::call::CallRegistry &wacall_calls();

// ---- capture-wide state (plugin/capture_state.cpp) -----------------------------------------------
// Everything a capture file builds up is reset in one place, when a file is opened and closed:
// the key log is re-read from the preference, the core's state (call registry, media receiver,
// inferred calls, frames' calls) is dropped, then each dissector's own per-frame and
// per-conversation storage through the hook it registered, in registration order.
// keylog_pref: the `wacall.keylog_file` preference's storage (wacall registers the preference).
void wacall_register_capture_state(const char *const *keylog_pref);
void wacall_on_capture_reset(void (*reset)());

// What wanoise hands to wabinary with each decrypted frame (via the `data` pointer).
struct wanoise_frame_info {
    int dict_version;                     // from the connection intro (-1 when unknown)
    wacall::call::Direction direction;    // of the Noise frame
};

// What the wabinary dissector hands to wacall (via the `data` pointer).
namespace wacall::wabinary { struct Node; struct DecodeResult; }
struct wabinary_dissect_info {
    const wacall::wabinary::Node *root;  // decoded top-level node (owned by the caller)
    int dict_version;
    wacall::call::Direction direction;   // from wanoise (Unknown when wabinary got none)
};

// Sanitised corpus export (`-z wacall,corpus`, plugin/corpus_tap.cpp). wacall_register_corpus_tap()
// registers the tap and the -z option (idempotent; works from protocol or tap-listener
// registration). wabinary hands every decoded top-level node (a complete DecodeResult, whose
// root is the stanza), with the frame's direction, to wacall_corpus_offer(), which does nothing
// unless the corpus tap has a listener. The node bytes the result views must stay valid until
// the packet's taps ran (pinfo->pool or file-scope memory); the result is shared, not copied.
void wacall_register_corpus_tap();
void wacall_corpus_offer(packet_info *pinfo, const wacall::wabinary::DecodeResult &decoded, int dict_version,
                         wacall::call::Direction direction);

// ---- taps (plugin/calls_tap.cpp) ----------------------------------------------------------------

namespace wacall::call { struct Call; }

// What wacall (one per call stanza) and warp (one per RTP/RTCP packet) queue on the
// "wacall_calls" tap. Strings live at least as long as the packet.
struct wacall_calls_tap_info {
    bool is_media;
    const char *call_id;
    // stanza
    const char *action;                 // "offer", "accept", ... or the ack/receipt kind
    const wacall::call::Call *call;     // the registry's view of the call (valid during the tap)
    // media
    const char *participant;
    guint32 slot_word, ssrc;
    guint16 seq;
    bool rtcp, decrypted, tag_failed;
    // a call inferred without keys (call_id is then nullptr): its index, and for media the
    // stream's direction ("sent"/"received"/"unknown") and kind; stun marks a relay STUN frame
    guint32 inferred_call;
    const char *direction, *kind;
    bool stun;
};
// Queues a frame of an inferred call on the wacall_calls tap (Statistics › WhatsApp › Calls) and,
// for relay STUN and the call's first frame, on the voip tap (Telephony › VoIP Calls). ssrc is
// ignored when stun; label (nullptr for media) names the frame in VoIP Calls.
void wacall_queue_inferred(packet_info *pinfo, guint32 index, bool stun, guint32 ssrc, const char *label);
extern int wacall_calls_tap;
extern int wacall_voip_tap;
void wacall_register_calls_tap();  // taps, conversation filter (protocol registration time)

// Calls inferred from keyless relay STUN and WARP RTP (issue 15): wastun and warp feed every
// packet no keyed call claims, on the first pass only, and keep the returned 1-based index in
// their per-frame records (wastun.call_index / warp.call_index). Reset with the file.
wacall::call::InferredCalls &wacall_inferred();
// The packet's addresses as the core's endpoints (family 0 when not IP).
wacall::call::SockEnd wacall_sock_src(packet_info *pinfo);
wacall::call::SockEnd wacall_sock_dst(packet_info *pinfo);
// Seconds since the capture's first frame.
double wacall_rel_time(packet_info *pinfo);
// Fills the frame, time and endpoints every observation carries; false when not IP.
bool wacall_observe(packet_info *pinfo, wacall::call::Observation &o);

// The call each frame belongs to, for the conversation filter: signaling frames are noted by
// wacall (few); STUN and media frames answer from their own per-packet records, through the
// lookups wastun and warp register (so the glue never calls up into a dissector).
void wacall_note_frame_call(guint32 frame, const std::string &call_id);
struct wacall_frame_call_source {
    const std::string *(*call_id)(packet_info *pinfo);  // a keyed call's id, or nullptr
    guint32 (*inferred_index)(packet_info *pinfo);       // a call inferred without keys, or 0
};
void wacall_add_frame_call_source(const wacall_frame_call_source &source);
const std::string *wacall_frame_call(packet_info *pinfo);
guint32 wacall_frame_inferred_index(packet_info *pinfo);

extern int proto_wacall;
extern int proto_wanoise;
extern int proto_wabinary;
extern int proto_wastun;
extern int proto_warp;
