#include "call/call.h"

#include "keys/participant.h"

#include <glib.h>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

#include <cstring>

namespace wacall::call {

namespace {

constexpr unsigned kMaxDepth = 64;        // hand-built or hostile trees must not blow the stack
constexpr size_t kMaxCapabilityBytes = 64;  // bits listed for at most this many bytes
constexpr uint32_t kLatencyOffset = 0x02000000;

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

// ---- names and small helpers --------------------------------------------------------------------

const char *grade_name(Grade g) {
    switch (g) {
    case Grade::None: return "none";
    case Grade::Reference: return "reference";
    case Grade::SpecNormative: return "spec normative";
    case Grade::SpecProbable: return "spec P";
    case Grade::SpecSpeculative: return "spec S";
    case Grade::Inferred: return "inferred";
    case Grade::Unlisted: return "unlisted";
    }
    return "unlisted";
}

const char *stanza_kind_name(StanzaKind k) {
    switch (k) {
    case StanzaKind::NotCall: return "not call";
    case StanzaKind::Call: return "call";
    case StanzaKind::Ack: return "ack";
    case StanzaKind::Receipt: return "receipt";
    }
    return "not call";
}

namespace {
struct ActionName {
    const char *tag;
    Action action;
};
const ActionName kActions[] = {
    {"offer", Action::Offer},
    {"offer_notice", Action::OfferNotice},
    {"preaccept", Action::Preaccept},
    {"accept", Action::Accept},
    {"reject", Action::Reject},
    {"terminate", Action::Terminate},
    {"transport", Action::Transport},
    {"relaylatency", Action::RelayLatency},
    {"heartbeat", Action::Heartbeat},
    {"mute_v2", Action::MuteV2},
    {"mute", Action::Mute},
    {"video", Action::Video},
    {"enc_rekey", Action::EncRekey},
    {"group_update", Action::GroupUpdate},
    {"group_info", Action::GroupInfo},
    {"user_action", Action::UserAction},
    {"screen_share", Action::ScreenShare},
    {"waiting_room_update", Action::WaitingRoomUpdate},
    {"waiting_room_toggle", Action::WaitingRoomToggle},
    {"waiting_room_admit", Action::WaitingRoomAdmit},
    {"waiting_room_deny", Action::WaitingRoomDeny},
};
}  // namespace

const char *action_name(Action a) {
    if (a == Action::None) return "none";
    if (a == Action::Unknown) return "unknown";
    if (a == Action::Link) return "link";
    for (const auto &n : kActions)
        if (n.action == a) return n.tag;
    return "unknown";
}

Action action_from_tag(std::string_view tag) {
    for (const auto &n : kActions)
        if (tag == n.tag) return n.action;
    if (tag.compare(0, 5, "link_") == 0 && tag.size() > 5) return Action::Link;
    return Action::Unknown;
}

std::string_view attr_text(const Attribute *a) { return a ? a->value.text : std::string_view(); }

ByteView content_bytes(const Node &n) {
    if (n.content.kind == wabinary::ValueKind::Binary) return n.content.bytes;
    if (n.content.kind == wabinary::ValueKind::Empty) return {};
    return {reinterpret_cast<const uint8_t *>(n.content.text.data()), n.content.text.size()};
}

std::string content_text(const Node &n) {
    ByteView b = content_bytes(n);
    return std::string(reinterpret_cast<const char *>(b.data), b.size);
}

std::optional<uint32_t> parse_u32(std::string_view s) { return parse_decimal_u32(s); }

std::optional<Bytes> base64_decode(ByteView text) {
    size_t b = 0, e = text.size;
    while (b < e && is_space(text[b])) b++;
    while (e > b && is_space(text[e - 1])) e--;
    // GLib's decoder skips bad characters silently, so validate first.
    size_t n = e - b, pad = 0;
    while (pad < 2 && n > 0 && text[b + n - 1] == '=') {
        n--;
        pad++;
    }
    if (n == 0 || n % 4 == 1 || (pad && (n + pad) % 4 != 0)) return std::nullopt;
    std::string s;
    s.reserve(n + 3);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = text[b + i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) return std::nullopt;
        s.push_back(static_cast<char>(c));
    }
    while (s.size() % 4) s.push_back('=');  // the no-padding form is accepted (spec §3.9)
    gsize len = 0;
    guchar *d = g_base64_decode(s.c_str(), &len);
    if (!d) return std::nullopt;
    Bytes out(d, d + len);
    g_free(d);
    return out;
}

const char *transport_type_name(uint32_t t) {
    switch (t) {
    case 1: return "relay candidate";
    case 3: return "peer ICE candidate";
    case 9: return "keepalive/reply";
    default: return "unknown";
    }
}

const char *video_state_name(uint32_t s) {
    switch (s) {
    case 0: return "Disabled";
    case 1: return "Enabled";
    case 2: return "Paused";
    case 3: return "UpgradeRequest";
    case 4: return "UpgradeAccept";
    case 5: return "UpgradeReject";
    case 6: return "Stopped";
    case 7: return "UpgradeRejectByTimeout";
    case 8: return "UpgradeCancel";
    case 9: return "UpgradeCancelByTimeout";
    case 10: return "UnknownPeer";
    case 11: return "UpgradeRequestV2";
    case 20: return "Error";
    default: return "unknown";
    }
}

const char *net_medium_name(uint32_t m) {
    switch (m) {
    case 3: return "offer default";
    case 2: return "accept/transport relay medium";
    default: return "unknown";
    }
}

Grade reason_grade(const std::string &r, const char **meaning) {
    struct R {
        const char *reason;
        Grade grade;
        const char *meaning;
    };
    static const R table[] = {
        {"accepted_elsewhere", Grade::Reference, "answered on another device (reference; spec normative SIG-14)"},
        {"rejected_elsewhere", Grade::Reference, "declined on another device"},
        {"group_call_ended", Grade::Reference, "group call ended"},
        {"timeout", Grade::SpecProbable, "rang until the ring timeout (missed call)"},
        {"busy", Grade::SpecProbable, "callee busy"},
        {"declined", Grade::SpecProbable, "callee declined"},
        {"accept_elsewhere", Grade::SpecSpeculative, "answered on another device (spec model spelling, S6)"},
        {"reject_elsewhere", Grade::SpecSpeculative, "declined on another device (spec model)"},
        {"connection_lost", Grade::SpecSpeculative, "transport dropped"},
        {"retry", Grade::SpecSpeculative, "set-up should be retried"},
        {"cancelled", Grade::SpecSpeculative, "caller gave up before an answer"},
    };
    for (const auto &e : table)
        if (r == e.reason) {
            if (meaning) *meaning = e.meaning;
            return e.grade;
        }
    if (meaning) *meaning = "not in either source";
    return Grade::Unlisted;
}

const char *hbh_encoding_name(HbhEncoding h) {
    switch (h) {
    case HbhEncoding::Absent: return "absent";
    case HbhEncoding::Plain: return "base64";
    case HbhEncoding::Double: return "double base64";
    case HbhEncoding::Invalid: return "invalid";
    }
    return "invalid";
}

const std::vector<KnownBlob> &known_capability_blobs() {
    static const std::vector<KnownBlob> blobs = {
        {"0105f709e0bb13", "offer/accept", Grade::Reference},
        {"0105f709e0bb07", "audio preaccept", Grade::Reference},
        {"0105f709e0fa13", "video offer", Grade::Reference},
        {"0105f709e03b13", "offer/accept, standard Opus", Grade::Reference},
        {"0105f709e03b07", "audio preaccept, standard Opus", Grade::Reference},
        {"0105f709e07a13", "video offer, standard Opus", Grade::Reference},
        {"0105f709e4bb13", "offer/accept (spec SIG-01/03)", Grade::SpecNormative},
        {"0105f709e4bb07", "preaccept (spec SIG-04)", Grade::SpecNormative},
    };
    return blobs;
}

// ---- endpoints ------------------------------------------------------------------------------------

namespace {
// A packed address (6 or 18 bytes) into ep; false for other lengths.
bool decode_packed_address(ByteView b, Endpoint &ep) {
    if (b.size == 6) {
        ep.family = AddrFamily::IPv4;
        std::memset(ep.addr, 0, sizeof ep.addr);
        std::memcpy(ep.addr, b.data, 4);
        ep.port = be16(b.data + 4);
        return true;
    }
    if (b.size == 18) {
        ep.family = AddrFamily::IPv6;
        std::memcpy(ep.addr, b.data, 16);
        ep.port = be16(b.data + 16);
        return true;
    }
    return false;
}
}  // namespace

std::string Endpoint::address_text() const {
    char buf[64] = {};
    if (family == AddrFamily::IPv4) {
        if (!inet_ntop(AF_INET, addr, buf, sizeof buf)) return {};
    } else if (family == AddrFamily::IPv6) {
        if (!inet_ntop(AF_INET6, addr, buf, sizeof buf)) return {};
    } else {
        return {};
    }
    return buf;
}

std::string Endpoint::endpoint_text() const {
    std::string a = address_text();
    if (a.empty()) return a;
    if (family == AddrFamily::IPv6) a = "[" + a + "]";
    return a + ":" + std::to_string(port);
}

namespace {

// Reads an optional decimal attribute into has/out; a present but non-numeric value becomes a
// note. Returns the attribute (null when absent) so the result keeps where the value came from.
// A numeric attribute: fills `out` in place when it parses (an earlier value stays otherwise) and
// returns the attribute, present or not, for the tree.
const Attribute *read_u32(const Node &n, const char *name, std::optional<uint32_t> &out, std::vector<std::string> &notes) {
    const Attribute *a = n.attr(name);
    if (!a) return nullptr;
    if (std::optional<uint32_t> v = parse_u32(a->value.text)) {
        out = v;
        return a;
    }
    notes.push_back("<" + std::string(n.tag.text) + "> " + name + "=\"" + std::string(a->value.text.substr(0, 32)) +
                    "\" is not a decimal u32");
    return a;
}

// A text attribute: its text ("" when absent) and where it came from.
std::string read_text(const Node &n, const char *name, const Attribute *&at) {
    at = n.attr(name);
    return std::string(attr_text(at));
}

Endpoint parse_endpoint(const Node &n, bool in_destination, std::vector<std::string> &notes) {
    Endpoint ep;
    ep.node = &n;
    ep.tag = n.tag.text;
    ep.in_destination = in_destination;
    ep.raw = content_bytes(n);
    if (!decode_packed_address(ep.raw, ep)) {
        // Spec-model candidates carry ip/port attributes instead of a packed body (S3).
        const Attribute *ip = n.attr("ip");
        if (ip) {
            uint8_t buf[16] = {};
            const std::string ip_text(ip->value.text);  // inet_pton needs the NUL
            if (inet_pton(AF_INET, ip_text.c_str(), buf) == 1) {
                ep.family = AddrFamily::IPv4;
                std::memcpy(ep.addr, buf, 4);
            } else if (inet_pton(AF_INET6, ip_text.c_str(), buf) == 1) {
                ep.family = AddrFamily::IPv6;
                std::memcpy(ep.addr, buf, 16);
            }
            if (ep.family != AddrFamily::None) {
                ep.from_attributes = true;
                std::optional<uint32_t> port = parse_u32(n.attr_text("port"));
                if (port && *port <= 0xFFFF) ep.port = static_cast<uint16_t>(*port);
            }
        }
    }
    ep.at.priority = read_u32(n, "priority", ep.priority, notes);
    ep.at.latency = read_u32(n, "latency", ep.latency_raw, notes);
    if (ep.latency_raw && *ep.latency_raw >= kLatencyOffset) {
        ep.latency_offset_encoded = true;
        ep.rtt_ms = *ep.latency_raw - kLatencyOffset;
    }
    ep.relay_name = read_text(n, "relay_name", ep.at.relay_name);
    ep.domain_name = n.attr_text("domain_name");
    ep.at.relay_id = read_u32(n, "relay_id", ep.relay_id, notes);
    ep.at.token_id = read_u32(n, "token_id", ep.token_id, notes);
    ep.at.auth_token_id = read_u32(n, "auth_token_id", ep.auth_token_id, notes);
    ep.at.c2r_rtt = read_u32(n, "c2r_rtt", ep.c2r_rtt, notes);
    ep.at.protocol = read_u32(n, "protocol", ep.protocol, notes);
    ep.is_fna = read_text(n, "is_fna", ep.at.is_fna) == "1";
    return ep;
}

Capability parse_capability(const Node &n, std::vector<std::string> &notes) {
    Capability c;
    c.node = &n;
    if (const Attribute *v = c.at.ver = n.attr("ver")) {
        c.ver_defaulted = false;
        if (std::optional<uint32_t> ver = parse_u32(v->value.text)) {
            c.ver = *ver;
        } else {
            c.ver_valid = false;
            c.ver = 0;
            notes.push_back("<capability> ver is not a number");
        }
    }
    c.bytes = content_bytes(n);
    const std::string hex = to_hex(c.bytes.sub(0, 32));
    for (const auto &k : known_capability_blobs())
        if (hex == k.hex) {
            c.blob_name = k.name;
            c.blob_source = k.source;
            break;
        }
    if (c.bytes.size >= 2) {
        c.header = Capability::Header{c.bytes[0], c.bytes[1]};
        size_t nbytes = c.bytes.size - 2;
        if (nbytes > kMaxCapabilityBytes) nbytes = kMaxCapabilityBytes;
        for (size_t i = 0; i < nbytes; i++)
            for (unsigned bit = 0; bit < 8; bit++)
                if (c.bytes[2 + i] >> bit & 1) c.set_bits.push_back(static_cast<uint16_t>(i * 8 + bit));
    }
    return c;
}

Enc parse_enc(const Node &n, const Node *to, std::vector<std::string> &notes) {
    Enc e;
    e.node = &n;
    e.to_node = to;
    if (to) e.target_jid = read_text(*to, "jid", e.at.jid);
    if (const Attribute *t = e.at.type = n.attr("type")) {
        e.type = t->value.text;
    } else {
        e.type = "pkmsg";
        e.type_defaulted = true;
    }
    e.type_known = e.type == "pkmsg" || e.type == "msg";
    std::optional<uint32_t> v;
    if ((e.at.v = read_u32(n, "v", v, notes))) {
        e.v = v.value_or(0);
    } else {
        e.v_defaulted = true;
    }
    e.at.count = read_u32(n, "count", e.count, notes);
    e.ciphertext = content_bytes(n);
    return e;
}

void parse_tokens(const Node &n, std::vector<RelayToken> &table, uint64_t &used) {
    RelayToken t;
    t.node = &n;
    t.data = content_bytes(n);
    if (const Attribute *id = n.attr("id")) {
        std::optional<uint32_t> v = parse_u32(id->value.text);
        if (v) t.id = *v;
        if (!v || t.id >= 64) {
            t.ignored = true;
        } else {
            t.duplicate = (used >> t.id) & 1;
            used |= uint64_t(1) << t.id;
        }
    } else {
        t.id_positional = true;
        if (~used == 0) {
            t.ignored = true;  // all 64 slots taken
        } else {
            uint32_t slot = 0;
            while ((used >> slot) & 1) slot++;
            t.id = slot;
            used |= uint64_t(1) << slot;
        }
    }
    table.push_back(t);
}

RelayBlock parse_relay(const Node &n, std::vector<std::string> &notes) {
    RelayBlock r;
    r.node = &n;
    r.uuid = read_text(n, "uuid", r.at.uuid);
    r.participant_uuid = n.attr_text("participant_uuid");
    r.at.self_pid = read_u32(n, "self_pid", r.self_pid, notes);
    r.at.peer_pid = read_u32(n, "peer_pid", r.peer_pid, notes);
    r.at.transaction_id = read_u32(n, "transaction-id", r.transaction_id, notes);
    r.model_latency_entry = n.attr("ip") || n.attr("latency") || n.attr("jitter");

    std::string tag_len_text;
    if ((r.tag_len_attr = n.attr("warp_mi_tag_len"))) {
        r.tag_len_present = true;
        tag_len_text = r.tag_len_attr->value.text;
    }
    uint64_t used_tokens = 0, used_auth = 0;
    for (const Node &c : n.children) {
        std::string_view tag = c.tag.text;
        if (tag == "key") {
            if (r.key_node) continue;  // the first one wins
            r.key_node = &c;
            r.key_text = content_text(c);
            std::optional<Bytes> key = base64_decode(content_bytes(c));
            if (key) r.key_decoded = std::move(*key);
            r.key_decoded_ok = key && r.key_decoded.size() == 16;
        } else if (tag == "hbh_key") {
            if (r.hbh_node) continue;
            r.hbh_node = &c;
            std::optional<Bytes> once = base64_decode(content_bytes(c)), twice;
            if (once && once->size() == 30) {
                r.hbh_encoding = HbhEncoding::Plain;
                r.hbh_key = *once;
            } else if (once && !once->empty() && (twice = base64_decode(*once)) && twice->size() == 30) {
                r.hbh_encoding = HbhEncoding::Double;
                r.hbh_key = *twice;
            } else {
                r.hbh_encoding = HbhEncoding::Invalid;
            }
        } else if (tag == "warp_mi_tag_len") {
            r.tag_len_node = &c;
            r.tag_len_present = true;
            tag_len_text = content_text(c);  // the child wins over the attribute
        } else if (tag == "token") {
            parse_tokens(c, r.tokens, used_tokens);
        } else if (tag == "auth_token") {
            parse_tokens(c, r.auth_tokens, used_auth);
        } else if (tag == "te2") {
            r.te2.push_back(parse_endpoint(c, false, notes));
        } else if (tag == "raw_e2e") {
            r.raw_e2e_node = &c;
            std::optional<Bytes> raw = base64_decode(content_bytes(c));
            if (raw) r.raw_e2e = std::move(*raw);
            r.raw_e2e_ok = raw && r.raw_e2e.size() >= 32;
        }
    }
    if (r.tag_len_present) {
        std::optional<uint32_t> v = parse_u32(tag_len_text);
        if (v) r.tag_len_raw = *v;
        r.tag_len_valid = v && r.tag_len_raw >= 1 && r.tag_len_raw <= 20;
        if (r.tag_len_valid) r.warp_mi_tag_len = r.tag_len_raw;
        else notes.push_back("warp_mi_tag_len \"" + tag_len_text.substr(0, 16) + "\" outside 1..20; using 4");
    }
    return r;
}

void find_relays(const Node &n, unsigned depth, std::vector<RelayBlock> &out, std::vector<std::string> &notes) {
    if (depth > kMaxDepth) return;
    for (const Node &c : n.children) {
        if (c.tag.text == "relay") out.push_back(parse_relay(c, notes));
        else find_relays(c, depth + 1, out, notes);
    }
}

const Node *find_tag(const Node &n, const char *tag, unsigned depth) {
    if (depth > kMaxDepth) return nullptr;
    for (const Node &c : n.children) {
        if (c.tag.text == tag) return &c;
        if (const Node *f = find_tag(c, tag, depth + 1)) return f;
    }
    return nullptr;
}

GroupInfo parse_group_info(const Node &n, std::vector<std::string> &notes) {
    GroupInfo g;
    g.node = &n;
    read_u32(n, "transaction-id", g.transaction_id, notes);
    read_u32(n, "connected-limit", g.connected_limit, notes);
    g.media = n.attr_text("media");
    g.group_jid = n.attr_text("group-jid");
    g.call_id = n.attr_text("call-id");
    g.call_creator = n.attr_text("call-creator");
    g.joinable = n.attr_text("joinable") == "1";
    g.rekey = n.attr_text("rekey") == "1";
    for (const Node &u : n.children) {
        if (u.tag.text != "user") continue;
        GroupUser gu;
        gu.node = &u;
        gu.jid = read_text(u, "jid", gu.at.jid);
        gu.user_pn = u.attr_text("user_pn");
        gu.state = u.attr_text("state");
        gu.type = u.attr_text("type");
        for (const Node &d : u.children) {
            if (d.tag.text != "device") continue;
            GroupDevice gd;
            gd.node = &d;
            gd.jid = read_text(d, "jid", gd.at.jid);
            gd.participant = keys::normalize_participant_id(gd.jid);
            gd.platform = d.attr_text("platform");
            read_u32(d, "pid", gd.pid, notes);
            gu.devices.push_back(gd);
        }
        g.users.push_back(gu);
    }
    return g;
}

void parse_destination(const Node &d, CallStanza &s) {
    s.destination_node = &d;
    for (const Node &c : d.children) {
        std::string_view tag = c.tag.text;
        if (tag == "to") {
            s.destination_fanout = true;
            Target t;
            t.node = &c;
            t.jid = read_text(c, "jid", t.at.jid);
            t.participant = keys::normalize_participant_id(t.jid);
            s.targets.push_back(t);
            for (const Node &e : c.children)
                if (e.tag.text == "enc") s.encs.push_back(parse_enc(e, &c, s.notes));
        } else if (tag == "te" || tag == "te2" || tag == "endpoint") {
            s.destination_candidates = true;
            s.endpoints.push_back(parse_endpoint(c, true, s.notes));
        }
    }
}

void parse_action_body(const Node &a, CallStanza &s) {
    for (const Node &c : a.children) {
        std::string_view tag = c.tag.text;
        if (tag == "audio") {
            Audio au;
            au.node = &c;
            au.enc = read_text(c, "enc", au.at.enc);
            au.at.rate = read_u32(c, "rate", au.rate, s.notes);
            s.audio.push_back(au);
        } else if (tag == "video") {
            s.video_node = &c;
        } else if (tag == "net") {
            // A second <net> updates the first: values it does not carry stay.
            if (!s.net) s.net.emplace();
            Net &net = *s.net;
            net.node = &c;
            net.at.medium = read_u32(c, "medium", net.medium, s.notes);
            if (net.medium) net.medium_name = net_medium_name(*net.medium);
            net.at.protocol = read_u32(c, "protocol", net.protocol, s.notes);
        } else if (tag == "capability") {
            s.capability = parse_capability(c, s.notes);
        } else if (tag == "encopt") {
            s.encopt_node = &c;
            s.at.keygen = read_u32(c, "keygen", s.keygen, s.notes);
        } else if (tag == "privacy") {
            s.privacy_node = &c;
        } else if (tag == "device-identity") {
            s.device_identity_node = &c;
        } else if (tag == "rte") {
            s.rte_node = &c;
        } else if (tag == "voip_settings") {
            s.voip_settings_node = &c;
        } else if (tag == "metadata") {
            s.metadata_node = &c;
        } else if (tag == "enc") {
            s.encs.push_back(parse_enc(c, nullptr, s.notes));
        } else if (tag == "destination") {
            if (!s.destination_node) parse_destination(c, s);
        } else if (tag == "te" || tag == "te2" || tag == "endpoint") {
            s.endpoints.push_back(parse_endpoint(c, false, s.notes));
        }
    }
}

void parse_action_attrs(const Node &a, CallStanza &s) {
    switch (s.action) {
    case Action::Offer:
        s.caller_pn = a.attr_text("caller_pn");
        s.caller_country_code = a.attr_text("caller_country_code");
        s.device_class = a.attr_text("device_class");
        s.group_jid = a.attr_text("group-jid");
        s.joinable = a.attr_text("joinable") == "1";
        break;
    case Action::OfferNotice:
        s.notice_media = read_text(a, "media", s.at.notice_media);
        s.notice_type = a.attr_text("type");
        break;
    case Action::Reject:
    case Action::Terminate:
        if ((s.reason_attr = a.attr("reason"))) {
            s.reason = s.reason_attr->value.text;
            s.reason_grade = reason_grade(s.reason, &s.reason_meaning);
            s.reason_nonnormative = s.action == Action::Reject;  // SIG-08: exactly call-id + call-creator
        }
        s.at.duration = read_u32(a, "duration", s.duration, s.notes);
        s.at.audio_duration = read_u32(a, "audio_duration", s.audio_duration, s.notes);
        break;
    case Action::Transport:
        s.at.p2p_cand_round = read_u32(a, "p2p-cand-round", s.p2p_cand_round, s.notes);
        s.at.transport_type =
            read_u32(a, "transport-message-type", s.transport_type, s.notes);
        if (s.transport_type) s.transport_type_name = transport_type_name(*s.transport_type);
        read_u32(a, "ver", s.transport_ver, s.notes);
        break;
    case Action::Video:
        if (const Attribute *st = s.at.video_state = a.attr("state")) {
            s.video_state_text = st->value.text;
            if (std::optional<uint32_t> v = parse_u32(st->value.text)) {
                s.video_state = v;
                s.video_state_name = video_state_name(*v);
            }
        }
        s.video_dec = a.attr_text("dec");
        s.video_voip_settings = a.attr_text("voip_settings");
        s.video_device_orientation = a.attr_text("device_orientation");
        break;
    case Action::MuteV2:
        s.mute_state = read_text(a, "mute-state", s.at.mute_state);
        break;
    case Action::Mute:
        s.mute_media = a.attr_text("media");
        s.mute_value = a.attr_text("value");
        break;
    case Action::UserAction:
        s.user_action = a.attr_text("action");
        break;
    case Action::ScreenShare:
        s.screenshare_state = a.attr_text("screenshare_state");
        break;
    default:
        break;
    }
    s.at.transaction_id = read_u32(a, "transaction-id", s.transaction_id, s.notes);
}

void fill_envelope(const Node &top, CallStanza &s) {
    s.env.from = top.attr("from");
    s.env.to = top.attr("to");
    s.env.id = top.attr("id");
    s.env.t = top.attr("t");
    s.env.notify = top.attr("notify");
    s.env.platform = top.attr("platform");
    s.env.version = top.attr("version");
    s.env.e = top.attr("e");
    s.env.offline = top.attr("offline");
    s.env.participant = top.attr("participant");
    s.env.recipient = top.attr("recipient");
    s.stanza_id = attr_text(s.env.id);
}

void set_call_ids(const Node &n, CallStanza &s) {
    s.call_id_attr = n.attr("call-id");
    s.call_creator_attr = n.attr("call-creator");
    s.call_id = attr_text(s.call_id_attr);
    s.call_creator = attr_text(s.call_creator_attr);
    s.call_creator_participant = keys::normalize_participant_id(s.call_creator);
}

}  // namespace

CallStanza parse_stanza(const Node &top) {
    CallStanza s;
    s.top = &top;
    std::string_view tag = top.tag.text;

    if (tag == "call") {
        s.kind = StanzaKind::Call;
        fill_envelope(top, s);
        for (const Node &c : top.children) {
            Action a = action_from_tag(c.tag.text);
            if (a != Action::Unknown) {
                s.action = a;
                s.action_node = &c;
                break;
            }
        }
        if (!s.action_node && !top.children.empty()) {
            s.action = Action::Unknown;  // shown as an unknown action, never an error
            s.action_node = &top.children[0];
        }
        if (!s.action_node) {
            s.notes.push_back("<call> has no action child");
        } else {
            s.action_tag = s.action_node->tag.text;
            set_call_ids(*s.action_node, s);
            if (!s.call_id_attr) s.notes.push_back("<" + s.action_tag + "> has no call-id");
            parse_action_attrs(*s.action_node, s);
            parse_action_body(*s.action_node, s);
            const Node *gi = s.action == Action::GroupInfo ? s.action_node : find_tag(*s.action_node, "group_info", 0);
            if (gi) s.group_info = parse_group_info(*gi, s.notes);
        }
        find_relays(top, 0, s.relays, s.notes);
        return s;
    }

    if (tag == "ack") {
        const Node *with_id = nullptr;
        for (const Node &c : top.children)
            if (c.attr("call-id")) {
                with_id = &c;
                break;
            }
        const bool is_call = top.attr_text("class") == "call" || top.attr("call-id") || with_id || top.child("relay");
        if (!is_call) return s;
        s.kind = StanzaKind::Ack;
        fill_envelope(top, s);
        s.ack.cls = top.attr("class");
        s.ack.type = top.attr("type");
        s.ack.id = top.attr("id");
        s.ack.from = top.attr("from");
        s.ack.to = top.attr("to");
        s.ack.t = top.attr("t");
        s.ack.error_attr = top.attr("error");
        if (top.attr("call-id")) set_call_ids(top, s);
        else if (with_id) set_call_ids(*with_id, s);
        if (const Node *err = top.child("error")) {
            s.ack.error_node = err;
            read_u32(*err, "code", s.ack.error_code, s.notes);
            s.ack.error_text = err->attr_text("text");
        } else if (s.ack.error_attr) {
            read_u32(top, "error", s.ack.error_code, s.notes);
        }
        find_relays(top, 0, s.relays, s.notes);
        return s;
    }

    if (tag == "receipt") {
        const Node *offer = top.child("offer");
        if (!offer || !offer->attr("call-id")) return s;
        s.kind = StanzaKind::Receipt;
        fill_envelope(top, s);
        s.action_node = offer;
        s.action = Action::Offer;
        s.action_tag = offer->tag.text;
        set_call_ids(*offer, s);
        return s;
    }
    return s;
}

}  // namespace wacall::call
