#include "noise/session.h"

#include <cstring>

namespace wacall::noise {

const char *frame_status_name(FrameStatus s) {
    switch (s) {
    case FrameStatus::Handshake: return "handshake";
    case FrameStatus::Decrypted: return "decrypted";
    case FrameStatus::NoKey: return "no key";
    case FrameStatus::BadTag: return "AES-GCM tag check failed";
    case FrameStatus::TooShort: return "shorter than the GCM tag";
    }
    return "?";
}

Session::Session(KeySource &keys, uint32_t midstream_counters) : keys_(keys), midstream_counters_(midstream_counters) {}

Session::Session(KeySource &keys, ByteView prologue, int dict_version, uint32_t midstream_counters)
    : Session(keys, midstream_counters) {
    prologue_.assign(prologue.begin(), prologue.end());
    dict_version_ = dict_version;
}

std::optional<Key32> Session::client_ephemeral() const {
    if (!have_eph_) return std::nullopt;
    return client_eph_;
}

void Session::set_keys(const Key32 &c2s, const Key32 &s2c) {
    cipher_[C2S].set_key(ByteView(c2s.data(), 32));
    cipher_[S2C].set_key(ByteView(s2c.data(), 32));
}

// Looks the session's keys up (again) when the key log changed since the last try.
// A WA_NOISE_TRAFFIC session keeps looking until a frame authenticates: a corrected line may be
// appended to the key log while the capture is open.
void Session::ensure_keys() {
    if (!have_eph_ || authenticated_ || key_source_ == KeyOrigin::Replay) return;
    keys_.refresh();
    if (keys_.generation() != looked_up_generation_) {
        looked_up_generation_ = keys_.generation();
        auto traffic = keys_.traffic_candidates(ByteView(client_eph_.data(), 32));
        if (!traffic.empty()) {
            traffic_alts_.clear();
            for (const auto *t : traffic) traffic_alts_.push_back(*t);
            if (key_source_ == KeyOrigin::Traffic) return;  // the key in use stays until another authenticates
            set_keys(traffic[0]->c2s, traffic[0]->s2c);
            key_source_ = KeyOrigin::Traffic;
            key_line_ = traffic[0]->line;
            return;
        }
    }
    if (key_source_ != KeyOrigin::None) return;
    // The replay's keys exist from the ServerHello on, whenever that was (not tied to the key log).
    if (replay_) {
        const auto &r = replay_->result();
        if (r.keys) {
            set_keys(r.keys->c2s, r.keys->s2c);
            key_source_ = KeyOrigin::Replay;
        }
    }
}

// First pass over a handshake frame: remembers what the replay and the frame roles need.
void Session::track_handshake(const HandshakeMessage &m, ByteView body) {
    switch (m.kind) {
    case HandshakeKind::ClientHello:
        if (m.ephemeral.present && m.ephemeral.data.size == 32) {
            std::memcpy(client_eph_.data(), m.ephemeral.data.data, 32);
            have_eph_ = true;
        }
        client_hello_bytes_.assign(body.begin(), body.end());
        client_hello_msg_ = parse_handshake(client_hello_bytes_);
        keys_.refresh();
        if (have_eph_) {
            for (const auto *p : keys_.private_candidates(ByteView(client_eph_.data(), 32))) {
                ReplayKeys k;
                k.client_ephemeral_private = p->eph_priv;
                k.client_static_private = p->static_priv;
                auto r = std::make_unique<HandshakeReplay>(k, prologue_);
                r->on_client_hello(client_hello_msg_);
                if (!replay_) {
                    replay_ = std::move(r);
                    key_line_ = p->line;
                } else {
                    replay_alts_.emplace_back(p->line, std::move(r));
                }
            }
        }
        break;
    case HandshakeKind::ServerHello:
        server_sent_static_ = m.static_key.present;
        if (replay_) {
            // Differing WA_NOISE_PRIVATE lines: the replay whose ServerHello decrypts wins.
            bool ok = replay_->on_server_hello(m);
            for (auto &a : replay_alts_)
                if (!ok && a.second->on_server_hello(m)) {
                    std::swap(replay_, a.second);
                    std::swap(key_line_, a.first);
                    ok = true;
                }
            if (ok && !replay_alts_.empty())
                keys_.report_used(key_line_, "WA_NOISE_PRIVATE authenticated the Noise handshake (" +
                                                 std::to_string(replay_alts_.size() + 1) +
                                                 " differing values were tried)");
            replay_alts_.clear();
        }
        break;
    case HandshakeKind::ClientFinish:
        if (replay_) replay_->on_client_finish(m);
        break;
    default:
        break;
    }
}

// Is this frame (the n-th in its direction) a handshake message?
bool Session::is_handshake_frame(Dir dir, unsigned n) const {
    if (n == 0) return true;  // ClientHello / ServerHello
    // XX and XXfallback: the client's 2nd frame is ClientFinish. IK accepted: it is transport.
    return dir == C2S && n == 1 && server_sent_static_;
}

// A capture that lost whole frames (a missing TCP segment) shifts the counter: try the next few
// counters, and adopt one only if its GCM tag verifies.
bool Session::resync(Dir dir, FrameVerdict &v, ByteView body, uint8_t *out) {
    for (uint32_t skip = 1; skip <= kResyncWindow; skip++) {
        if (cipher_[dir].decrypt(v.counter + skip, body, out)) {
            v.skipped = skip;
            v.counter += skip;
            counter_[dir] = v.counter + 1;
            return true;
        }
    }
    return false;
}

// Differing WA_NOISE_TRAFFIC lines: until a frame authenticates, each is tried on a frame the key
// in use fails; the first whose tag verifies becomes the session's key.
bool Session::try_traffic_alts(Dir dir, uint32_t counter, ByteView body, uint8_t *out) {
    if (authenticated_ || key_source_ != KeyOrigin::Traffic || traffic_alts_.size() < 2) return false;
    for (const auto &t : traffic_alts_) {
        TransportCipher c;
        c.set_key(ByteView(dir == C2S ? t.c2s.data() : t.s2c.data(), 32));
        if (!c.decrypt(counter, body, out)) continue;
        set_keys(t.c2s, t.s2c);
        key_line_ = t.line;
        return true;
    }
    return false;
}

// The first decrypted frame settles the key; with disagreeing lines, the one used is reported.
void Session::settle_key() {
    if (authenticated_) return;
    authenticated_ = true;
    if (key_source_ == KeyOrigin::Traffic && traffic_alts_.size() >= 2)
        keys_.report_used(key_line_, "WA_NOISE_TRAFFIC authenticated the Noise session (" +
                                         std::to_string(traffic_alts_.size()) + " differing values were tried)");
}

FrameResult Session::first_pass(Dir dir, ByteView body, const TcpPlace *place) {
    FrameResult res;
    FrameVerdict &v = res.verdict;
    v.dir = dir;
    unsigned n = frames_seen_[dir]++;
    if (is_handshake_frame(dir, n)) {
        v.kind = FrameKind::Handshake;
        v.status = FrameStatus::Handshake;
        HandshakeMessage m = parse_handshake(body);
        v.hs_kind = m.kind;
        track_handshake(m, body);
        return res;
    }
    v.kind = FrameKind::Transport;
    if (counter_unknown_[dir] && body.size >= kTagSize) {
        // Mid-stream session: this direction's counter is found by trial (the GCM tag decides).
        scratch_.resize(body.size);
        for (uint32_t c = 0; c < midstream_counters_; c++) {
            if (cipher_[dir].decrypt(c, body, scratch_.data())) {
                counter_[dir] = c;
                counter_unknown_[dir] = false;
                v.midstream = true;
                break;
            }
        }
    }
    // A frame of a TCP gap that was skipped earlier: its counter was set aside when the gap was.
    auto gap = place && place->late_for ? gap_counter_[dir].find(place->late_for) : gap_counter_[dir].end();
    const bool late = gap != gap_counter_[dir].end();
    v.counter = late ? gap->second++ : counter_[dir]++;
    ensure_keys();
    v.key_source = key_source_;
    if (body.size < kTagSize) {
        v.status = FrameStatus::TooShort;
    } else if (!cipher_[dir].valid()) {
        v.status = FrameStatus::NoKey;
    } else if (counter_unknown_[dir]) {
        v.status = FrameStatus::BadTag;  // no counter in the search window authenticated
    } else {
        res.plaintext.resize(body.size - kTagSize);
        // An empty plaintext still needs a valid pointer (nothing is written to it).
        if (scratch_.empty()) scratch_.resize(1);
        uint8_t *out = res.plaintext.empty() ? scratch_.data() : res.plaintext.data();
        if (cipher_[dir].decrypt(v.counter, body, out) || try_traffic_alts(dir, v.counter, body, out) ||
            (!late && resync(dir, v, body, out))) {
            v.status = FrameStatus::Decrypted;
            settle_key();
            v.key_line = key_source_ == KeyOrigin::Traffic ? key_line_ : 0;
        } else {
            v.status = FrameStatus::BadTag;
            res.plaintext.clear();  // never show unauthenticated bytes
        }
    }
    // The counters skipped before the first frame after a gap belong to the gap's frames.
    if (place && place->gap_before) gap_counter_[dir][place->gap_before] = v.counter - v.skipped;
    return res;
}

std::optional<Bytes> Session::replay(const FrameVerdict &v, ByteView body) {
    // Once a frame decrypted the key is settled, so the session's cipher is the one that did.
    if (v.kind != FrameKind::Transport || v.status != FrameStatus::Decrypted || body.size < kTagSize ||
        !cipher_[v.dir].valid())
        return std::nullopt;
    Bytes out(body.size - kTagSize);
    if (scratch_.empty()) scratch_.resize(1);
    if (!cipher_[v.dir].decrypt(v.counter, body, out.empty() ? scratch_.data() : out.data())) return std::nullopt;
    return out;
}

std::unique_ptr<Session> Session::pick_up_midstream(KeySource &keys, Dir dir, ByteView body,
                                                    uint32_t midstream_counters) {
    if (body.size < kTagSize) return nullptr;
    Bytes tmp(body.size);
    for (const auto *t : keys.all_traffic()) {
        TransportCipher tc;
        tc.set_key(ByteView(dir == C2S ? t->c2s.data() : t->s2c.data(), 32));
        for (uint32_t c = 0; c < midstream_counters; c++) {
            if (!tc.decrypt(c, body, tmp.data())) continue;
            std::unique_ptr<Session> s(new Session(keys, midstream_counters));
            s->dict_version_ = 3;  // no intro to say: the current dictionary
            s->have_eph_ = true;
            s->client_eph_ = t->client_eph_pub;
            s->frames_seen_[C2S] = s->frames_seen_[S2C] = 2;  // past the handshake
            s->set_keys(t->c2s, t->s2c);
            s->key_source_ = KeyOrigin::Traffic;
            s->key_line_ = t->line;
            s->midstream_ = true;
            s->counter_unknown_[C2S] = s->counter_unknown_[S2C] = true;
            return s;
        }
    }
    return nullptr;
}

std::optional<ByteView> midstream_candidate(ByteView seg) {
    if (seg.size < 3 + kTagSize) return std::nullopt;
    ByteView smallest;
    for (size_t pos = 0; pos < seg.size;) {
        if (pos + 3 > seg.size) return std::nullopt;
        size_t len = be24(seg.data + pos);
        if (len < kTagSize || pos + 3 + len > seg.size) return std::nullopt;
        if (!smallest.data || len < smallest.size) smallest = seg.sub(pos + 3, len);
        pos += 3 + len;
    }
    return smallest;
}

// ---- raw TCP ------------------------------------------------------------------------------------

// With a key only a GCM tag that verifies at a counter ahead says yes. Without one nothing can be
// decrypted anyway: whole frames that fill the buffered bytes exactly are taken as the stream's
// framing, so the frames after a loss are still shown.
bool Session::frame_resumes_after_gap(Dir dir, ByteView frame, bool tiles) {
    if (frames_seen_[dir] == 0) return false;  // the handshake message itself is missing
    ensure_keys();
    if (!cipher_[dir].valid()) return tiles && !replay_ && key_source_ == KeyOrigin::None;
    if (counter_unknown_[dir] || frame.size < 3 + kTagSize) return false;
    ByteView body = frame.sub(3);
    scratch_.resize(body.size);
    for (uint32_t skip = 1; skip <= kResyncWindow; skip++)
        if (cipher_[dir].decrypt(counter_[dir] + skip, body, scratch_.data())) return true;
    return false;
}

// The client's frames after its ClientHello need the ServerHello first (the replay, the
// handshake/transport roles): when reordering completes them earlier, they wait for it. Only
// while the server's first bytes are in the capture but not yet whole: a capture of the client
// side alone never gets a ServerHello.
bool Session::server_hello_pending() const {
    const auto &st = tcp_[S2C];
    return tcp_fed_[S2C] == 0 && st && (st->buffered() > 0 || st->head().size > 0);
}

void Session::handshake_order(std::vector<DirFrame> &fs) {
    std::vector<DirFrame> out;
    for (auto &f : fs) {
        const Dir d = f.second;
        if (d == C2S && !midstream_ && tcp_fed_[C2S] >= 1 && tcp_held_.size() < kMaxHeld &&
            (server_hello_pending() || !tcp_held_.empty())) {
            tcp_held_.push_back(std::move(f.first));
            continue;
        }
        tcp_fed_[d]++;
        out.push_back(std::move(f));
        if (d == S2C && !tcp_held_.empty()) {
            for (auto &h : tcp_held_) out.emplace_back(std::move(h), C2S);
            tcp_fed_[C2S] += static_cast<unsigned>(tcp_held_.size());
            tcp_held_.clear();
        }
    }
    fs = std::move(out);
}

void Session::adopt_stream(Dir dir, std::unique_ptr<TcpFrameStream> st) { tcp_[dir] = std::move(st); }

TcpFeed Session::feed_tcp(Dir dir, uint32_t seq, ByteView data, std::optional<uint32_t> client_start_seq) {
    if (!tcp_[dir]) {
        const bool has_intro = client_start_seq.has_value();  // not a mid-stream pickup
        // With relative sequence numbers and the SYNs seen, both directions' data start at 1.
        uint32_t start = dir == C2S && has_intro ? *client_start_seq : has_intro && *client_start_seq == 1 ? 1 : seq;
        tcp_[dir] = std::make_unique<TcpFrameStream>(start, dir == C2S && has_intro);
    }
    TcpFeed feed;
    feed.segment = tcp_[dir]->add(seq, data, [this, dir](ByteView f, bool tiles) {
        return frame_resumes_after_gap(dir, f, tiles);
    });
    for (auto &f : feed.segment.frames) feed.frames.emplace_back(std::move(f), dir);
    feed.segment.frames.clear();
    handshake_order(feed.frames);
    return feed;
}

}  // namespace wacall::noise
