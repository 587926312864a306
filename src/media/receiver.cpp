#include "media/receiver.h"


#include <cstring>
#include <set>

namespace wacall::media {

namespace {

// A capture that starts mid-call meets each stream at an unknown ROC (it grows every 65536
// packets: ~22 minutes of 50 pps audio). Until a stream's first packet authenticates, ROCs up to
// this bound are tried too.
constexpr uint32_t kMaxInitialRoc = 15;
// The ROC search runs for the first few packets of a stream only, so a stream that never
// authenticates (wrong key) costs one attempt per packet, not sixteen.
constexpr unsigned kRocSearchPackets = 8;

}  // namespace

const char *receive_status_name(ReceiveStatus s) {
    switch (s) {
    case ReceiveStatus::Unattributed: return "unattributed";
    case ReceiveStatus::NoKey: return "no key";
    case ReceiveStatus::Good: return "good";
    case ReceiveStatus::BadTag: return "bad tag";
    case ReceiveStatus::Malformed: return "malformed";
    case ReceiveStatus::NoHbhKey: return "no hop-by-hop key";
    case ReceiveStatus::HbhBad: return "bad hop-by-hop tag";
    }
    return "?";
}

MediaReceiver::~MediaReceiver() {
    if (index_) g_hash_table_destroy(index_);
}

bool MediaReceiver::keys_stable() const { return src_.keys_clears() == clears_at_reset_; }

void MediaReceiver::reset() {
    clears_at_reset_ = src_.keys_clears();
    keys_gen_ = calls_gen_ = keylog_gen_[0] = keylog_gen_[1] = ~uint64_t(0);
    by_ssrc_.clear();
    if (index_) g_hash_table_remove_all(index_);
    shared_.clear();
    pairs_.clear();
    derived_.clear();
    streams_.clear();
    keys_.clear();
    participants_.clear();
    hbh_.clear();
    sframe_.clear();
    calls_.clear();
    strings_.clear();  // last: the maps above refer into it
}

E2EOptions MediaReceiver::e2e_options(unsigned tag_len) const {
    E2EOptions o;
    o.tag_len = tag_len;
    o.tag_key = opt_.tag_key;
    o.iv_layout = opt_.iv_layout;
    return o;
}

// ---- calls, participants, SSRCs --------------------------------------------------------------

std::vector<std::string> MediaReceiver::participants(const std::string &call_id) const {
    std::vector<std::string> out;
    std::set<std::string> seen;
    auto add = [&](const std::string &p) {
        if (!p.empty() && seen.insert(p).second) out.push_back(p);
    };
    if (auto c = src_.signaled_call(call_id))
        if (c->participants)
            for (const auto &p : *c->participants) add(p);
    for (const auto &p : src_.keylog_participants(call_id)) add(p);
    return out;
}

// Cached until the call registry or the key log changes: try_sframe asks on every decrypted
// packet, and building the list (a std::set and copies) cost ~2,300 instructions per packet.
const std::vector<std::string> &MediaReceiver::participants_cached(const std::string &call_id) {
    Participants &p = participants_[call_id];
    uint64_t cg = src_.calls_generation(), kg = src_.keys_generation();
    if (p.calls_gen != cg || p.keys_gen != kg) {
        p.list = participants(call_id);
        p.calls_gen = cg;
        p.keys_gen = kg;
    }
    return p.list;
}

// SSRCs are HKDF(call-id, participant, slot): every (call, participant) pair known from the
// decrypted signaling or the key log gives nine of them. Signaling changes the registry on every
// stanza, so only the registry's calls are revisited then. The key log's calls (possibly
// thousands, most of them not in this capture) are derived only when an SSRC is not found among
// the signaled calls, audio streams first. Streams already derived are skipped.
void MediaReceiver::add_signaled_streams() {
    uint64_t cg = src_.calls_generation(), kg = src_.keys_generation();
    if (cg == calls_gen_ && kg == keys_gen_) return;
    calls_gen_ = cg;
    keys_gen_ = kg;  // the key log may name more participants of a signaled call
    for (const auto &id : src_.signaled_call_ids()) add_streams(id, SsrcDeriver::kAllSlots);
}

bool MediaReceiver::add_keylog_streams(int tier) {
    uint64_t kg = src_.keys_generation();
    if (kg == keylog_gen_[tier]) return false;
    keylog_gen_[tier] = kg;
    for (const auto &id : src_.keylog_call_ids()) add_streams(id, kTierSlots[tier]);
    return true;
}

void MediaReceiver::add_streams(const std::string &call_id, uint16_t slots) {
    const std::string &cid = intern(call_id);
    std::vector<Derived> &done = derived_[&cid];
    auto record = [&](const std::string &participant) -> Derived & {  // made on first sight
        const std::string &pid = intern(participant);
        for (Derived &d : done)
            if (d.participant == &pid) return d;
        done.push_back(Derived{&pid, 0, uint32_t(pairs_.size())});
        pairs_.push_back(Pair{&cid, &pid});
        return done.back();
    };
    // One bulk derivation for the participants missing any of `slots` (normally all miss the
    // same ones); each then indexes only the streams it did not have.
    std::vector<std::string> fresh;
    uint16_t missing = 0;
    for (auto &p : participants(call_id)) {
        uint16_t need = slots & uint16_t(~record(p).slots);
        if (!need) continue;
        missing |= need;
        fresh.push_back(std::move(p));
    }
    if (fresh.empty()) return;
    const std::optional<std::vector<SsrcDeriver::Ssrcs>> derived = ssrc_deriver_.derive(call_id, fresh, missing);
    if (!derived) return;
    const std::vector<SsrcDeriver::Ssrcs> &ssrcs = *derived;
    if (!index_) index_ = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (size_t p = 0; p < fresh.size(); p++) {
        Derived &d = record(fresh[p]);
        uint16_t need = slots & uint16_t(~d.slots);
        d.slots |= need;
        for (uint32_t i = 0; i < 9; i++) {
            if (!(need >> i & 1)) continue;
            gpointer key = GUINT_TO_POINTER(ssrcs[p][i]);
            uint32_t code = d.pair << 4 | i;
            if (g_hash_table_contains(index_, key))
                append_candidate(ssrcs[p][i], code);  // two senders, one SSRC: both are kept
            else
                g_hash_table_insert(index_, key, GUINT_TO_POINTER(code));
        }
    }
}

MediaStream *MediaReceiver::make_stream(uint32_t code) {
    const Pair &p = pairs_[code >> 4];
    streams_.emplace_back(*p.call_id, *p.participant, kSlotWords[code & 15]);
    return &streams_.back();
}

void MediaReceiver::link_stream(MediaStream *head, uint32_t code) {
    MediaStream *tail = head;
    while (tail->next_) tail = tail->next_;
    tail->next_ = make_stream(code);
}

void MediaReceiver::append_candidate(uint32_t ssrc, uint32_t code) {
    shared_[ssrc].push_back(code);
    auto it = by_ssrc_.find(ssrc);
    if (it != by_ssrc_.end()) link_stream(it->second, code);  // else made whole when first asked for
}

const MediaStream *MediaReceiver::attribute(uint32_t ssrc) {
    add_signaled_streams();
    auto it = by_ssrc_.find(ssrc);
    if (it != by_ssrc_.end()) return it->second;
    gpointer code = nullptr;
    bool found = index_ && g_hash_table_lookup_extended(index_, GUINT_TO_POINTER(ssrc), nullptr, &code);
    for (int tier = 0; tier < 2 && !found; tier++)
        if (add_keylog_streams(tier))
            found = index_ && g_hash_table_lookup_extended(index_, GUINT_TO_POINTER(ssrc), nullptr, &code);
    if (!found) return nullptr;
    MediaStream *head = make_stream(GPOINTER_TO_UINT(code));
    auto shared = shared_.find(ssrc);
    if (shared != shared_.end())
        for (uint32_t c : shared->second) link_stream(head, c);
    return by_ssrc_[ssrc] = head;
}

// For a packet none of whose candidates authenticated: derives the key log's calls if that has
// not been done yet (a key-log call may share the SSRC of a signaled one) and returns the SSRC's
// candidates again. Cheap once the key log is derived.
const MediaStream *MediaReceiver::attribute_all(uint32_t ssrc) {
    add_keylog_streams(0);
    add_keylog_streams(1);
    return attribute(ssrc);
}

// The other senders that derive the same SSRC as `head` (MediaStream::next), in order, until
// `accepts` takes one; the key log's remaining calls are derived (once per key-log generation)
// before giving up, since they may add candidates. Returns the sender taken, or nullptr.
template <class Accepts>
const MediaStream *MediaReceiver::other_sender(uint32_t ssrc, const MediaStream *head, Accepts accepts) {
    bool all_derived = false;
    for (const MediaStream *s = head;;) {
        if (!s->next() && !all_derived) {
            all_derived = true;
            attribute_all(ssrc);  // appends to the list walked here
        }
        if (!(s = s->next())) return nullptr;
        if (accepts(s)) return s;
    }
}

// ---- keys ------------------------------------------------------------------------------------

const std::vector<std::unique_ptr<KeyCandidate>> &MediaReceiver::keyring(const MediaStream &cs) {
    MediaStream &s = own(cs);
    if (!s.ring_) s.ring_ = &keys_[{&s.call_id, &s.participant}];
    Keyring &ring = *s.ring_;
    if (ring.keys_gen == src_.keys_generation() && ring.authenticated) return ring.list;
    // A stat() only while no key has authenticated this sender: the key log may have grown.
    src_.refresh_keys();
    const uint64_t gen = src_.keys_generation();
    if (ring.keys_gen == gen) return ring.list;
    ring.keys_gen = gen;
    ring.authenticated = false;
    ring.list.clear();
    auto add = [&](KeyCandidate::Kind kind, uint32_t tx, const Bytes &ikm, uint32_t epoch_index = 0) {
        auto c = std::make_unique<KeyCandidate>();
        c->kind = kind;
        c->transaction_id = tx;
        c->epoch_index = static_cast<uint8_t>(epoch_index);
        // WAHKDF takes the epoch as its ikm exactly as it takes the 1:1 call key (digest §4.5).
        if (c->keys.derive(ikm, s.participant, true)) ring.list.push_back(std::move(c));
    };
    const auto call_keys = src_.call_key_candidates(s.call_id);
    for (size_t i = 0; i < call_keys.size(); i++) add(KeyCandidate::CallKey, uint32_t(i), *call_keys[i].key);
    for (const auto &e : src_.epoch_candidates(s.call_id)) add(KeyCandidate::Epoch, e.transaction_id, *e.key, e.index);
    return ring.list;
}

KeyCandidate *MediaReceiver::ring_key(const MediaStream &s, uint64_t id) {
    for (const auto &c : keyring(s))
        if (c->id() == id) return c.get();
    return nullptr;
}

const KeyCandidate *MediaReceiver::find_key(const MediaStream &s, uint64_t id) { return ring_key(s, id); }

// A candidate authenticated a packet of s: when the key log gave the call differing call keys,
// the winner becomes the call's key (SFrame) and its line is reported once.
void MediaReceiver::announce_key(const MediaStream &cs, KeyCandidate &c) {
    MediaStream &s = own(cs);
    c.announced = true;
    if (s.ring_) s.ring_->authenticated = true;
    if (c.kind == KeyCandidate::Epoch) {
        uint32_t n = 0, line = 0;
        for (const auto &e : src_.epoch_candidates(s.call_id))
            if (e.transaction_id == c.transaction_id) {
                n++;
                if (e.index == c.epoch_index) line = e.line;
            }
        if (n >= 2 && line)
            src_.report_key_used(line, "WA_CALL_EPOCH for call-id " + s.call_id + " transaction " +
                                           std::to_string(c.transaction_id) + " authenticated the call's media (" +
                                           std::to_string(n) + " differing values were tried)");
        return;
    }
    const auto cands = src_.call_key_candidates(s.call_id);
    if (cands.size() < 2 || c.transaction_id >= cands.size()) return;
    src_.prefer_call_key(s.call_id, c.transaction_id);
    src_.report_key_used(cands[c.transaction_id].line, "call key for call-id " + s.call_id +
                                                            " authenticated the call's media (" +
                                                            std::to_string(cands.size()) +
                                                            " differing values were tried)");
}

// The initial ROC search is bounded per stream; a key-log change (a corrected key appended while
// the capture is open) starts a new budget, or a stream met at ROC > 0 would never authenticate
// with the new key.
void MediaReceiver::fresh_search_on_new_keys(MediaStream &s) const {
    const uint64_t g = src_.keys_generation();
    if (s.searched_keys_ == g) return;
    s.searched_keys_ = g;
    s.roc_searches_ = 0;
}

// Hop-by-hop keys of a call (relay <hbh_key>, then WA_HBH_KEY); nullptr when unknown or off.
// call_id is a MediaStream's (interned).
HbhKeys *MediaReceiver::hbh_keys(const std::string &call_id, HbhUse use) {
    const HbhMode mode = opt_.hbh_mode;
    if (mode == HbhMode::Off) return nullptr;
    auto k = std::make_tuple(&call_id, mode, use);
    auto it = hbh_.find(k);
    if (it != hbh_.end()) return it->second.get();
    const Bytes *raw = nullptr;
    if (auto c = src_.signaled_call(call_id))
        if (c->hbh_key && c->hbh_key->size() == 30) raw = c->hbh_key;
    if (!raw) raw = src_.keylog_hbh_key(call_id);
    if (!raw) return nullptr;  // not cached: signaling or the key log may bring it later
    auto hk = std::make_unique<HbhKeys>();
    bool ok = false;
    if (mode == HbhMode::Rfc3711) {
        ok = hk->init_rfc3711(*raw);
    } else {
        HbhLabelPair pair = HbhLabelPair::SharedSrtp;
        if (use != HbhUse::Rtp)
            pair = mode == HbhMode::HkdfShared    ? HbhLabelPair::SharedSrtcp
                   : use == HbhUse::RtcpUplink ? HbhLabelPair::UplinkSrtcp
                                               : HbhLabelPair::DownlinkSrtcp;
        ok = hk->init_hkdf(*raw, pair);
    }
    if (!ok) return nullptr;
    return (hbh_[k] = std::move(hk)).get();
}

SFrameKey *MediaReceiver::sframe_key(const std::string &call_id, const std::string &receiver) {
    const Bytes *ck = src_.call_key(call_id);  // the one that authenticated, if lines disagree
    if (!ck) return nullptr;
    auto k = std::make_pair(call_id, receiver);
    auto it = sframe_.find(k);
    if (it != sframe_.end() && it->second.call_key == *ck) return it->second.key.get();
    auto key = std::make_unique<SFrameKey>();
    if (!key->derive(*ck, receiver)) return nullptr;
    SFrameEntry &e = sframe_[k];
    e.call_key = *ck;
    e.key = std::move(key);
    return e.key.get();
}

// SFrame receive keys a sender's payloads may be sealed with (one per other participant: the
// reference keys the receive direction with the receiver's id), cached per stream until the call
// registry or the key log changes.
const std::vector<SFrameKey *> &MediaReceiver::sframe_keys_for(const MediaStream &cs) {
    MediaStream::SFrameKeys &e = own(cs).sframe_;
    uint64_t cg = src_.calls_generation(), kg = src_.keys_generation(), pg = src_.keys_preferences();
    if (e.calls_gen != cg || e.keys_gen != kg || e.prefs_gen != pg) {
        e.prefs_gen = pg;
        e.list.clear();
        for (const auto &receiver : participants_cached(cs.call_id)) {
            if (receiver == cs.participant) continue;
            if (SFrameKey *k = sframe_key(cs.call_id, receiver)) e.list.push_back(k);
        }
        e.calls_gen = cg;
        e.keys_gen = kg;
    }
    return e.list;
}

const std::string *MediaReceiver::intern_call(const std::string &call_id) {
    auto &p = calls_[call_id];
    if (!p) p = std::make_unique<std::string>(call_id);
    return p.get();
}

std::optional<unsigned> MediaReceiver::signaled_tag_len(const std::string &call_id) {
    if (auto c = src_.signaled_call(call_id))
        if (c->warp_mi_tag_len >= 1 && c->warp_mi_tag_len <= 20) return c->warp_mi_tag_len;
    int n = src_.keylog_tag_len(call_id);
    if (n >= 1 && n <= 20) return static_cast<unsigned>(n);
    return std::nullopt;
}

unsigned MediaReceiver::tag_len(const std::string &call_id) { return signaled_tag_len(call_id).value_or(4); }

std::string MediaReceiver::relay_key(const std::string &call_id) {
    if (auto c = src_.signaled_call(call_id))
        if (c->relay_key && !c->relay_key->empty()) return *c->relay_key;
    const std::string *k = src_.keylog_relay_key(call_id);
    return k ? *k : std::string();
}

// ---- the receive path ------------------------------------------------------------------------

// The one hop-by-hop + key-ring loop of RTP and SRTCP. When the HBH layer is on, `strip`
// removes it once (Strip: (HbhKeys &, ByteView wire, ByteView &e2e) -> bool); then every key of
// the sender's ring goes through `attempt` (Attempt: (KeyCandidate &, ByteView e2e) ->
// SrtpStatus), the key with id `first_id` first (the one that worked last for the stream). A
// failure other than the tag (too short, no payload) is the same for every key: malformed.
template <class Strip, class Attempt>
SrtpStatus MediaReceiver::unprotect_ring(MediaVerdict &v, const Ring &ring, ByteView wire, HbhUse use, Strip strip,
                                         Attempt attempt, uint64_t first_id) {
    ByteView e2e = wire;
    if (opt_.hbh_mode != HbhMode::Off) {
        HbhKeys *hk = hbh_keys(v.stream->call_id, use);
        if (!hk) {
            v.status = ReceiveStatus::NoHbhKey;
            return SrtpStatus::BadParam;
        }
        if (hbh_buf_.size() < wire.size) hbh_buf_.resize(wire.size);
        std::optional<ByteView> inner = strip(*hk, wire);
        if (!inner) {
            v.status = ReceiveStatus::HbhBad;
            return SrtpStatus::BadTag;
        }
        e2e = *inner;
    }
    v.status = ReceiveStatus::BadTag;
    KeyCandidate *first = nullptr;
    for (const auto &c : ring)
        if (c->id() == first_id) first = c.get();
    for (size_t i = 0; i <= ring.size(); i++) {
        KeyCandidate *c = i == 0 ? first : ring[i - 1].get();
        if (!c || (i > 0 && c == first)) continue;
        SrtpStatus st = attempt(*c, e2e);
        if (st == SrtpStatus::Ok) {
            v.status = ReceiveStatus::Good;
            v.key_id = c->id();
            note_key_used(*v.stream, *c);  // which of disagreeing key-log lines won
            return st;
        }
        if (st != SrtpStatus::BadTag) {
            v.status = ReceiveStatus::Malformed;
            return st;
        }
    }
    return SrtpStatus::BadTag;
}

// The E2E packet inside the hop-by-hop layer of an RTP packet: the HBH tag (tag_len bytes) is
// verified, then the layer removed into hbh_buf_.
std::optional<ByteView> MediaReceiver::strip_hbh_rtp(HbhKeys &hk, const MediaVerdict &v, uint8_t tag_len,
                                                     ByteView wire) {
    size_t n = 0;
    if (hbh_strip(hk, wire, v.roc, tag_len, opt_.hbh_placement, v.tag_len, hbh_buf_.data(), wire.size, n) !=
        SrtpStatus::Ok)
        return std::nullopt;
    return ByteView(hbh_buf_.data(), n);
}

// HBH (when on: 10-byte tag, then 4, or the one the options name) then the stream's keys at one
// ROC, the key that worked last for this stream first.
SrtpStatus MediaReceiver::try_roc(MediaVerdict &v, ByteView b, uint8_t *out, RtpUnprotectInfo *info, uint32_t roc) {
    v.roc = roc;
    v.hbh_tag = 0;
    MediaStream &s = own(*v.stream);
    auto strip = [&](HbhKeys &hk, ByteView wire) -> std::optional<ByteView> {
        for (uint8_t t : {uint8_t(10), uint8_t(4)}) {
            if (opt_.hbh_tag && opt_.hbh_tag != t) continue;
            if (std::optional<ByteView> e2e = strip_hbh_rtp(hk, v, t, wire)) {
                v.hbh_tag = t;
                return e2e;
            }
        }
        return std::nullopt;
    };
    auto attempt = [&](KeyCandidate &c, ByteView e2e) {
        return e2e_unprotect_ex(c.keys, e2e, v.roc, e2e_options(v.tag_len), out, e2e.size, info, true);
    };
    return unprotect_ring(v, s.ring_->list, b, HbhUse::Rtp, strip, attempt, s.last_key_);
}

// First pass of one sender: estimate the ROC, try it; for the first packets of a stream that
// has not authenticated yet, search ROCs 0..kMaxInitialRoc; commit the ROC on success.
void MediaReceiver::first_pass_unprotect(MediaVerdict &v, ByteView b, uint16_t seq, uint8_t *out,
                                         RtpUnprotectInfo *info) {
    MediaStream &s = own(*v.stream);
    v.tag_len = static_cast<uint8_t>(tag_len(s.call_id));
    if (keyring(s).empty()) {
        v.status = ReceiveStatus::NoKey;
        return;
    }
    const uint32_t estimate = s.roc_.estimate(seq);
    SrtpStatus st = try_roc(v, b, out, info, estimate);
    fresh_search_on_new_keys(s);  // a key appended to the key log gets its own ROC search
    if (st == SrtpStatus::BadTag && !s.roc_.started() && s.roc_searches_ < kRocSearchPackets) {
        s.roc_searches_++;
        for (uint32_t r = 0; st == SrtpStatus::BadTag && r <= kMaxInitialRoc; r++)
            if (r != estimate) st = try_roc(v, b, out, info, r);
        if (st != SrtpStatus::Ok) try_roc(v, b, out, info, estimate);  // report the estimate
    }
    if (st == SrtpStatus::Ok) {
        s.last_key_ = v.key_id;
        s.roc_.commit(seq, v.roc);
    }
}

// Tries SFrame on a decrypted payload (receive direction: keyed by the receiver's id); on success
// the payload is rewritten in place.
void MediaReceiver::try_sframe(const MediaStream &s, uint8_t *out, const RtpUnprotectInfo &info, RtpPlain &plain) {
    plain.len = info.out_len;
    plain.header_len = info.header_len;
    uint8_t *payload = out + info.header_len;
    const size_t len = info.payload_len;
    if (!opt_.try_sframe || len < 19 || !sframe_parse_header(ByteView(payload, len)).ok()) return;
    for (SFrameKey *k : sframe_keys_for(s)) {
        if (sframe_buf_.size() < len) sframe_buf_.resize(len);
        size_t out_len = 0;
        SFrameHeader hdr;
        if (sframe_decrypt(*k, ByteView(payload, len), SFrameOptions(), sframe_buf_.data(), len, out_len, &hdr) ==
            SFrameStatus::Ok) {
            std::memcpy(payload, sframe_buf_.data(), out_len);
            if (out_len) {  // an empty frame reads as no SFrame, as the payload it leaves
                plain.len = info.header_len + out_len;
                plain.sframe = true;
                plain.sframe_counter = hdr.counter;
            }
            return;
        }
    }
}

RtpVerdict MediaReceiver::first_pass_rtp(ByteView b, uint8_t *out, RtpPlain *plain) {
    RtpVerdict v;
    RtpPlain p;
    if (b.size < 12) {  // no SSRC; a header that does not parse is malformed for every key below
        v.status = ReceiveStatus::Malformed;
        if (plain) *plain = p;
        return v;
    }
    const uint16_t seq = be16(b.data + 2);
    const uint32_t ssrc = be32(b.data + 8);
    RtpUnprotectInfo info;
    v.stream = attribute(ssrc);
    if (v.stream) {
        first_pass_unprotect(v, b, seq, out, &info);
        // Malformed is the same for every key; else another sender deriving the same SSRC may
        // authenticate the packet. When none does, the first sender's failure is shown.
        if (v.status != ReceiveStatus::Good && v.status != ReceiveStatus::Malformed)
            other_sender(ssrc, v.stream, [&](const MediaStream *s) {
                RtpVerdict alt;
                alt.stream = s;
                first_pass_unprotect(alt, b, seq, out, &info);
                if (alt.status != ReceiveStatus::Good) return false;
                v = alt;
                return true;
            });
        if (v.status == ReceiveStatus::Good) try_sframe(*v.stream, out, info, p);
    }
    if (plain) *plain = p;
    return v;
}

RtpPlain MediaReceiver::replay_rtp(const RtpVerdict &v, ByteView b, uint8_t *out) {
    RtpPlain p;
    if (v.status != ReceiveStatus::Good || !v.stream) return p;
    KeyCandidate *c = ring_key(*v.stream, v.key_id);
    if (!c) return p;
    ByteView e2e = b;
    if (v.hbh_tag) {
        HbhKeys *hk = hbh_keys(v.stream->call_id, HbhUse::Rtp);
        if (hbh_buf_.size() < b.size) hbh_buf_.resize(b.size);
        std::optional<ByteView> inner = hk ? strip_hbh_rtp(*hk, v, v.hbh_tag, b) : std::nullopt;
        if (!inner) return p;
        e2e = *inner;
    }
    // The first pass authenticated these very bytes with this key and ROC (the verdict says so):
    // only the AES-CTR decryption is redone, unless keys were dropped since.
    RtpUnprotectInfo info;
    if (e2e_unprotect_ex(c->keys, e2e, v.roc, e2e_options(v.tag_len), out, e2e.size, &info, !keys_stable()) !=
        SrtpStatus::Ok)
        return p;
    try_sframe(*v.stream, out, info, p);
    return p;
}

// SRTCP of one sender: HBH-SRTCP around the E2E SRTCP packet when on (REL-04), then the ring.
SrtpStatus MediaReceiver::rtcp_unprotect(MediaVerdict &v, ByteView b, HbhUse use, uint8_t *out, size_t *out_len) {
    if (keyring(*v.stream).empty()) {
        v.status = ReceiveStatus::NoKey;
        return SrtpStatus::BadParam;
    }
    auto strip = [&](HbhKeys &hk, ByteView wire) -> std::optional<ByteView> {
        SrtcpInfo hinfo;
        if (srtcp_unprotect(hk.rtcp, wire, hbh_buf_.data(), wire.size, &hinfo) != SrtpStatus::Ok) return std::nullopt;
        return ByteView(hbh_buf_.data(), hinfo.out_len);
    };
    auto attempt = [&](KeyCandidate &c, ByteView e2e) {
        SrtcpInfo info;
        SrtpStatus st = srtcp_unprotect(c.keys.rtcp, e2e, out, b.size, &info);
        if (st == SrtpStatus::Ok) *out_len = info.out_len;
        return st;
    };
    // SRTCP keeps no per-sender "last key": the ring in order (call key first).
    const auto &ring = own(*v.stream).ring_->list;
    return unprotect_ring(v, ring, b, use, strip, attempt, ring.front()->id());
}

RtcpVerdict MediaReceiver::first_pass_rtcp(ByteView b, const FlowHint &hint, uint8_t *out, RtcpPlain *plain) {
    RtcpVerdict v;
    RtcpPlain p;
    if (b.size >= 8) v.stream = attribute(be32(b.data + 4));
    if (v.stream) {
        const HbhUse use = hint.to_relay ? HbhUse::RtcpUplink : HbhUse::RtcpDownlink;
        size_t n = 0;
        p.srtp = rtcp_unprotect(v, b, use, out, &n);
        if (v.status != ReceiveStatus::Good) {  // another sender deriving the same SSRC?
            other_sender(be32(b.data + 4), v.stream, [&](const MediaStream *s) {
                RtcpVerdict alt;
                alt.stream = s;
                SrtpStatus st = rtcp_unprotect(alt, b, use, out, &n);
                if (alt.status != ReceiveStatus::Good) return false;
                v = alt;
                p.srtp = st;
                return true;
            });
        }
        if (v.status == ReceiveStatus::Good) p.len = n;
    }
    if (plain) *plain = p;
    return v;
}

RtcpVerdict MediaReceiver::replay_rtcp(const RtcpVerdict &first, ByteView b, const FlowHint &hint, uint8_t *out,
                                       RtcpPlain *plain) {
    RtcpVerdict v;
    RtcpPlain p;
    v.stream = first.stream;
    if (v.stream) {
        size_t n = 0;
        p.srtp = rtcp_unprotect(v, b, hint.to_relay ? HbhUse::RtcpUplink : HbhUse::RtcpDownlink, out, &n);
        if (v.status == ReceiveStatus::Good) p.len = n;
    }
    if (plain) *plain = p;
    return v;
}

}  // namespace wacall::media
