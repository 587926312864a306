#include "report/calls_report.h"

#include <cinttypes>
#include <cstdio>
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
    // Extend seq to the cycle closest to the highest seen (handles wrap and reordering).
    uint64_t cycle = highest_ & ~uint64_t(0xFFFF);
    uint64_t cand = cycle | seq;
    if (cand + 0x8000 < highest_) cand += 0x10000;
    else if (cand > highest_ + 0x8000 && cand >= 0x10000) cand -= 0x10000;
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
    if (c.has_duration) return c.duration;
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

std::string format_calls_report(const std::deque<call::Call> &calls, const std::map<StreamKey, StreamInfo> &streams) {
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
    }
    for (const auto &id : media_only) {
        out += "-----------------------------------------------------------------------------------\n";
        out += "Call " + id + "  [media only: no signaling decrypted]\n";
        stream_rows(out, id, streams);
    }
    out += "===================================================================================\n";
    return out;
}

}  // namespace wacall::report
