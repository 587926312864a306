// Calls at a glance: the "wacall_calls" tap (call stanzas from wacall, RTP/RTCP packets from
// warp) and what listens to it: `tshark -z wacall,calls` (a text report), the stats tree
// Statistics › WhatsApp › Calls (`-z wacall_calls,tree`), the "voip" tap feeding Telephony › VoIP
// Calls, and the "WhatsApp Call" conversation filter.
#include "wacall_plugin.h"

#include "call/inferred.h"
#include "call/registry.h"
#include "media/ssrc.h"
#include "report/calls_report.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

int wacall_calls_tap = -1;
int wacall_voip_tap = -1;

namespace {

using namespace wacall;

call::SockEnd sock_of(const address *a, guint32 port) {
    if (a->type == AT_IPv4 && a->len == 4) return call::SockEnd::v4(static_cast<const uint8_t *>(a->data), static_cast<uint16_t>(port));
    if (a->type == AT_IPv6 && a->len == 16) return call::SockEnd::v6(static_cast<const uint8_t *>(a->data), static_cast<uint16_t>(port));
    return call::SockEnd();
}


bool call_filter_valid(packet_info *pinfo) { return wacall_frame_call(pinfo) != nullptr || wacall_frame_inferred_index(pinfo) != 0; }

// Signaling, relay STUN and media of one call: every frame any of the three dissectors attributed.
// A call inferred without keys: its relay STUN and media by the inferred call index.
char *call_filter_build(packet_info *pinfo) {
    const std::string *id = wacall_frame_call(pinfo);
    if (!id) {
        guint32 i = wacall_frame_inferred_index(pinfo);
        return i ? g_strdup_printf("wastun.call_index == %u || warp.call_index == %u", i, i) : nullptr;
    }
    return g_strdup_printf("wacall.call_id == \"%s\" || wastun.call_id == \"%s\" || warp.call_id == \"%s\"",
                           id->c_str(), id->c_str(), id->c_str());
}

// ---- -z wacall,calls ----------------------------------------------------------------------------

struct CallsReport {
    std::map<std::string, call::Call> calls;  // copies: the registry is reset when the file closes
    std::vector<std::string> order;           // first-seen order
    std::map<report::StreamKey, report::StreamInfo> streams;
    std::set<guint32> inferred;  // inferred calls with a frame that passed the tap's filter
};

void calls_reset(void *p) {
    auto *r = static_cast<CallsReport *>(p);
    r->calls.clear();
    r->order.clear();
    r->streams.clear();
    r->inferred.clear();
}

tap_packet_status calls_packet(void *p, packet_info *, epan_dissect_t *, const void *data, tap_flags_t) {
    auto *r = static_cast<CallsReport *>(p);
    auto *info = static_cast<const wacall_calls_tap_info *>(data);
    if (info && !info->call_id && info->inferred_call) {
        r->inferred.insert(info->inferred_call);
        return TAP_PACKET_REDRAW;
    }
    if (!info || !info->call_id) return TAP_PACKET_DONT_REDRAW;
    if (!info->is_media) {
        if (!info->call) return TAP_PACKET_DONT_REDRAW;
        if (!r->calls.count(info->call_id)) r->order.push_back(info->call_id);
        r->calls[info->call_id] = *info->call;
        return TAP_PACKET_REDRAW;
    }
    report::StreamInfo &s = r->streams[report::StreamKey{info->call_id, info->ssrc}];
    if (s.participant.empty()) {
        s.participant = info->participant ? info->participant : "";
        s.slot = media::slot_name(info->slot_word);
    }
    if (info->rtcp)
        s.stats.add_rtcp(info->decrypted, info->tag_failed);
    else
        s.stats.add(info->seq, info->decrypted, info->tag_failed);
    return TAP_PACKET_REDRAW;
}

void calls_draw(void *p) {
    auto *r = static_cast<CallsReport *>(p);
    std::deque<call::Call> calls;
    for (const auto &id : r->order) calls.push_back(r->calls[id]);
    std::string keyed = report::format_calls_report(calls, r->streams, &wacall_inferred());
    // The inferred calls the tap saw (all of them, unless -z wacall,calls,FILTER narrowed it).
    std::vector<call::InferredCall> seen;
    for (const auto &c : wacall_inferred().calls())
        if (r->inferred.count(c.index)) seen.push_back(c);
    std::string inferred = report::format_inferred_calls(seen);
    if (!inferred.empty() && !calls.empty()) keyed += "\n";
    // The keyed report says "no calls" on its own; with inferred calls only, they are the report.
    if (calls.empty() && r->streams.empty() && !inferred.empty()) keyed.clear();
    fputs((keyed + inferred).c_str(), stdout);
}

void calls_finish(void *p) { delete static_cast<CallsReport *>(p); }

// tshark matches -z arguments by prefix ("wacall,callsx" reaches calls_init): anything but the
// name itself or the name and a comma is refused. Refusals exit 1 after a usage line, as stock
// taps do (io,stat, conv, sip,stat, expert).
[[noreturn]] void tap_arg_error(const std::string &msg, const char *usage) {
    report_failure("%s\n  usage: %s", msg.c_str(), usage);
    std::exit(1);
}

// The text after "NAME," (nullptr for NAME alone); refuses anything else.
const char *tap_args(const char *opt_arg, const char *name, const char *usage) {
    const size_t n = strlen(name);
    if (!opt_arg || strcmp(opt_arg, name) == 0) return nullptr;
    if (strncmp(opt_arg, name, n) != 0 || opt_arg[n] != ',')
        tap_arg_error(std::string("invalid -z argument \"") + (opt_arg ? opt_arg : "") + "\"", usage);
    return opt_arg + n + 1;
}

constexpr char kCallsUsage[] = "-z wacall,calls[,FILTER]  (FILTER: a display filter, e.g. wacall.call_id == \"...\")";
constexpr char kVoipUsage[] = "-z wacall,voip  (no arguments)";

bool calls_init(const char *opt_arg, void *) {
    const char *filter = tap_args(opt_arg, "wacall,calls", kCallsUsage);
    if (filter && !*filter) filter = nullptr;
    auto *r = new CallsReport();
    GString *err = register_tap_listener("wacall_calls", r, filter, TL_REQUIRES_NOTHING, calls_reset, calls_packet,
                                         calls_draw, calls_finish);
    if (err) {
        std::string m = std::string("Couldn't register wacall,calls tap: ") + err->str;
        g_string_free(err, TRUE);
        delete r;
        tap_arg_error(m, kCallsUsage);  // exits on every version (4.6 would also fail on `false`)
    }
    return true;
}

stat_tap_ui calls_ui = {WACALL_STAT_GROUP_TELEPHONY, "WhatsApp calls", "wacall,calls", wacall_stat_tap_init<calls_init>(), 0, nullptr};

// ---- -z wacall,voip: what Telephony › VoIP Calls receives from us (the same "voip" tap) -----------

const char *voip_state_name(voip_call_state s) {
    switch (s) {
    case VOIP_CALL_SETUP: return "CALL SETUP";
    case VOIP_RINGING: return "RINGING";
    case VOIP_IN_CALL: return "IN CALL";
    case VOIP_CANCELLED: return "CANCELLED";
    case VOIP_COMPLETED: return "COMPLETED";
    case VOIP_REJECTED: return "REJECTED";
    case VOIP_NO_STATE: return "NO STATE";
    default: return "UNKNOWN";
    }
}

struct VoipLog {
    std::vector<std::string> rows;
};

void voip_reset(void *p) { static_cast<VoipLog *>(p)->rows.clear(); }

tap_packet_status voip_packet(void *p, packet_info *pinfo, epan_dissect_t *, const void *data, tap_flags_t) {
    auto *v = static_cast<const voip_packet_info_t *>(data);
    if (!v || !v->protocol_name || strcmp(v->protocol_name, "WhatsApp") != 0) return TAP_PACKET_DONT_REDRAW;
    char *row = g_strdup_printf("%u\t%s\t%s\t%s\t%s\t%s\t%s", pinfo->num, v->call_id ? v->call_id : "",
                                voip_state_name(v->call_state), v->call_active_state == VOIP_ACTIVE ? "active" : "inactive",
                                v->from_identity ? v->from_identity : "", v->to_identity ? v->to_identity : "",
                                v->frame_label ? v->frame_label : "");
    static_cast<VoipLog *>(p)->rows.emplace_back(row);
    g_free(row);
    return TAP_PACKET_REDRAW;
}

void voip_draw(void *p) {
    printf("WhatsApp VoIP tap (frame, call-id, state, active, from, to, label)\n");
    for (const auto &r : static_cast<VoipLog *>(p)->rows) printf("%s\n", r.c_str());
}

void voip_finish(void *p) { delete static_cast<VoipLog *>(p); }

bool voip_init(const char *opt_arg, void *) {
    if (const char *extra = tap_args(opt_arg, "wacall,voip", kVoipUsage))
        tap_arg_error(std::string("-z wacall,voip takes no arguments, got \"") + extra + "\"", kVoipUsage);
    auto *log = new VoipLog();
    GString *err = register_tap_listener("voip", log, nullptr, TL_REQUIRES_NOTHING, voip_reset, voip_packet, voip_draw,
                                         voip_finish);
    if (err) {
        report_failure("Couldn't register wacall,voip tap: %s", err->str);
        g_string_free(err, TRUE);
        delete log;
        return false;
    }
    return true;
}

stat_tap_ui voip_ui = {WACALL_STAT_GROUP_TELEPHONY, "WhatsApp VoIP tap", "wacall,voip", wacall_stat_tap_init<voip_init>(), 0, nullptr};

// ---- stats tree: Statistics › WhatsApp › Calls ----------------------------------------------------

const char *kCallsNode = "WhatsApp calls";

void tree_init(stats_tree *st) { stats_tree_create_node(st, kCallsNode, 0, STAT_DT_INT, TRUE); }

tap_packet_status tree_packet(stats_tree *st, packet_info *, epan_dissect_t *, const void *data, tap_flags_t) {
    auto *info = static_cast<const wacall_calls_tap_info *>(data);
    if (info && !info->call_id && info->inferred_call) {  // a call inferred without keys
        int root = tick_stat_node(st, kCallsNode, 0, TRUE);
        char name[160];
        snprintf(name, sizeof name, "Inferred call #%u (no keys: signaling not decrypted, grouping inferred)",
                 info->inferred_call);
        int c = tick_stat_node(st, name, root, TRUE);
        if (info->stun) {
            tick_stat_node(st, "Relay STUN", c, FALSE);
            return TAP_PACKET_REDRAW;
        }
        int m = tick_stat_node(st, "Media packets", c, TRUE);
        snprintf(name, sizeof name, "%s %s SSRC 0x%08X", info->direction, info->kind, info->ssrc);
        tick_stat_node(st, name, m, FALSE);
        return TAP_PACKET_REDRAW;
    }
    if (!info || !info->call_id) return TAP_PACKET_DONT_REDRAW;
    int root = tick_stat_node(st, kCallsNode, 0, TRUE);
    std::string call = std::string("Call ") + info->call_id;
    int c = tick_stat_node(st, call.c_str(), root, TRUE);
    if (!info->is_media) {
        int sig = tick_stat_node(st, "Signaling stanzas", c, TRUE);
        tick_stat_node(st, info->action ? info->action : "?", sig, FALSE);
        return TAP_PACKET_REDRAW;
    }
    int m = tick_stat_node(st, "Media packets", c, TRUE);
    char name[160];
    snprintf(name, sizeof name, "%s %s SSRC 0x%08X%s", info->participant ? info->participant : "?",
             media::slot_name(info->slot_word), info->ssrc, info->rtcp ? " (RTCP)" : "");
    int s = tick_stat_node(st, name, m, TRUE);
    if (info->decrypted) tick_stat_node(st, "decrypted", s, FALSE);
    if (info->tag_failed) tick_stat_node(st, "tag failures", s, FALSE);
    return TAP_PACKET_REDRAW;
}

}  // namespace

call::SockEnd wacall_sock_src(packet_info *pinfo) { return sock_of(&pinfo->src, pinfo->srcport); }
call::SockEnd wacall_sock_dst(packet_info *pinfo) { return sock_of(&pinfo->dst, pinfo->destport); }
double wacall_rel_time(packet_info *pinfo) { return nstime_to_sec(&pinfo->rel_ts); }
bool wacall_observe(packet_info *pinfo, call::Observation &o) {
    o.src = wacall_sock_src(pinfo);
    o.dst = wacall_sock_dst(pinfo);
    o.frame = pinfo->num;
    o.time = wacall_rel_time(pinfo);
    return o.src.valid() && o.dst.valid();
}

void wacall_queue_inferred(packet_info *pinfo, guint32 index, bool stun, guint32 ssrc, const char *label) {
    if (!index || index > wacall_inferred().calls().size()) return;
    const call::InferredCall &c = wacall_inferred().calls()[index - 1];
    if (have_tap_listener(wacall_calls_tap)) {
        auto *info = wmem_new0(pinfo->pool, wacall_calls_tap_info);
        info->is_media = !stun;
        info->stun = stun;
        info->inferred_call = index;
        info->ssrc = ssrc;
        info->direction = "unknown";
        info->kind = "unknown";
        for (const auto &st : c.streams)
            if (!stun && st.ssrc == ssrc) {
                info->direction = call::stream_dir_name(st.dir);
                info->kind = call::pt_kind(st.pt);
            }
        tap_queue_packet(wacall_calls_tap, pinfo, info);
    }
    // VoIP Calls: every relay STUN frame, and the frame that started a call seen without any
    // relay STUN (media only), so such a call is listed too.
    if ((stun || pinfo->num == c.first_frame) && have_tap_listener(wacall_voip_tap)) {
        auto *v = wmem_new0(pinfo->pool, voip_packet_info_t);
        v->protocol_name = wmem_strdup(pinfo->pool, "WhatsApp");
        v->call_id = wmem_strdup_printf(pinfo->pool, "inferred call #%u", index);
        v->call_state = VOIP_IN_CALL;
        v->call_active_state = VOIP_ACTIVE;
        v->from_identity = wmem_strdup(pinfo->pool, c.local.empty() ? "unknown" : c.local[0].to_string().c_str());
        v->to_identity = wmem_strdup(pinfo->pool, "unknown (signaling not decrypted)");
        v->frame_label = wmem_strdup(pinfo->pool, label ? label : "RTP (no relay STUN seen)");
        v->call_comment = wmem_strdup_printf(pinfo->pool,
                                             "WhatsApp call inferred without keys (signaling not decrypted), grouping "
                                             "confidence %s",
                                             c.confidence.c_str());
        tap_queue_packet(wacall_voip_tap, pinfo, v);
    }
}

void wacall_register_calls_tap() {
    wacall_calls_tap = register_tap("wacall_calls");
    wacall_voip_tap = register_tap("voip");  // returns the existing id when Wireshark has one
    wacall_register_conversation_filter<call_filter_valid, call_filter_build>("wacall", "WhatsApp Call");
}

void wacall_register_tap_listeners() {
    register_stat_tap_ui(&calls_ui, nullptr);
    register_stat_tap_ui(&voip_ui, nullptr);
    stats_tree_register_plugin("wacall_calls", "wacall_calls", "WhatsApp/Calls", 0, tree_packet, tree_init, nullptr);
}
