#include "report/calls_report.h"

#include "media/rtp.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

namespace wacall::report {

void StreamStats::add(uint16_t seq, bool decrypted, bool tag_failed) {
    packets_++;
    decrypted_ += decrypted;
    tag_failures_ += tag_failed;
    if (!started_) {
        started_ = true;
        first_ = highest_ = seq;
        return;
    }
    uint64_t cand = media::extend_seq(highest_, seq);
    if (cand > highest_) highest_ = cand;
    if (cand < first_) first_ = cand;
}

void StreamStats::add_rtcp(bool decrypted, bool tag_failed) {
    rtcp_++;
    rtcp_decrypted_ += decrypted;
    rtcp_tag_failures_ += tag_failed;
}

call::CallStatus status_at(const call::Call &c, uint32_t frame) {
    auto at = [frame](const call::StateMark &m) { return m.seen && m.frame <= frame; };
    if (at(c.terminate)) return call::CallStatus::Ended;
    if (at(c.accept)) return call::CallStatus::Accepted;
    if (at(c.reject)) return call::CallStatus::Rejected;
    if (at(c.ringing)) return call::CallStatus::Ringing;
    if (at(c.offer) || at(c.offer_ack) || at(c.preaccept)) return call::CallStatus::Offered;
    return call::CallStatus::Unknown;
}

double call_duration(const call::Call &c) {
    if (c.accept.seen && c.terminate.seen && c.terminate.time >= c.accept.time) return c.terminate.time - c.accept.time;
    if (c.duration) return *c.duration;
    return -1;
}

namespace {

std::string utc(double t) {
    time_t s = static_cast<time_t>(t);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[48];
    int ms = static_cast<int>((t - static_cast<double>(s)) * 1000 + 0.5);
    if (ms >= 1000) ms = 999;
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

std::string mark(const call::StateMark &m) {
    if (!m.seen) return "-";
    return utc(m.time) + " (frame " + std::to_string(m.frame) + ")";
}

std::string join(const std::vector<std::string> &v) {
    if (v.empty()) return "-";
    std::string out;
    for (const auto &s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string or_dash(const std::string &s) { return s.empty() ? "-" : s; }

void stream_rows(std::string &out, const std::string &call_id, const std::map<StreamKey, StreamInfo> &streams) {
    char line[256];
    bool any = false;
    for (auto it = streams.lower_bound(StreamKey{call_id, 0}); it != streams.end() && it->first.call_id == call_id;
         ++it) {
        if (!any) {
            snprintf(line, sizeof line, "  %-10s %-28s %-11s %8s %6s %9s %12s %5s %9s\n", "SSRC", "Participant", "Slot",
                     "Packets", "Lost", "Decrypted", "Tag failures", "RTCP", "RTCP ok");
            out += line;
            any = true;
        }
        const StreamStats &s = it->second.stats;
        snprintf(line, sizeof line,
                 "  0x%08X %-28s %-11s %8" PRIu64 " %6" PRIu64 " %9" PRIu64 " %12" PRIu64 " %5" PRIu64 " %9" PRIu64 "\n",
                 it->first.ssrc, it->second.participant.c_str(), it->second.slot.c_str(), s.packets(), s.lost(),
                 s.decrypted(), s.tag_failures(), s.rtcp_packets(), s.rtcp_decrypted());
        out += line;
    }
    if (!any) out += "  (no media stream attributed to this call)\n";
}

}  // namespace

namespace {
void media_details(std::string &o, const call::InferredCall &c, const call::Call *signaled);
std::string legend();

// A keyed call's relay STUN and RTP as the wire shows them (what a call without keys gets), with
// the relay names its signaling gave.
// Which end of the call the capture was taken on, from the direction the offer travelled on the
// capturing client's Noise connection (wanoise -> wabinary -> wacall -> registry).
const char *capture_side(call::Direction offer) {
    switch (offer) {
    case call::Direction::ClientToServer: return "the caller's side (the offer left this client)";
    case call::Direction::ServerToClient: return "the callee's side (the offer reached this client)";
    default: return "unknown (no offer in decrypted signaling)";
    }
}

void wire_details(std::string &out, const call::InferredCall *c, const call::Call *signaled) {
    if (!c) return;
    out += "  On the wire (relay STUN and RTP headers, as for calls without keys; times since the first frame):\n";
    media_details(out, *c, signaled);
}
}  // namespace

std::string format_calls_report(const std::deque<call::Call> &calls, const std::map<StreamKey, StreamInfo> &streams,
                                const call::InferredCalls *media) {
    std::set<std::string> media_only;
    for (const auto &kv : streams) media_only.insert(kv.first.call_id);
    for (const auto &c : calls) media_only.erase(c.call_id);
    std::string out = "===================================================================================\n";
    out += "WhatsApp calls (wacall): " + std::to_string(calls.size() + media_only.size()) + " call(s)\n";
    for (const auto &c : calls) {
        out += "-----------------------------------------------------------------------------------\n";
        out += "Call " + c.call_id + "  [" + call::call_status_name(c.status) + "]" + (c.is_video ? " video" : " audio") +
               (c.is_group ? " group " + c.group_jid : "") + "\n";
        out += "  Creator:          " + or_dash(c.creator_participant.empty() ? c.creator : c.creator_participant) + "\n";
        out += "  Caller -> callee: " + or_dash(c.caller_jid) + " -> " + or_dash(c.callee_jid) + "\n";
        out += "  Captured on:      " + std::string(capture_side(c.offer_direction)) + "\n";
        out += "  Devices offered:  " + join(c.offered_devices) + "\n";
        out += "  Ringing devices:  " + join(c.ringing_devices) + "\n";
        out += "  Answered by:      " + or_dash(c.answering_device) + "\n";
        out += "  Offer:            " + mark(c.offer) + "\n";
        out += "  Ringing:          " + mark(c.ringing) + "\n";
        out += "  Accept:           " + mark(c.accept) + "\n";
        if (c.reject.seen) out += "  Reject:           " + mark(c.reject) + "  reason " + or_dash(c.reject_reason) + "\n";
        out += "  Terminate:        " + mark(c.terminate) + "\n";
        out += "  End reason:       " + or_dash(c.terminate.seen ? c.terminate_reason : c.reject_reason) + "\n";
        double d = call_duration(c);
        char buf[64];
        if (d >= 0) snprintf(buf, sizeof buf, "%.3f s", d);
        out += std::string("  Duration:         ") + (d >= 0 ? buf : "-") + "\n";
        stream_rows(out, c.call_id, streams);
        wire_details(out, media ? media->attributed(c.call_id) : nullptr, &c);
    }
    for (const auto &id : media_only) {
        out += "-----------------------------------------------------------------------------------\n";
        out += "Call " + id + "  [media only: no signaling decrypted]\n";
        stream_rows(out, id, streams);
        wire_details(out, media ? media->attributed(id) : nullptr, nullptr);
    }
    bool details = false;
    for (const auto &c : calls) details = details || (media && media->attributed(c.call_id));
    for (const auto &id : media_only) details = details || (media && media->attributed(id));
    if (details) out += legend();
    out += "===================================================================================\n";
    return out;
}

namespace {

std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

}  // namespace

namespace {

// The relay's name from the call's signaled endpoints (address and port, else the address alone).
std::string relay_name(const call::SockEnd &a, const call::Call *signaled) {
    if (!signaled) return "unknown (not signaled without keys)";
    const call::EndpointRecord *by_addr = nullptr;
    for (const auto &e : signaled->endpoints) {
        const bool fam = (a.family == 4 && e.family == call::AddrFamily::IPv4) ||
                         (a.family == 6 && e.family == call::AddrFamily::IPv6);
        if (!fam || std::memcmp(e.addr, a.addr.data(), a.family == 4 ? 4 : 16) != 0) continue;
        if (e.port == a.port && !e.relay_name.empty()) return e.relay_name + " (signaled)";
        if (!by_addr && !e.relay_name.empty()) by_addr = &e;
    }
    if (by_addr) return by_addr->relay_name + " (signaled for " + by_addr->text() + ")";
    return "unknown (not named by the signaling)";
}

// Times, sockets, relays, peer-to-peer path, media paths and streams of one call as relay STUN and
// RTP headers show them: the body of an inferred call's block, and of a keyed call's media details.
void media_details(std::string &o, const call::InferredCall &c, const call::Call *signaled) {
    o += fmt("  Start %.6f s  End %.6f s  Duration %.6f s  Frames %u-%u\n", c.start, c.end, c.duration(),
             c.first_frame, c.last_frame);
    std::string socks;
    for (const auto &e : c.local) socks += (socks.empty() ? "" : ", ") + e.to_string();
    o += "  Local media socket(s): " + (socks.empty() ? std::string("unknown (no relay allocation seen)") : socks) + "\n";
    for (const auto &r : c.relays) {
        std::string rtt = "unknown";
        if (!r.rtts.empty()) {
            double sum = 0, mn = r.rtts[0], mx = r.rtts[0];
            for (double x : r.rtts) sum += x, mn = std::min(mn, x), mx = std::max(mx, x);
            rtt = fmt("min %.3f ms avg %.3f ms max %.3f ms (%zu)", mn * 1e3, sum / r.rtts.size() * 1e3, mx * 1e3,
                      r.rtts.size());
        }
        o += fmt("  Relay %s  name: %s  allocations: %u (%u ok, %u error)  "
                 "RTT: %s  XOR-MAPPED: %s  XOR-RELAYED: %s  relay token: %s\n",
                 r.address.to_string().c_str(), relay_name(r.address, signaled).c_str(), r.allocate_requests,
                 r.allocate_successes, r.allocate_errors, rtt.c_str(),
                 r.xor_mapped.valid() ? r.xor_mapped.to_string().c_str() : "unknown",
                 r.xor_relayed.valid() ? r.xor_relayed.to_string().c_str() : "unknown", r.token ? "present" : "absent");
    }
    std::string p2p;
    for (const auto &p : c.paths)
        if (!p.relay) p2p += (p2p.empty() ? "" : ", ") + p.remote.to_string() + " (carried media)";
    for (const auto &p : c.peers) {
        bool media = false;
        for (const auto &x : c.paths) media = media || (!x.relay && x.remote == p.address);
        if (media) continue;
        p2p += (p2p.empty() ? "" : ", ") + p.address.to_string() + " (checks only)";
    }
    o += "  Peer-to-peer path: " + (p2p.empty() ? std::string("none seen") : p2p) + "\n";
    for (const auto &p : c.peers) {
        std::string rtt = "unknown";
        if (!p.rtts.empty()) {
            double sum = 0;
            for (double x : p.rtts) sum += x;
            rtt = fmt("avg %.3f ms (%zu)", sum / p.rtts.size() * 1e3, p.rtts.size());
        }
        o += fmt("  Peer check %s  STUN messages: %u  RTT: %s\n", p.address.to_string().c_str(), p.messages, rtt.c_str());
    }
    for (size_t i = 0; i < c.paths.size(); i++) {
        const auto &p = c.paths[i];
        o += fmt("  Media path %zu: %s %s  %.6f-%.6f s  %" PRIu64 " packets%s\n", i + 1,
                 p.relay ? "relay" : "peer-to-peer", p.remote.to_string().c_str(), p.first, p.last, p.packets,
                 i == 0 ? "  (first to carry media)" : "  (switch)");
    }
    o += fmt("  %-10s %-9s %-8s %-4s %8s %10s %10s %6s %10s %12s %12s %5s %9s\n", "SSRC", "Direction", "Kind", "PT",
             "Packets", "Bytes", "kbit/s", "Lost", "Jitter ms", "First s", "Last s", "Gaps", "Longest s");
    for (const auto &s : c.streams) {
        std::string jit = s.jitter_known ? fmt("%.3f", s.jitter_s * 1e3) : "unknown";
        o += fmt("  0x%08X %-9s %-8s %-4u %8" PRIu64 " %10" PRIu64 " %10.1f %6" PRIu64 " %10s %12.6f %12.6f %5u %9.3f\n",
                 s.ssrc, call::stream_dir_name(s.dir), call::pt_kind(s.pt) == std::string("app data") ? "app-data" : call::pt_kind(s.pt),
                 s.pt, s.packets, s.bytes, s.bitrate_bps() / 1e3, s.lost(), jit.c_str(), s.first, s.last, s.gaps,
                 s.longest_gap);
    }
}

std::string legend() {
    return fmt("(Gaps: arrival gaps of %.1f s or more: silence/DTX pauses or loss. Loss: RFC 3550 expected minus "
               "received. Jitter: RFC 3550 with the payload type's clock.)\n", call::InferredCalls::kGapReportSeconds);
}

}  // namespace

std::string format_inferred_calls(const std::vector<call::InferredCall> &calls) {
    if (calls.empty()) return "";
    std::string o;
    o += fmt("Calls inferred without keys: %zu (signaling not decrypted; grouped from relay STUN and RTP flows, "
             "see the confidence of each)\n", calls.size());
    for (const auto &c : calls) {
        o += fmt("\nInferred call #%u  state: signaling not decrypted\n", c.index);
        o += fmt("  Grouping (inferred): confidence %s: %s\n", c.confidence.c_str(), c.reason.c_str());
        media_details(o, c, nullptr);
    }
    o += "\n" + legend();
    return o;
}

}  // namespace wacall::report

