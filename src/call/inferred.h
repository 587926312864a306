// Calls inferred without keys (issue 15 part 2): fed one observation per relay STUN message and
// per WARP RTP packet (time, 5-tuple, STUN type/attributes, RTP SSRC/PT/seq/ts/length), it groups
// them into calls and keeps, per call, the client's media sockets, the relays allocated (RTT,
// XOR-MAPPED / XOR-RELAYED, relay token), the media paths (relay or peer-to-peer, when each
// carried media), the streams (direction, kind, packets, bytes, loss, jitter, gaps) and how sure
// the grouping is.
//
// Grouping (every decision is taken when the observation arrives, so a frame's call index never
// changes afterwards: the same answer on one pass, two passes and random access):
//  - the client side of a STUN exchange is the sender of Allocate / ping requests (the receiver of
//    their responses); the other side is a relay;
//  - an observation joins the call that owns its SSRC, its client socket or its relay token, if
//    that call is still open (traffic within kGapSeconds);
//  - a relay allocation with a relay token the call has not used, after the call's media stopped
//    for kQuietSeconds, starts a new call on the same socket (back-to-back calls);
//  - a client socket no open call owns starts a new call;
//  - media with no relay STUN: the side opposite a relay port (3478/3480) is the client's socket;
//    with neither side on one (peer-to-peer only), the flow's two endpoints stand for the call
//    and the direction stays unknown (confidence "low").
//
// Calls the signaling or the key log named (keyed) get the same details: the dissectors feed the
// STUN and RTP they attributed to a call id to add_stun(call_id, ...) / add_rtp(call_id, ...),
// aggregated per call id with no grouping (the call is known), so that call's single entry in
// -z wacall,calls carries its relays, paths and streams too (issue 15: "the same call appears
// once, merged with its signaling record").
// No Wireshark, no GLib.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace wacall::call {

struct SockEnd {
    uint8_t family = 0;  // 4 or 6; 0 = none
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;
    static SockEnd make(uint8_t family, const uint8_t *a, uint16_t port);  // family 4 or 6
    static SockEnd v4(const uint8_t *a, uint16_t port) { return make(4, a, port); }
    static SockEnd v6(const uint8_t *a, uint16_t port) { return make(6, a, port); }
    bool valid() const { return family != 0; }
    std::string to_string() const;  // "1.2.3.4:3478", "[2001:db8::1]:3478"
    bool operator==(const SockEnd &o) const { return family == o.family && port == o.port && addr == o.addr; }
    bool operator!=(const SockEnd &o) const { return !(*this == o); }
    bool operator<(const SockEnd &o) const {
        return family != o.family ? family < o.family : addr != o.addr ? addr < o.addr : port < o.port;
    }
};
struct SockEndHash {
    size_t operator()(const SockEnd &e) const;
};

// What every observation carries: where and when.
struct Observation {
    uint32_t frame = 0;
    double time = 0;  // seconds (any origin; the report prints them as given)
    SockEnd src, dst;
};

struct StunObservation : Observation {
    uint16_t type = 0;
    std::string txid;          // raw transaction id bytes
    std::string relay_token;   // 0x4000 value bytes; empty when absent
    SockEnd xor_mapped;       // from an Allocate/Binding success
    SockEnd xor_relayed;      // 0x0016 in an Allocate success
};

struct RtpObservation : Observation {
    uint32_t ssrc = 0;
    uint8_t pt = 0;
    uint16_t seq = 0;
    uint32_t ts = 0;
    uint32_t bytes = 0;  // RTP packet length (the UDP payload, less a group envelope in front)
};

// "audio", "video", "app data" or "unknown" by WhatsApp's payload types; clock rate 0 = unknown.
const char *pt_kind(uint8_t pt);
uint32_t pt_clock_rate(uint8_t pt);

enum class StreamDir : uint8_t { Unknown, Sent, Received };
const char *stream_dir_name(StreamDir d);  // "sent", "received", "unknown"

struct InferredStream {
    uint32_t ssrc = 0;
    StreamDir dir = StreamDir::Unknown;
    uint8_t pt = 0;
    uint64_t packets = 0, bytes = 0;
    double first = 0, last = 0;
    uint64_t first_ext = 0, highest_ext = 0;  // extended sequence numbers (RFC 3550 A.1)
    double jitter_s = 0;                      // RFC 3550 A.8, seconds (unknown clock: stays 0)
    bool jitter_known = false;
    uint32_t gaps = 0;                        // arrival gaps >= kGapReportSeconds
    double longest_gap = 0;
    // running state
    double prev_arrival = 0;
    uint32_t prev_ts = 0;
    bool have_transit = false;
    double prev_transit = 0;
    uint64_t expected() const { return packets ? highest_ext - first_ext + 1 : 0; }
    uint64_t lost() const { return expected() > packets ? expected() - packets : 0; }
    double bitrate_bps() const { return last > first ? double(bytes) * 8 / (last - first) : 0; }
};

struct InferredRelay {
    SockEnd address;
    uint32_t allocate_requests = 0, allocate_successes = 0, allocate_errors = 0;
    bool token = false;  // a relay token (0x4000) went to this relay
    SockEnd xor_mapped, xor_relayed;
    std::vector<double> rtts;  // seconds, request → response (Allocate, ping/pong, Binding)
    double first = 0;
};

// A peer-to-peer candidate: STUN Binding checks between the client socket and a non-relay address.
struct PeerCheck {
    SockEnd address;
    uint32_t messages = 0;
    std::vector<double> rtts;
    double first = 0;
};

struct MediaPath {
    SockEnd remote;
    bool relay = false;  // false: peer-to-peer
    double first = 0, last = 0;
    uint64_t packets = 0;
};

struct InferredCall {
    uint32_t index = 0;  // 1-based, in order of first observation
    std::string call_id;  // an attributed (keyed) call's id; empty for a call inferred without keys
    double start = 0, end = 0;
    uint32_t first_frame = 0, last_frame = 0;
    std::vector<SockEnd> local;  // client media sockets, first-seen order
    std::vector<InferredRelay> relays;
    std::vector<PeerCheck> peers;  // STUN connectivity checks with non-relay addresses
    std::vector<MediaPath> paths;  // in order of first media
    std::vector<InferredStream> streams;  // in order of first packet
    std::vector<std::string> tokens;  // relay tokens used
    std::string confidence;  // "high", "medium", "low"
    std::string reason;      // why this call was started apart from the previous one
    double last_media = -1;  // time of the call's latest RTP packet (-1: none yet)
    double duration() const { return end - start; }
    bool has_local(const SockEnd &e) const;
};

class InferredCalls {
public:
    static constexpr double kGapSeconds = 30;       // silence that ends a call
    static constexpr double kQuietSeconds = 2;      // media stopped: a new allocation is a new call
    static constexpr double kGapReportSeconds = 0.3;  // stream gaps reported (silence/DTX or loss)

    // Each returns the observation's 1-based call index (never 0 for STUN/RTP it could place).
    uint32_t add_stun(const StunObservation &o);
    uint32_t add_rtp(const RtpObservation &o);
    // The open call owning a socket of this flow (RTCP, relay text probes): a lookup that starts
    // no call and changes nothing; 0 when none.
    uint32_t call_for_flow(const SockEnd &src, const SockEnd &dst, double t);
    const std::vector<InferredCall> &calls() const { return calls_; }

    // Observations the dissectors attributed to a keyed call (signaling or key log): the same
    // details under the call id, no grouping. confidence/reason stay empty.
    void add_stun(const std::string &call_id, const StunObservation &o);
    void add_rtp(const std::string &call_id, const RtpObservation &o);
    const InferredCall *attributed(const std::string &call_id) const;  // nullptr: nothing seen
    void clear();

private:
    // Per-packet fast path: the last placement of a (src, dst, SSRC), valid
    // while no mapping below changed (generation) and its call is open: the same answer as the
    // lookups, without them.
    struct Hot {
        SockEnd src, dst;
        uint32_t ssrc = 0, call = 0, path = 0, stream = 0, generation = 0;
        StreamDir dir = StreamDir::Unknown;
    };
    struct Pending {
        double time;
        uint32_t call;  // index
        SockEnd relay;
    };
    using PendingMap = std::unordered_map<std::string, Pending>;  // txid → latest request

    // The part shared by inferred and attributed calls: what one STUN message or RTP packet adds
    // to a call once its call and sides are known.
    void record_stun(InferredCall &c, const SockEnd &local, const SockEnd &remote, const StunObservation &o,
                     PendingMap &pending, bool attributed);
    void place_rtp(InferredCall &c, const RtpObservation &o, const SockEnd &local, const SockEnd &remote,
                   StreamDir dir, Hot &hot, uint32_t generation);

    InferredCall *open_call_for_socket(const SockEnd &local, double t);
    InferredCall &new_call(double t, uint32_t frame, const char *confidence, std::string reason);
    void touch(InferredCall &c, double t, uint32_t frame);
    InferredRelay &relay(InferredCall &c, const SockEnd &addr, double t);
    void add_local(InferredCall &c, const SockEnd &e);

    std::vector<InferredCall> calls_;
    std::unordered_map<uint32_t, uint32_t> ssrc_call_;              // SSRC → latest call index
    std::unordered_map<SockEnd, uint32_t, SockEndHash> sock_call_;  // client socket → latest call
    std::unordered_map<SockEnd, uint32_t, SockEndHash> flow_call_;  // endpoint of a call without known client
    std::map<std::string, uint32_t> token_call_;                    // relay token → call
    PendingMap pending_;

    Hot hot_[8];
    uint32_t generation_ = 1;

    // Attributed (keyed) calls, by call id; their own pending requests, fast path and generation
    // (bumped when a call learns a client socket, which changes the direction of its media).
    struct Attributed {
        std::vector<InferredCall> calls;
        std::unordered_map<std::string, uint32_t> index;  // call id → 1-based index in calls
        PendingMap pending;
        Hot hot[8];
        uint32_t generation = 1;
    };
    Attributed keyed_;
    InferredCall &attributed_call(const std::string &call_id, const Observation &o);
    void update_media(InferredCall &c, const RtpObservation &o, StreamDir dir, uint32_t path, uint32_t stream);
};

}  // namespace wacall::call
