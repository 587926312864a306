// The "calls at a glance" report (`tshark -z wacall,calls`): one block per call with its parties,
// devices, state times and end reason from the call registry, and one row per media stream with
// packet, loss, decryption and tag-failure counts gathered from the media plane.
#pragma once

#include "call/inferred.h"
#include "call/registry.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace wacall::report {

// Per-SSRC counters. Loss follows RFC 3550 A.3: expected = highest extended seq - first + 1,
// lost = expected - received (never negative: duplicates do not count as negative loss).
class StreamStats {
public:
    void add(uint16_t seq, bool decrypted, bool tag_failed);
    void add_rtcp(bool decrypted, bool tag_failed);  // counted apart from RTP
    uint64_t packets() const { return packets_; }
    uint64_t rtcp_packets() const { return rtcp_; }
    uint64_t rtcp_decrypted() const { return rtcp_decrypted_; }
    uint64_t rtcp_tag_failures() const { return rtcp_tag_failures_; }
    uint64_t decrypted() const { return decrypted_; }
    uint64_t tag_failures() const { return tag_failures_; }
    uint64_t expected() const { return packets_ ? highest_ - first_ + 1 : 0; }
    uint64_t lost() const { return expected() > packets_ ? expected() - packets_ : 0; }

private:
    bool started_ = false;
    uint64_t first_ = 0, highest_ = 0;  // extended sequence numbers
    uint64_t packets_ = 0, decrypted_ = 0, tag_failures_ = 0;           // RTP
    uint64_t rtcp_ = 0, rtcp_decrypted_ = 0, rtcp_tag_failures_ = 0;  // SRTCP
};

struct StreamKey {
    std::string call_id;
    uint32_t ssrc = 0;
    bool operator<(const StreamKey &o) const { return call_id != o.call_id ? call_id < o.call_id : ssrc < o.ssrc; }
};

struct StreamInfo {
    std::string participant;
    std::string slot;  // "audio", "video", ...
    StreamStats stats;
};

// The state of a call as of a frame (marks at or before it), for taps that report per frame and
// must give the same answer on every pass.
call::CallStatus status_at(const call::Call &c, uint32_t frame);

// Seconds from accept to terminate when both were seen, else the signalled duration, else -1.
double call_duration(const call::Call &c);

// Renders the report. Calls known only from media (a key log, no signaling) are listed too. With
// `media`, each call's block also carries what its relay STUN and RTP headers show (relays, RTT,
// XOR addresses, paths, per-stream loss/jitter/bitrate/gaps: InferredCalls::attributed), as a
// call without keys gets, with the relay names its signaling gave.
std::string format_calls_report(const std::deque<call::Call> &calls, const std::map<StreamKey, StreamInfo> &streams,
                                const call::InferredCalls *media = nullptr);

// Renders the calls inferred from keyless relay STUN and media (call/inferred.h): one block per
// call with its grouping confidence, sockets, relays, paths and streams. Times are printed as
// given (the plugin passes seconds since the capture's first frame). Empty string when none.
std::string format_inferred_calls(const std::vector<call::InferredCall> &calls);

}  // namespace wacall::report
