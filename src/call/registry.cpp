#include "call/registry.h"

#include "keys/participant.h"

#include <algorithm>

namespace wacall::call {

namespace {

std::string endpoint_key(AddrFamily f, const uint8_t *addr, uint16_t port, bool with_port) {
    std::string k;
    k.reserve(19);
    k.push_back(static_cast<char>(f));
    k.append(reinterpret_cast<const char *>(addr), f == AddrFamily::IPv4 ? 4 : 16);
    if (with_port) {
        k.push_back(static_cast<char>(port >> 8));
        k.push_back(static_cast<char>(port & 0xFF));
    }
    return k;
}

void add_unique(std::vector<std::string> &v, const std::string &s) {
    if (s.empty() || !keys::looks_like_jid(s)) return;
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

void raise(CallStatus &st, CallStatus to) {
    if (static_cast<uint8_t>(to) > static_cast<uint8_t>(st)) st = to;
}

}  // namespace

const char *call_status_name(CallStatus s) {
    switch (s) {
    case CallStatus::Unknown: return "Unknown";
    case CallStatus::Offered: return "Offered";
    case CallStatus::Ringing: return "Ringing";
    case CallStatus::Rejected: return "Rejected";
    case CallStatus::Accepted: return "Accepted/in call";
    case CallStatus::Ended: return "Ended";
    }
    return "Unknown";
}

std::string EndpointRecord::text() const {
    Endpoint e;
    e.family = family;
    std::copy(addr, addr + 16, e.addr);
    e.port = port;
    return e.endpoint_text();
}

void CallRegistry::clear() {
    calls_.clear();
    by_id_.clear();
    stanza_ids_.clear();
    endpoints_.clear();
    addresses_.clear();
    applied_.clear();
    generation_++;
}

const Call *CallRegistry::find(const std::string &call_id) const {
    auto it = by_id_.find(call_id);
    return it == by_id_.end() ? nullptr : &calls_[it->second];
}

const std::string *CallRegistry::call_for_stanza_id(const std::string &stanza_id) const {
    auto it = stanza_ids_.find(stanza_id);
    return it == stanza_ids_.end() ? nullptr : &it->second;
}

const std::string *CallRegistry::call_for_endpoint(AddrFamily f, const uint8_t *addr, uint16_t port) const {
    if (f == AddrFamily::None || !addr) return nullptr;
    auto it = endpoints_.find(endpoint_key(f, addr, port, true));
    return it == endpoints_.end() ? nullptr : &it->second;
}

const std::string *CallRegistry::call_for_address(AddrFamily f, const uint8_t *addr) const {
    if (f == AddrFamily::None || !addr) return nullptr;
    auto it = addresses_.find(endpoint_key(f, addr, 0, false));
    return it == addresses_.end() ? nullptr : &it->second;
}

const Call *CallRegistry::call_for_frame(uint32_t frame, uint32_t index) const {
    auto it = applied_.find(uint64_t(frame) << 32 | index);
    if (it == applied_.end() || it->second < 0) return nullptr;
    return &calls_[static_cast<size_t>(it->second)];
}

Call *CallRegistry::get_or_create(const std::string &call_id) {
    auto it = by_id_.find(call_id);
    if (it != by_id_.end()) return &calls_[it->second];
    by_id_.emplace(call_id, calls_.size());
    calls_.emplace_back();
    calls_.back().call_id = call_id;
    return &calls_.back();
}

void CallRegistry::add_endpoint(Call &c, const Endpoint &ep, uint32_t frame) {
    if (ep.family == AddrFamily::None) return;
    bool known = false;
    for (const auto &r : c.endpoints)
        if (r.family == ep.family && r.port == ep.port && std::equal(r.addr, r.addr + 16, ep.addr)) {
            known = true;
            break;
        }
    if (!known) {
        EndpointRecord r;
        r.family = ep.family;
        std::copy(ep.addr, ep.addr + 16, r.addr);
        r.port = ep.port;
        r.source = ep.tag;
        r.relay_name = ep.relay_name;
        r.relay_id = ep.relay_id;
        r.is_fna = ep.is_fna;
        r.auth_token_id = ep.auth_token_id;
        r.first_frame = frame;
        c.endpoints.push_back(r);
    }
    endpoints_[endpoint_key(ep.family, ep.addr, ep.port, true)] = c.call_id;
    addresses_[endpoint_key(ep.family, ep.addr, 0, false)] = c.call_id;
}

const Call *CallRegistry::update(const CallStanza &s, uint32_t frame, double time, Direction dir, uint32_t index) {
    const uint64_t fkey = uint64_t(frame) << 32 | index;
    auto done = applied_.find(fkey);
    if (done != applied_.end())
        return done->second < 0 ? nullptr : &calls_[static_cast<size_t>(done->second)];

    // Which call? The call-id when the stanza names one, else the stanza id it answers.
    std::string call_id;
    if (s.kind != StanzaKind::NotCall) {
        if (!s.call_id.empty()) {
            call_id = s.call_id;
        } else if (!s.stanza_id.empty()) {
            if (const std::string *id = call_for_stanza_id(s.stanza_id)) call_id = *id;
        }
    }
    if (call_id.empty()) {
        applied_.emplace(fkey, -1);
        return nullptr;
    }
    Call &c = *get_or_create(call_id);
    applied_.emplace(fkey, static_cast<int64_t>(by_id_[call_id]));
    generation_++;

    auto fit = std::lower_bound(c.frames.begin(), c.frames.end(), frame);
    if (fit == c.frames.end() || *fit != frame) c.frames.insert(fit, frame);
    if (c.frames.front() == frame) c.first_time = time;
    if (c.frames.back() == frame) c.last_time = time;

    // Call stanzas and receipts are what later acks answer (the receipt echoes the offer's id).
    if (s.kind != StanzaKind::Ack && !s.stanza_id.empty()) stanza_ids_.emplace(s.stanza_id, call_id);

    if (c.creator.empty() && !s.call_creator.empty()) {
        c.creator = s.call_creator;
        c.creator_participant = s.call_creator_participant;
    }
    add_unique(c.participants, c.creator_participant);

    const std::string from(attr_text(s.env.from));
    const std::string to(attr_text(s.env.to));

    if (s.kind == StanzaKind::Receipt) {
        c.ringing.mark(frame, time);
        raise(c.status, CallStatus::Ringing);
        add_unique(c.ringing_devices, keys::normalize_participant_id(from));
    } else if (s.kind == StanzaKind::Ack) {
        if (!c.offer_stanza_id.empty() && s.stanza_id == c.offer_stanza_id) c.offer_ack.mark(frame, time);
    } else {
        switch (s.action) {
        case Action::Offer:
            c.offer.mark(frame, time);
            c.offer_stanza_id = s.stanza_id;
            if (c.offer_direction == Direction::Unknown) c.offer_direction = dir;
            if (c.caller_jid.empty()) c.caller_jid = !from.empty() ? from : s.call_creator;
            if (c.callee_jid.empty() && !to.empty()) c.callee_jid = to;
            for (const auto &t : s.targets) add_unique(c.offered_devices, t.participant);
            if (s.video_node) c.is_video = true;
            if (!s.group_jid.empty()) {
                c.is_group = true;
                c.group_jid = s.group_jid;
            }
            raise(c.status, CallStatus::Offered);
            break;
        case Action::OfferNotice:
            c.offer.mark(frame, time);
            c.is_group = c.is_group || s.notice_type == "group";
            c.is_video = c.is_video || s.notice_media == "video";
            raise(c.status, CallStatus::Offered);
            break;
        case Action::Preaccept:
            c.preaccept.mark(frame, time);
            raise(c.status, CallStatus::Ringing);
            break;
        case Action::Accept: {
            c.accept.mark(frame, time);
            // The answering device: `participant` when the server routed it, else `from`
            // (reference routed_call_sender).
            const std::string who = !attr_text(s.env.participant).empty() ? std::string(attr_text(s.env.participant)) : from;
            if (c.answering_device.empty() && !who.empty()) c.answering_device = keys::normalize_participant_id(who);
            add_unique(c.participants, c.answering_device);
            if (c.callee_jid.empty() && !from.empty()) c.callee_jid = from;
            raise(c.status, CallStatus::Accepted);
            break;
        }
        case Action::Reject:
            c.reject.mark(frame, time);
            if (c.reject_reason.empty()) c.reject_reason = s.reason;
            raise(c.status, CallStatus::Rejected);
            break;
        case Action::Terminate:
            c.terminate.mark(frame, time);
            if (c.terminate_reason.empty()) c.terminate_reason = s.reason;
            if (s.duration) c.duration = s.duration;
            if (s.audio_duration) c.audio_duration = s.audio_duration;
            raise(c.status, CallStatus::Ended);
            break;
        default:
            break;
        }
        if (s.transaction_id &&
            std::find(c.transaction_ids.begin(), c.transaction_ids.end(), *s.transaction_id) == c.transaction_ids.end())
            c.transaction_ids.push_back(*s.transaction_id);
        if (s.group_info) {
            const GroupInfo &g = *s.group_info;
            c.is_group = true;
            if (!g.group_jid.empty()) c.group_jid = g.group_jid;
            if (g.media == "video") c.is_video = true;
            if (g.transaction_id &&
                std::find(c.transaction_ids.begin(), c.transaction_ids.end(), *g.transaction_id) == c.transaction_ids.end())
                c.transaction_ids.push_back(*g.transaction_id);
            for (const auto &u : g.users)
                for (const auto &d : u.devices) add_unique(c.participants, d.participant);
        }
        for (const auto &ep : s.endpoints) add_endpoint(c, ep, frame);
    }

    for (const auto &r : s.relays) {
        if (r.model_latency_entry && !r.key_node && r.te2.empty()) continue;  // spec-model latency report
        c.has_relay = true;
        if (!r.uuid.empty()) c.relay_uuid = r.uuid;
        if (!r.key_text.empty()) c.relay_key = r.key_text;
        if (r.hbh_key.size() == 30) c.hbh_key = r.hbh_key;
        if (r.tag_len_present && r.tag_len_valid) c.warp_mi_tag_len = r.warp_mi_tag_len;
        else if (c.warp_mi_tag_len == 0) c.warp_mi_tag_len = 4;
        if (r.self_pid) c.self_pid = r.self_pid;
        if (r.peer_pid) c.peer_pid = r.peer_pid;
        for (const auto &ep : r.te2) add_endpoint(c, ep, frame);
    }
    return &c;
}

}  // namespace wacall::call
