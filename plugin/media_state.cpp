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

void MediaState::reset() {
    keys_gen_ = calls_gen_ = ~uint64_t(0);
    by_ssrc_.clear();
    streams_.clear();
    keys_.clear();
    sframe_.clear();
    rocs_.clear();
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

// SSRCs are HKDF(call-id, participant, slot): every (call, participant) pair known from the
// decrypted signaling or the key log gives nine of them.
void MediaState::rebuild() {
    auto &reg = wacall_calls();
    auto &keys = wacall_keys();
    if (reg.generation() == calls_gen_ && keys.generation() == keys_gen_) return;
    calls_gen_ = reg.generation();
    keys_gen_ = keys.generation();
    std::set<std::string> call_ids;
    for (const auto &c : reg.calls()) call_ids.insert(c.call_id);
    for (const auto &id : keys.participant_call_ids()) call_ids.insert(id);
    for (const auto &id : call_ids) {
        for (const auto &p : participants(id)) {
            uint32_t ssrcs[9];
            media::derive_all_ssrcs(id, p, ssrcs);
            for (int i = 0; i < 9; i++) {
                if (by_ssrc_.count(ssrcs[i])) continue;
                streams_.push_back(MediaStream{id, p, media::kSlotWords[i]});
                by_ssrc_[ssrcs[i]] = &streams_.back();
            }
        }
    }
}

const MediaStream *MediaState::attribute(uint32_t ssrc) {
    rebuild();
    auto it = by_ssrc_.find(ssrc);
    return it == by_ssrc_.end() ? nullptr : it->second;
}

media::StreamKeys *MediaState::keys(const MediaStream &s) {
    std::string k = s.call_id + '\n' + s.participant;
    auto it = keys_.find(k);
    if (it != keys_.end()) return it->second.get();
    wacall_keys_refresh();
    const Bytes *ck = wacall_keys().call_key(s.call_id);
    if (!ck) return nullptr;  // not cached: the key log may gain it later
    auto sk = std::make_unique<media::StreamKeys>();
    if (!sk->derive(*ck, s.participant, true)) return nullptr;
    return (keys_[k] = std::move(sk)).get();
}

media::SFrameKey *MediaState::sframe_key(const std::string &call_id, const std::string &receiver) {
    std::string k = call_id + '\n' + receiver;
    auto it = sframe_.find(k);
    if (it != sframe_.end()) return it->second.get();
    const Bytes *ck = wacall_keys().call_key(call_id);
    if (!ck) return nullptr;
    auto key = std::make_unique<media::SFrameKey>();
    if (!key->derive(*ck, receiver)) return nullptr;
    return (sframe_[k] = std::move(key)).get();
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
