#include "call/inferred.h"

#include "media/rtp.h"
#include "media/stun.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace wacall::call {

SockEnd SockEnd::make(uint8_t family, const uint8_t *a, uint16_t port) {
    SockEnd e;
    e.family = family;
    std::memcpy(e.addr.data(), a, family == 4 ? 4 : 16);
    e.port = port;
    return e;
}

// inet_ntop writes RFC 5952 text for IPv6 (lower case, "::" for the longest zero run), as the
// call registry's endpoints (call.cpp) do.
std::string SockEnd::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    if (family != 4 && family != 6) return "unknown";
    if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf)) return "unknown";
    const std::string port_text = ":" + std::to_string(port);
    return family == 4 ? buf + port_text : "[" + std::string(buf) + "]" + port_text;
}

size_t SockEndHash::operator()(const SockEnd &e) const {
    uint64_t h = 1469598103934665603ull ^ e.family;
    for (uint8_t b : e.addr) h = (h ^ b) * 1099511628211ull;
    return size_t((h ^ e.port) * 1099511628211ull);
}

const char *pt_kind(uint8_t pt) {
    switch (pt) {
    case 120: case 121: case 111: return "audio";
    case 97: case 102: case 103: return "video";
    case 119: return "app data";
    default: return "unknown";
    }
}

uint32_t pt_clock_rate(uint8_t pt) {
    switch (pt) {
    case 120: case 121: return 16000;
    case 111: return 48000;
    case 97: case 102: case 103: return 90000;
    default: return 0;
    }
}

const char *stream_dir_name(StreamDir d) {
    return d == StreamDir::Sent ? "sent" : d == StreamDir::Received ? "received" : "unknown";
}

bool InferredCall::has_local(const SockEnd &e) const { return std::find(local.begin(), local.end(), e) != local.end(); }

void InferredCalls::clear() {
    calls_.clear();
    ssrc_call_.clear();
    sock_call_.clear();
    flow_call_.clear();
    token_call_.clear();
    pending_.clear();
    for (auto &h : hot_) h = Hot();
    generation_ = 1;
    keyed_ = Attributed();
}

InferredCall &InferredCalls::new_call(double t, uint32_t frame, const char *confidence, std::string reason) {
    calls_.emplace_back();
    InferredCall &c = calls_.back();
    c.index = static_cast<uint32_t>(calls_.size());
    c.start = c.end = t;
    c.first_frame = c.last_frame = frame;
    c.confidence = confidence;
    c.reason = std::move(reason);
    return c;
}

void InferredCalls::touch(InferredCall &c, double t, uint32_t frame) {
    c.start = std::min(c.start, t);
    c.end = std::max(c.end, t);
    c.first_frame = std::min(c.first_frame, frame);
    c.last_frame = std::max(c.last_frame, frame);
}

void InferredCalls::add_local(InferredCall &c, const SockEnd &e) {
    if (!c.has_local(e)) c.local.push_back(e);
    uint32_t &owner = sock_call_[e];
    if (owner != c.index) generation_++;
    owner = c.index;
}

InferredRelay &InferredCalls::relay(InferredCall &c, const SockEnd &addr, double t) {
    for (auto &r : c.relays)
        if (r.address == addr) return r;
    c.relays.emplace_back();
    c.relays.back().address = addr;
    c.relays.back().first = t;
    return c.relays.back();
}

InferredCall *InferredCalls::open_call_for_socket(const SockEnd &local, double t) {
    auto it = sock_call_.find(local);
    if (it == sock_call_.end()) return nullptr;
    InferredCall &c = calls_[it->second - 1];
    return t - c.end <= kGapSeconds ? &c : nullptr;
}

namespace {

bool is_relay_port(uint16_t p) { return p == 3478 || p == 3480; }

// Requests and indications the client sends (Allocate, Refresh, ping); Binding requests come from
// either side, so they are placed by the sockets already known.
bool client_request(uint16_t type) { return type == 0x0003 || type == 0x0004 || type == 0x0801; }
bool client_response(uint16_t type) {
    return type == 0x0103 || type == 0x0113 || type == 0x0104 || type == 0x0114 || type == 0x0802;
}
bool is_response(uint16_t type) { return media::stun_is_response(type); }

std::string secs(double s) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.1f", s);
    return buf;
}

}  // namespace

namespace {

// Which side of a STUN message is the client (local) and which the relay or peer; `known` says
// whether a socket is already a client socket of the calls in question.
template <class Known>
void stun_sides(const StunObservation &o, Known known, SockEnd &local, SockEnd &remote) {
    if (client_request(o.type)) {
        local = o.src, remote = o.dst;
    } else if (client_response(o.type)) {
        local = o.dst, remote = o.src;
    } else if (known(o.src)) {
        local = o.src, remote = o.dst;
    } else if (known(o.dst)) {
        local = o.dst, remote = o.src;
    } else if (is_relay_port(o.src.port) != is_relay_port(o.dst.port)) {
        bool src_relay = is_relay_port(o.src.port);
        local = src_relay ? o.dst : o.src, remote = src_relay ? o.src : o.dst;
    } else {
        local = o.src, remote = o.dst;  // a request from an unknown pair: the sender is taken as client
    }
}

}  // namespace

uint32_t InferredCalls::add_stun(const StunObservation &o) {
    SockEnd local, remote;
    stun_sides(o, [this](const SockEnd &e) { return sock_call_.count(e) != 0; }, local, remote);

    InferredCall *c = nullptr;
    const bool allocate = o.type == 0x0003;
    if (is_response(o.type)) {  // a response belongs where its request went
        auto it = pending_.find(o.txid);
        if (it != pending_.end()) c = &calls_[it->second.call - 1];
    }
    if (!c && !o.relay_token.empty()) {
        auto it = token_call_.find(o.relay_token);
        if (it != token_call_.end() && o.time - calls_[it->second - 1].end <= kGapSeconds) c = &calls_[it->second - 1];
    }
    if (!c) {
        c = open_call_for_socket(local, o.time);
        // A relay allocation with a token this call never used, after its media stopped: the next
        // call on the same socket.
        if (c && allocate && !o.relay_token.empty() && !c->tokens.empty() && c->last_media >= 0 &&
            o.time - c->last_media >= kQuietSeconds &&
            std::find(c->tokens.begin(), c->tokens.end(), o.relay_token) == c->tokens.end()) {
            std::string why = "same client socket, new relay allocation with a new relay token ";
            why += secs(o.time - c->last_media);
            why += " s after the previous call's media stopped";
            c = &new_call(o.time, o.frame, "medium", std::move(why));
        }
    }
    if (!c) {
        bool first = calls_.empty();
        std::string why = first ? "first relay allocation in the capture" : "new client media socket ";
        if (!first) {
            why += local.to_string();
            auto it = sock_call_.find(local);
            if (it != sock_call_.end()) {
                why = std::string("client socket silent for ") + secs(o.time - calls_[it->second - 1].end) +
                      " s (over " + secs(kGapSeconds) + " s)";
            }
        }
        c = &new_call(o.time, o.frame, first || !sock_call_.count(local) ? "high" : "medium", std::move(why));
    }
    record_stun(*c, local, remote, o, pending_, false);
    return c->index;
}

void InferredCalls::record_stun(InferredCall &c, const SockEnd &local, const SockEnd &remote, const StunObservation &o,
                                PendingMap &pending, bool attributed) {
    touch(c, o.time, o.frame);
    if (attributed) {
        if (!c.has_local(local)) {
            c.local.push_back(local);
            keyed_.generation++;
        }
    } else {
        add_local(c, local);
    }
    const bool allocate = o.type == 0x0003;
    // A relay: the client allocates on it or pings it, or it listens on a relay port. Anything
    // else is a connectivity check with a peer (the peer-to-peer path).
    bool to_relay = client_request(o.type) || client_response(o.type) || is_relay_port(remote.port);
    for (const auto &x : c.relays) to_relay = to_relay || x.address == remote;
    std::vector<double> *rtts;
    if (to_relay) {
        InferredRelay &r = relay(c, remote, o.time);
        if (!o.relay_token.empty()) {
            r.token = true;
            if (std::find(c.tokens.begin(), c.tokens.end(), o.relay_token) == c.tokens.end())
                c.tokens.push_back(o.relay_token);
            if (!attributed) token_call_[o.relay_token] = c.index;
        }
        if (allocate) r.allocate_requests++;
        if (o.type == 0x0103) r.allocate_successes++;
        if (o.type == 0x0113) r.allocate_errors++;
        if (o.xor_mapped.valid() && local == o.dst) r.xor_mapped = o.xor_mapped;
        if (o.xor_relayed.valid()) r.xor_relayed = o.xor_relayed;
        rtts = &r.rtts;
    } else {
        PeerCheck *p = nullptr;
        for (auto &x : c.peers)
            if (x.address == remote) p = &x;
        if (!p) {
            c.peers.emplace_back();
            p = &c.peers.back();
            p->address = remote;
            p->first = o.time;
        }
        p->messages++;
        rtts = &p->rtts;
    }
    if (is_response(o.type)) {
        auto it = pending.find(o.txid);
        if (it != pending.end() && it->second.call == c.index) {
            rtts->push_back(o.time - it->second.time);
            pending.erase(it);
        }
    } else if (!o.txid.empty()) {
        pending[o.txid] = Pending{o.time, c.index, remote};
    }
}

uint32_t InferredCalls::call_for_flow(const SockEnd &src, const SockEnd &dst, double t) {
    for (const SockEnd *e : {&src, &dst})
        if (InferredCall *c = open_call_for_socket(*e, t)) return c->index;
    for (const SockEnd *e : {&src, &dst}) {
        auto it = flow_call_.find(*e);
        if (it != flow_call_.end() && t - calls_[it->second - 1].end <= kGapSeconds) return it->second;
    }
    return 0;
}

uint32_t InferredCalls::add_rtp(const RtpObservation &o) {
    Hot &hot = hot_[(o.ssrc ^ (o.ssrc >> 16) ^ o.src.port ^ o.dst.port) & 7];
    if (hot.generation == generation_ && hot.ssrc == o.ssrc && hot.src == o.src && hot.dst == o.dst &&
        o.time - calls_[hot.call - 1].end <= kGapSeconds) {
        InferredCall &c = calls_[hot.call - 1];
        update_media(c, o, hot.dir, hot.path, hot.stream);
        return c.index;
    }
    InferredCall *c = nullptr;
    SockEnd local, remote;
    StreamDir dir = StreamDir::Unknown;
    // The client side: a socket a call owns (from STUN or earlier media).
    InferredCall *by_src = open_call_for_socket(o.src, o.time), *by_dst = open_call_for_socket(o.dst, o.time);
    if (by_src) {
        c = by_src, local = o.src, remote = o.dst, dir = StreamDir::Sent;
    } else if (by_dst) {
        c = by_dst, local = o.dst, remote = o.src, dir = StreamDir::Received;
    }
    auto sit = ssrc_call_.find(o.ssrc);
    if (!c && sit != ssrc_call_.end() && o.time - calls_[sit->second - 1].end <= kGapSeconds) c = &calls_[sit->second - 1];
    if (!c && is_relay_port(o.src.port) != is_relay_port(o.dst.port)) {
        // No allocation seen, but one side is on a relay port: the other is the client's socket.
        const bool src_relay = is_relay_port(o.src.port);
        local = src_relay ? o.dst : o.src, remote = src_relay ? o.src : o.dst;
        dir = src_relay ? StreamDir::Received : StreamDir::Sent;
        std::string why = (calls_.empty() ? "media only, no relay allocation seen: client socket " : "new client media socket ") +
                          local.to_string() + " (the side opposite the relay port" +
                          (calls_.empty() ? ")" : "; media only, no relay allocation seen)");
        c = &new_call(o.time, o.frame, "medium", std::move(why));
        add_local(*c, local);
    }
    if (!c) {  // media with no STUN seen: the flow's endpoints stand for the call
        for (const SockEnd *e : {&o.src, &o.dst}) {
            auto it = flow_call_.find(*e);
            if (it != flow_call_.end() && o.time - calls_[it->second - 1].end <= kGapSeconds) {
                c = &calls_[it->second - 1];
                break;
            }
        }
    }
    if (!c) {
        std::string why = calls_.empty() ? "media only: no relay allocation seen; grouped by flow and SSRC"
                                         : "media only, on a flow no open call uses; grouped by flow and SSRC";
        c = &new_call(o.time, o.frame, "low", std::move(why));
    }
    if (!local.valid()) {
        for (const SockEnd *e : {&o.src, &o.dst}) {
            uint32_t &f = flow_call_[*e];
            if (f != c->index) generation_++;
            f = c->index;
        }
    }
    uint32_t &owner = ssrc_call_[o.ssrc];
    if (owner != c->index) generation_++;
    owner = c->index;

    place_rtp(*c, o, local, remote, dir, hot, generation_);
    return c->index;
}

// The call's path (by the remote end, when the client side is known) and stream (by SSRC) of an
// RTP packet, remembered in the fast path, then the packet's numbers.
void InferredCalls::place_rtp(InferredCall &c, const RtpObservation &o, const SockEnd &local, const SockEnd &remote,
                              StreamDir dir, Hot &hot, uint32_t generation) {
    uint32_t path = UINT32_MAX;
    if (local.valid()) {
        for (uint32_t i = 0; i < c.paths.size(); i++)
            if (c.paths[i].remote == remote) path = i;
        if (path == UINT32_MAX) {
            bool relay = is_relay_port(remote.port);
            for (const auto &r : c.relays) relay = relay || r.address == remote;
            path = static_cast<uint32_t>(c.paths.size());
            c.paths.emplace_back();
            c.paths.back().remote = remote;
            c.paths.back().relay = relay;
            c.paths.back().first = c.paths.back().last = o.time;
        }
    }
    uint32_t stream = UINT32_MAX;
    for (uint32_t i = 0; i < c.streams.size(); i++)
        if (c.streams[i].ssrc == o.ssrc) stream = i;
    if (stream == UINT32_MAX) {
        stream = static_cast<uint32_t>(c.streams.size());
        c.streams.emplace_back();
        InferredStream &s = c.streams.back();
        s.ssrc = o.ssrc;
        s.dir = dir;
        s.pt = o.pt;
        s.first = s.last = s.prev_arrival = o.time;
        s.first_ext = s.highest_ext = 0x10000u + o.seq;
        s.packets = 0;
    } else if (c.streams[stream].dir == StreamDir::Unknown) {
        c.streams[stream].dir = dir;
    }
    hot.src = o.src, hot.dst = o.dst, hot.ssrc = o.ssrc, hot.call = c.index, hot.path = path, hot.stream = stream;
    hot.dir = dir, hot.generation = generation;
    update_media(c, o, dir, path, stream);
}

// ---- attributed (keyed) calls ---------------------------------------------------------------------

InferredCall &InferredCalls::attributed_call(const std::string &call_id, const Observation &o) {
    uint32_t &i = keyed_.index[call_id];
    if (!i) {
        keyed_.calls.emplace_back();
        InferredCall &c = keyed_.calls.back();
        c.index = i = static_cast<uint32_t>(keyed_.calls.size());
        c.call_id = call_id;
        c.start = c.end = o.time;
        c.first_frame = c.last_frame = o.frame;
    }
    return keyed_.calls[i - 1];
}

void InferredCalls::add_stun(const std::string &call_id, const StunObservation &o) {
    InferredCall &c = attributed_call(call_id, o);
    SockEnd local, remote;
    stun_sides(o, [&c](const SockEnd &e) { return c.has_local(e); }, local, remote);
    record_stun(c, local, remote, o, keyed_.pending, true);
}

void InferredCalls::add_rtp(const std::string &call_id, const RtpObservation &o) {
    Hot &hot = keyed_.hot[(o.ssrc ^ (o.ssrc >> 16) ^ o.src.port ^ o.dst.port) & 7];
    if (hot.generation == keyed_.generation && hot.ssrc == o.ssrc && hot.src == o.src && hot.dst == o.dst &&
        keyed_.calls[hot.call - 1].call_id == call_id) {
        update_media(keyed_.calls[hot.call - 1], o, hot.dir, hot.path, hot.stream);
        return;
    }
    InferredCall &c = attributed_call(call_id, o);
    // The client side: a socket the call's relay STUN showed, else the side opposite a relay port.
    SockEnd local, remote;
    StreamDir dir = StreamDir::Unknown;
    if (c.has_local(o.src)) {
        local = o.src, remote = o.dst, dir = StreamDir::Sent;
    } else if (c.has_local(o.dst)) {
        local = o.dst, remote = o.src, dir = StreamDir::Received;
    } else if (is_relay_port(o.src.port) != is_relay_port(o.dst.port)) {
        const bool src_relay = is_relay_port(o.src.port);
        local = src_relay ? o.dst : o.src, remote = src_relay ? o.src : o.dst;
        dir = src_relay ? StreamDir::Received : StreamDir::Sent;
        c.local.push_back(local);
        keyed_.generation++;
    }
    place_rtp(c, o, local, remote, dir, hot, keyed_.generation);
}

const InferredCall *InferredCalls::attributed(const std::string &call_id) const {
    auto it = keyed_.index.find(call_id);
    return it == keyed_.index.end() ? nullptr : &keyed_.calls[it->second - 1];
}

void InferredCalls::update_media(InferredCall &c, const RtpObservation &o, StreamDir, uint32_t path, uint32_t stream) {
    touch(c, o.time, o.frame);
    c.last_media = std::max(c.last_media, o.time);
    if (path != UINT32_MAX) {
        MediaPath &p = c.paths[path];
        p.first = std::min(p.first, o.time);
        p.last = std::max(p.last, o.time);
        p.packets++;
    }
    InferredStream &s = c.streams[stream];
    if (s.packets) {
        uint64_t cand = media::extend_seq(s.highest_ext, o.seq);
        if (cand > s.highest_ext) s.highest_ext = cand;
        if (cand < s.first_ext) s.first_ext = cand;
        double gap = o.time - s.prev_arrival;
        if (gap >= kGapReportSeconds) {
            s.gaps++;
            s.longest_gap = std::max(s.longest_gap, gap);
        }
        s.last = std::max(s.last, o.time);
    }
    s.packets++;
    s.bytes += o.bytes;
    // Interarrival jitter (RFC 3550 A.8) with the payload type's clock, in arrival order.
    if (uint32_t rate = pt_clock_rate(o.pt)) {
        double transit = o.time - double(o.ts) / rate;
        if (s.have_transit) {
            double d = transit - s.prev_transit;
            // RTP timestamps wrap at 2^32: bring d back into range.
            const double wrap = 4294967296.0 / rate;
            if (d > wrap / 2 || d < -wrap / 2) d = std::remainder(d, wrap);
            s.jitter_s += (std::fabs(d) - s.jitter_s) / 16;
        }
        s.prev_transit = transit;
        s.have_transit = true;
        s.jitter_known = true;
    }
    s.prev_arrival = o.time;
    s.prev_ts = o.ts;
}

}  // namespace wacall::call
