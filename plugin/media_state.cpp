#include "media_state.h"

#include "wacall_plugin.h"

#include "call/registry.h"
#include "keys/keylog.h"
#include "keys/participant.h"
#include "media/ssrc.h"

#include <set>

using namespace wacall;

namespace {
MediaState g_media;
}

MediaState &wacall_media() { return g_media; }

bool MediaState::keys_stable() const { return wacall_keys().clears() == clears_at_reset_; }

void MediaState::reset() {
    clears_at_reset_ = wacall_keys().clears();
    keys_gen_ = calls_gen_ = keylog_gen_[0] = keylog_gen_[1] = ~uint64_t(0);
    by_ssrc_.clear();
    if (index_) g_hash_table_remove_all(index_);
    shared_.clear();
    pairs_.clear();
    derived_.clear();
    streams_.clear();
    strings_.clear();
    flows_.clear();
    keys_.clear();
    participants_.clear();
    hbh_.clear();
    sframe_.clear();
    calls_.clear();
}

std::vector<std::string> MediaState::participants(const std::string &call_id) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    auto add = [&](const std::string &p) {
        if (!p.empty() && seen.insert(p).second) out.push_back(p);
    };
    if (const call::Call *c = wacall_calls().find(call_id))
        for (const auto &p : c->participants) add(p);
    for (const auto &p : wacall_keys().participants(call_id)) add(p);
    return out;
}

const std::vector<std::string> &MediaState::participants_cached(const std::string &call_id) {
    Participants &p = participants_[call_id];
    uint64_t cg = wacall_calls().generation(), kg = wacall_keys().generation();
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
void MediaState::add_signaled_streams() {
    auto &reg = wacall_calls();
    uint64_t kg = wacall_keys().generation();
    if (reg.generation() == calls_gen_ && kg == keys_gen_) return;
    calls_gen_ = reg.generation();
    keys_gen_ = kg;  // the key log may name more participants of a signaled call
    for (const auto &c : reg.calls()) add_streams(c.call_id, media::SsrcDeriver::kAllSlots);
}

bool MediaState::add_keylog_streams(int tier) {
    auto &keys = wacall_keys();
    if (keys.generation() == keylog_gen_[tier]) return false;
    keylog_gen_[tier] = keys.generation();
    for (const auto &id : keys.participant_call_ids()) add_streams(id, kTierSlots[tier]);
    return true;
}

void MediaState::add_streams(const std::string &call_id, uint16_t slots) {
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
    const std::optional<std::vector<media::SsrcDeriver::Ssrcs>> derived = ssrc_deriver_.derive(call_id, fresh, missing);
    if (!derived) return;
    const std::vector<media::SsrcDeriver::Ssrcs> &ssrcs = *derived;
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

MediaStream *MediaState::make_stream(uint32_t code) {
    const Pair &p = pairs_[code >> 4];
    streams_.emplace_back(*p.call_id, *p.participant, media::kSlotWords[code & 15]);
    return &streams_.back();
}

void MediaState::link_stream(MediaStream *head, uint32_t code) {
    MediaStream *tail = head;
    while (tail->next_) tail = tail->next_;
    tail->next_ = make_stream(code);
}

void MediaState::append_candidate(uint32_t ssrc, uint32_t code) {
    shared_[ssrc].push_back(code);
    auto it = by_ssrc_.find(ssrc);
    if (it != by_ssrc_.end()) link_stream(it->second, code);  // else made whole when first asked for
}

const MediaStream *MediaState::attribute(uint32_t ssrc) {
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

const MediaStream *MediaState::attribute_all(uint32_t ssrc) {
    add_keylog_streams(0);
    add_keylog_streams(1);
    return attribute(ssrc);
}

const std::vector<std::unique_ptr<KeyCandidate>> &MediaState::keyring(const MediaStream &s) {
    auto &ks = wacall_keys();
    if (!s.ring) s.ring = &keys_[s.call_id + '\n' + s.participant];
    Keyring &ring = *s.ring;
    if (ring.keys_gen == ks.generation() && ring.authenticated) return ring.list;
    // A stat() only while no key has authenticated this sender: the key log may have grown.
    wacall_keys_refresh();
    if (ring.keys_gen == ks.generation()) return ring.list;
    ring.keys_gen = ks.generation();
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
    const auto call_keys = ks.call_key_candidates(s.call_id);
    for (size_t i = 0; i < call_keys.size(); i++) add(KeyCandidate::CallKey, uint32_t(i), *call_keys[i].key);
    for (const auto &e : ks.epoch_candidates(s.call_id)) add(KeyCandidate::Epoch, e.transaction_id, *e.key, e.index);
    return ring.list;
}

void MediaState::announce_key(const MediaStream &s, const KeyCandidate &c) {
    c.announced = true;
    if (s.ring) s.ring->authenticated = true;
    auto &ks = wacall_keys();
    if (c.kind == KeyCandidate::Epoch) {
        uint32_t n = 0, line = 0;
        for (const auto &e : ks.epoch_candidates(s.call_id))
            if (e.transaction_id == c.transaction_id) {
                n++;
                if (e.index == c.epoch_index) line = e.line;
            }
        if (n >= 2 && line)
            wacall_keys_report_used(line, "WA_CALL_EPOCH for call-id " + s.call_id + " transaction " +
                                              std::to_string(c.transaction_id) + " authenticated the call's media (" +
                                              std::to_string(n) + " differing values were tried)");
        return;
    }
    const auto cands = ks.call_key_candidates(s.call_id);
    if (cands.size() < 2 || c.transaction_id >= cands.size()) return;
    ks.prefer_call_key(s.call_id, c.transaction_id);
    wacall_keys_report_used(cands[c.transaction_id].line,
                            "call key for call-id " + s.call_id + " authenticated the call's media (" +
                                std::to_string(cands.size()) + " differing values were tried)");
}

void MediaState::fresh_search_on_new_keys(MediaStream::FirstPass &fp) const {
    const uint64_t g = wacall_keys().generation();
    if (fp.searched_keys == g) return;
    fp.searched_keys = g;
    fp.roc_searches = 0;
}

KeyCandidate *MediaState::find_key(const MediaStream &s, uint64_t id) {
    for (const auto &c : keyring(s))
        if (c->id() == id) return c.get();
    return nullptr;
}

media::HbhKeys *MediaState::hbh_keys(const std::string &call_id, HbhMode mode, HbhUse use) {
    if (mode == HbhMode::Off) return nullptr;
    std::string k = call_id + '\n' + std::to_string(int(mode)) + '\n' + std::to_string(int(use));
    auto it = hbh_.find(k);
    if (it != hbh_.end()) return it->second.get();
    const Bytes *raw = nullptr;
    if (const call::Call *c = wacall_calls().find(call_id))
        if (c->hbh_key.size() == 30) raw = &c->hbh_key;
    if (!raw) raw = wacall_keys().hbh_key(call_id);
    if (!raw) return nullptr;  // not cached: signaling or the key log may bring it later
    auto hk = std::make_unique<media::HbhKeys>();
    bool ok = false;
    if (mode == HbhMode::Rfc3711) {
        ok = hk->init_rfc3711(*raw);
    } else {
        media::HbhLabelPair pair = media::HbhLabelPair::SharedSrtp;
        if (use != HbhUse::Rtp)
            pair = mode == HbhMode::HkdfShared    ? media::HbhLabelPair::SharedSrtcp
                   : use == HbhUse::RtcpUplink ? media::HbhLabelPair::UplinkSrtcp
                                               : media::HbhLabelPair::DownlinkSrtcp;
        ok = hk->init_hkdf(*raw, pair);
    }
    if (!ok) return nullptr;
    return (hbh_[k] = std::move(hk)).get();
}

const std::vector<media::SFrameKey *> &MediaState::sframe_keys_for(const MediaStream &s) {
    MediaStream::SFrameKeys &e = s.sframe;
    uint64_t cg = wacall_calls().generation(), kg = wacall_keys().generation(), pg = wacall_keys().preferences();
    if (e.calls_gen != cg || e.keys_gen != kg || e.prefs_gen != pg) {
        e.prefs_gen = pg;
        e.list.clear();
        for (const auto &receiver : participants_cached(s.call_id)) {
            if (receiver == s.participant) continue;
            if (media::SFrameKey *k = sframe_key(s.call_id, receiver)) e.list.push_back(k);
        }
        e.calls_gen = cg;
        e.keys_gen = kg;
    }
    return e.list;
}

media::SFrameKey *MediaState::sframe_key(const std::string &call_id, const std::string &receiver) {
    std::string k = call_id + '\n' + receiver;
    const Bytes *ck = wacall_keys().call_key(call_id);  // the one that authenticated, if lines disagree
    if (!ck) return nullptr;
    auto it = sframe_.find(k);
    if (it != sframe_.end() && it->second.call_key == *ck) return it->second.key.get();
    auto key = std::make_unique<media::SFrameKey>();
    if (!key->derive(*ck, receiver)) return nullptr;
    SFrameEntry &e = sframe_[k];
    e.call_key = *ck;
    e.key = std::move(key);
    return e.key.get();
}

const std::string *MediaState::intern_call(const std::string &call_id) {
    auto &p = calls_[call_id];
    if (!p) p = std::make_unique<std::string>(call_id);
    return p.get();
}

unsigned MediaState::tag_len(const std::string &call_id) {
    if (const call::Call *c = wacall_calls().find(call_id))
        if (c->warp_mi_tag_len >= 1 && c->warp_mi_tag_len <= 20) return c->warp_mi_tag_len;
    int n = wacall_keys().warp_tag_len(call_id);
    return n >= 1 && n <= 20 ? static_cast<unsigned>(n) : 4;
}

std::string MediaState::relay_key(const std::string &call_id) {
    if (const call::Call *c = wacall_calls().find(call_id))
        if (!c->relay_key.empty()) return c->relay_key;
    const std::string *k = wacall_keys().relay_key(call_id);
    return k ? *k : std::string();
}
