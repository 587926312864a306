// Sanitised corpus export (spec-digest-wacrg.md §5): see corpus.h and docs/corpus.md.
#include "corpus/corpus.h"

#include "call/call.h"
#include "wabinary/decoder.h"
#include "wabinary/render.h"

#include <yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

namespace wacall::corpus {

using wabinary::Node;
using wabinary::Value;
using wabinary::ValueKind;

namespace {

// ---- shapes ---------------------------------------------------------------------------------------

bool all_digits(const std::string &s, size_t max_len) {
    if (s.empty() || s.size() > max_len) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

// A short enumeration word: "pkmsg", "accepted_elsewhere", "w:p", "opus".
bool word_shape(const std::string &s) {
    if (s.empty() || s.size() > 32 || !is_alpha(s[0])) return false;
    for (char c : s)
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.' && c != ':') return false;
    return true;
}

// An app version: "2.24.2.76".
bool version_shape(const std::string &s) {
    if (s.empty() || s.size() > 24) return false;
    size_t parts = 0, run = 0;
    for (char c : s) {
        if (c == '.') {
            if (run == 0) return false;
            ++parts;
            run = 0;
        } else if (c >= '0' && c <= '9') {
            if (++run > 6) return false;
        } else {
            return false;
        }
    }
    return run > 0 && parts <= 5;
}

// Tag and attribute names are kept when they look like names (they are dictionary words on the
// wire; anything else is replaced like a value).
bool name_shape(const std::string &s) {
    if (s.empty() || s.size() > 64 || !(is_alpha(s[0]) || s[0] == '_')) return false;
    for (char c : s)
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.' && c != ':') return false;
    return true;
}

enum class Shape { Small, Latency, Word, Version };

// Attributes whose values are protocol parameters (spec §1.17 value sets and the numeric
// attributes of §1-§4), kept when the value has the shape. Nothing else is kept.
const std::map<std::string, Shape> &allowed_attributes() {
    static const std::map<std::string, Shape> m = {
        {"v", Shape::Small}, {"count", Shape::Small}, {"rate", Shape::Small}, {"medium", Shape::Small},
        {"protocol", Shape::Small}, {"keygen", Shape::Small}, {"ver", Shape::Small}, {"priority", Shape::Small},
        {"duration", Shape::Small}, {"audio_duration", Shape::Small}, {"p2p-cand-round", Shape::Small},
        {"transport-message-type", Shape::Small}, {"orientation", Shape::Small},
        {"device_orientation", Shape::Small}, {"screen_width", Shape::Small}, {"screen_height", Shape::Small},
        {"transaction-id", Shape::Small}, {"connected-limit", Shape::Small}, {"relay_id", Shape::Small},
        {"token_id", Shape::Small}, {"auth_token_id", Shape::Small}, {"c2r_rtt", Shape::Small},
        {"self_pid", Shape::Small}, {"peer_pid", Shape::Small}, {"pid", Shape::Small}, {"code", Shape::Small},
        {"jitter", Shape::Small}, {"warp_mi_tag_len", Shape::Small}, {"uncompressed", Shape::Small},
        {"e", Shape::Small}, {"offline", Shape::Small}, {"joinable", Shape::Small}, {"rekey", Shape::Small},
        {"is_fna", Shape::Small}, {"attribute_padding", Shape::Small}, {"av-upgradable", Shape::Small},
        {"latency", Shape::Latency},
        {"type", Shape::Word}, {"class", Shape::Word}, {"media", Shape::Word}, {"enc", Shape::Word},
        {"dec", Shape::Word}, {"reason", Shape::Word}, {"platform", Shape::Word}, {"state", Shape::Word},
        {"mute-state", Shape::Word}, {"action", Shape::Word}, {"screenshare_state", Shape::Word},
        {"xmlns", Shape::Word},
        {"version", Shape::Version},
    };
    return m;
}

bool shape_ok(Shape s, const std::string &v) {
    switch (s) {
    case Shape::Small: return all_digits(v, 6);
    case Shape::Latency: return all_digits(v, 10);
    case Shape::Word: return word_shape(v);
    case Shape::Version: return version_shape(v);
    }
    return false;
}

// Labels of node contents (§5.3 spellings where the spec names one).
std::string content_label(const std::string &tag) {
    static const std::map<std::string, std::string> m = {
        {"enc", "CIPHERTEXT"},        {"capability", "BINARYCAPS"},   {"te", "RELAYCANDIDATE"},
        {"te2", "RELAYCANDIDATE"},    {"endpoint", "RELAYCANDIDATE"}, {"rte", "RELAYCANDIDATE"},
        {"key", "RELAYKEY"},          {"hbh_key", "HBHKEY"},          {"token", "RELAYTOKEN"},
        {"auth_token", "AUTHTOKEN"},  {"privacy", "PRIVACYTOKEN"},    {"device-identity", "DEVICEIDENTITY"},
        {"voip_settings", "VOIPSETTINGS"}, {"raw_e2e", "CALLKEY"},
    };
    auto it = m.find(tag);
    if (it != m.end()) return it->second;
    std::string l;
    for (char c : tag)
        if (is_alnum(c)) l += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return l.empty() ? "VALUE" : l;
}

std::string attr_label(const std::string &name) {
    if (name == "notify" || name == "name" || name == "pushname" || name == "push_name") return "PUSHNAME";
    if (name == "port") return "PORT";
    if (name == "t") return "TIMESTAMP";
    std::string l;
    for (char c : name)
        if (is_alnum(c)) l += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return l.empty() ? "VALUE" : l;
}

const std::set<std::string> &known_servers() {
    static const std::set<std::string> s = {"s.whatsapp.net", "c.us",   "lid",     "g.us",       "call",
                                            "broadcast",      "newsletter", "hosted", "hosted.lid", "interop",
                                            "msgr",           "bot"};
    return s;
}

// A, B, ..., Z, AA, AB, ... (bijective base 26).
std::string letters(unsigned i) {
    std::string s;
    ++i;
    while (i > 0) {
        --i;
        s.insert(s.begin(), static_cast<char>('A' + i % 26));
        i /= 26;
    }
    return s;
}

std::string pad4(unsigned n) {
    char b[16];
    std::snprintf(b, sizeof b, "%04u", n);
    return b;
}

// The text a value carries, as the key of the pseudonym tables.
std::string value_key(const Value &v) {
    if (v.kind == ValueKind::Binary) return std::string(reinterpret_cast<const char *>(v.bytes.data), v.bytes.size);
    return std::string(v.text);
}

bool printable_text(const Value &v) {
    return v.kind == ValueKind::Token || v.kind == ValueKind::Packed ||
           (v.kind == ValueKind::Binary && (v.printable || v.bytes.size == 0));
}

// Textual JID "user[.agent][:device]@server".
struct TextJid {
    std::string user, agent, device, server;
};

bool parse_text_jid(const std::string &s, TextJid &j) {
    size_t at = s.rfind('@');
    if (at == std::string::npos || at + 1 >= s.size()) return false;
    j.server = s.substr(at + 1);
    std::string left = s.substr(0, at);
    size_t colon = left.rfind(':');
    if (colon != std::string::npos) {
        j.device = left.substr(colon + 1);
        left.resize(colon);
    }
    size_t dot = left.rfind('.');
    if (dot != std::string::npos && all_digits(left.substr(dot + 1), 5)) {
        j.agent = left.substr(dot + 1);
        left.resize(dot);
    }
    j.user = left;
    return true;
}

const char *wire_name(uint8_t t) {
    switch (t) {
    case wabinary::JID_PAIR: return "JID_PAIR";
    case wabinary::AD_JID: return "AD_JID";
    case wabinary::FB_JID: return "FB_JID";
    case wabinary::INTEROP_JID: return "INTEROP_JID";
    case wabinary::HEX_8: return "HEX_8";
    case wabinary::NIBBLE_8: return "NIBBLE_8";
    case wabinary::BINARY_8: return "BINARY_8";
    case wabinary::BINARY_20: return "BINARY_20";
    case wabinary::BINARY_32: return "BINARY_32";
    default: return nullptr;
    }
}

std::string count(size_t n, const char *unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); }

// Wire type and length of a value (no value text).
std::string describe(const Value &v) {
    std::string s;
    const char *w = wire_name(v.wire_tag);
    switch (v.kind) {
    case ValueKind::Empty: return "empty";
    case ValueKind::Token:
        s = v.wire_tag >= wabinary::DICTIONARY_0 && v.wire_tag <= wabinary::DICTIONARY_3 ? "token double-byte" : "token";
        s += ", " + count(v.text.size(), "char");
        return s;
    case ValueKind::Packed:
        s = "packed";
        if (w) s += std::string(" ") + w;
        s += ", " + count(v.text.size(), "char");
        return s;
    case ValueKind::Jid:
        s = "jid";
        if (w) s += std::string(" ") + w;
        s += ", user " + count(v.jid_user.size(), "char");
        return s;
    case ValueKind::Binary:
        s = "binary";
        if (w) s += std::string(" ") + w;
        s += ", " + count(v.bytes.size, "byte");
        if (v.printable && v.bytes.size) s += " (text)";
        return s;
    }
    return "unknown";
}

std::string direction_text(Direction d) { return d == Direction::Incoming ? "incoming" : "outgoing"; }

}  // namespace

bool valid_technique(const std::string &s) {
    static const std::set<std::string> v = {"websocket-capture", "baileys-instrumentation", "frida-hooking",
                                            "mitm-tls", "static-smali-analysis", "memory-dump", "wasm-analysis"};
    return v.count(s) != 0;
}

bool valid_confidence(const std::string &s) {
    return s == "confirmed" || s == "probable" || s == "speculative" || s == "unknown";
}

bool valid_status(const std::string &s) {
    return s == "draft" || s == "review" || s == "stable" || s == "deprecated";
}

Direction infer_direction(const Node &top) {
    return top.attr("from") ? Direction::Incoming : Direction::Outgoing;
}

// ---- export-wide pseudonym state -------------------------------------------------------------------

struct Exporter::State {
    Options opt;
    std::vector<Record> recs;

    std::map<std::string, std::string> ids;  // call-ids and stanza ids
    unsigned next_call = 1, next_stanza = 1;
    std::map<std::string, std::string> users;  // JID user part -> A, B, ...
    unsigned next_user = 0;
    std::map<std::string, std::map<std::string, std::string>> labelled;  // label -> value -> placeholder
    std::map<std::string, std::string> ips;
    unsigned next_v4 = 1, next_v6 = 1;
    bool have_t0 = false;
    long long t0 = 0;

    std::string call_id(const std::string &v) {
        auto it = ids.find(v);
        if (it != ids.end()) return it->second;
        return ids[v] = "CALLID-" + pad4(next_call++) + "-synthetic";
    }
    std::string stanza_id(const std::string &v) {
        auto it = ids.find(v);
        if (it != ids.end()) return it->second;
        return ids[v] = "STANZAID-" + pad4(next_stanza++) + "-synthetic";
    }
    std::string label(const std::string &l, const std::string &v) {
        auto &m = labelled[l];
        auto it = m.find(v);
        if (it != m.end()) return it->second;
        std::string p = l + "PLACEHOLDER" + std::to_string(m.size() + 1);
        m[v] = p;
        return p;
    }
    std::string user(const std::string &u) {
        auto it = users.find(u);
        if (it != users.end()) return it->second;
        return users[u] = letters(next_user++);
    }
    void alias_user(const std::string &u, const std::string &as) {
        if (u.empty() || users.count(u)) return;
        auto it = users.find(as);
        if (it != users.end()) users[u] = it->second;
    }
    std::string server(const std::string &s) { return known_servers().count(s) ? s : label("SERVER", s); }
    // User part by server: the call-id of a {call-id}@call JID, a group id, or a person.
    std::string user_of(const std::string &u, const std::string &srv) {
        if (u.empty()) return u;
        if (srv == "call") return call_id(u);
        if (srv == "g.us") return label("GROUP", u);
        return user(u);
    }
    std::string jid_value(const Value &v) {
        std::string u = user_of(std::string(v.jid_user), std::string(v.jid_server));
        std::string srv = server(std::string(v.jid_server));
        if (u.empty()) return srv;
        std::string s = u;
        if (v.jid_device > 0 || (v.wire_tag == wabinary::AD_JID && v.jid_device == 0)) s += ":" + std::to_string(v.jid_device);
        return s + "@" + srv;
    }
    std::string jid_text(const TextJid &j) {
        std::string u = user_of(j.user, j.server);
        std::string srv = server(j.server);
        if (u.empty()) return srv;
        std::string s = u;
        if (!j.agent.empty()) s += "." + j.agent;
        if (!j.device.empty()) s += ":" + (all_digits(j.device, 5) ? j.device : label("DEVICE", j.device));
        return s + "@" + srv;
    }
    std::string doc_address(const std::string &ip) {
        auto it = ips.find(ip);
        if (it != ips.end()) return it->second;
        unsigned a, b, c, d;
        char tail;
        std::string out;
        if (std::sscanf(ip.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a < 256 && b < 256 && c < 256 &&
            d < 256) {
            unsigned n = next_v4++;  // 203.0.113.1 .. .254, then 198.51.100.x, 192.0.2.x
            static const char *nets[] = {"203.0.113.", "198.51.100.", "192.0.2."};
            out = nets[((n - 1) / 254) % 3] + std::to_string((n - 1) % 254 + 1);
        } else if (ip.find(':') != std::string::npos && ip.size() <= 45) {
            char b6[32];
            std::snprintf(b6, sizeof b6, "2001:db8::%x", next_v6++);
            out = b6;
        } else {
            out = label("IPADDRESS", ip);
        }
        return ips[ip] = out;
    }
    std::string relative_t(const std::string &v) {
        if (!all_digits(v, 12)) return label("TIMESTAMP", v);
        long long t = std::atoll(v.c_str());
        if (!have_t0) {
            have_t0 = true;
            t0 = t;
        }
        long long d = t - t0;
        return d >= 0 ? "T0+" + std::to_string(d) : "T0-" + std::to_string(-d);
    }
};

namespace {

// How one value was treated (for the notes of attributes and the outline).
enum class Treat { Kept, Pseudonym, Placeholder, Relative, Documentation };
const char *treat_name(Treat t) {
    switch (t) {
    case Treat::Kept: return "kept (allow-listed structure)";
    case Treat::Pseudonym: return "pseudonym";
    case Treat::Placeholder: return "placeholder";
    case Treat::Relative: return "relative time";
    case Treat::Documentation: return "documentation address";
    }
    return "";
}

struct Walker {
    Exporter::State &st;
    Record &rec;
    std::string xml, outline;

    // Registers, before anything else in the stanza, the call-ids and the call creators, so the
    // caller becomes A and a call-id seen first as a JID user or stanza id is still a CALLID.
    void prepass(const Node &n) {
        for (const auto &a : n.attrs)
            if (a.key.text == "call-id" && printable_text(a.value) && !a.value.text.empty()) st.call_id(std::string(a.value.text));
        const wabinary::Attribute *creator = n.attr("call-creator");
        if (creator) {
            std::string cu;
            if (creator->value.kind == ValueKind::Jid) {
                cu = creator->value.jid_user;
                if (!cu.empty() && creator->value.jid_server != "call" && creator->value.jid_server != "g.us") st.user(cu);
            } else {
                TextJid j;
                if (printable_text(creator->value) && parse_text_jid(std::string(creator->value.text), j) && !j.user.empty()) {
                    cu = j.user;
                    st.user(cu);
                }
            }
            // caller_pn is the caller's phone-number JID: the caller's letter (A@s.whatsapp.net).
            if (const wabinary::Attribute *pn = n.attr("caller_pn")) st.alias_user(jid_user_of(pn->value), cu);
        }
        if (const wabinary::Attribute *upn = n.attr("user_pn"))
            if (const wabinary::Attribute *j = n.attr("jid")) {
                std::string ju = jid_user_of(j->value);
                if (!ju.empty()) {
                    st.user(ju);
                    st.alias_user(jid_user_of(upn->value), ju);
                }
            }
        for (const auto &c : n.children) prepass(c);
    }

    static std::string jid_user_of(const Value &v) {
        if (v.kind == ValueKind::Jid) return std::string(v.jid_user);
        TextJid j;
        if (printable_text(v) && parse_text_jid(std::string(v.text), j)) return j.user;
        return std::string();
    }

    std::string jid_of(const Value &v, bool &is_jid) {
        is_jid = true;
        if (v.kind == ValueKind::Jid) return st.jid_value(v);
        TextJid j;
        if (printable_text(v) && v.text.find('@') != std::string::npos && parse_text_jid(std::string(v.text), j))
            return st.jid_text(j);
        is_jid = false;
        return std::string();
    }

    std::string attr_value(const std::string &name, const Value &v, unsigned depth, Treat &how) {
        const std::string value_text(v.text);
        bool is_jid = false;
        std::string j = jid_of(v, is_jid);
        if (is_jid) {
            how = Treat::Pseudonym;
            return j;
        }
        bool text = printable_text(v);
        std::string key = value_key(v);
        if (key.empty()) {  // an empty value carries nothing
            how = Treat::Kept;
            return key;
        }
        if (name == "call-id") {
            how = Treat::Pseudonym;
            return text && !value_text.empty() ? st.call_id(value_text) : st.label("CALLID", key);
        }
        if (name == "id") {
            if (depth > 0 && text && all_digits(value_text, 3)) {
                how = Treat::Kept;  // a table index (<token id="0">)
                return value_text;
            }
            how = Treat::Pseudonym;
            return st.stanza_id(key);
        }
        if (name == "t" && text) {
            how = Treat::Relative;
            return st.relative_t(value_text);
        }
        if (name == "ip" && text) {
            how = Treat::Documentation;
            return st.doc_address(value_text);
        }
        auto it = allowed_attributes().find(name);
        if (it != allowed_attributes().end() && text && shape_ok(it->second, value_text)) {
            how = Treat::Kept;
            return value_text;
        }
        static const std::set<std::string> jid_attrs = {"from", "to", "jid", "participant", "recipient"};
        if (text && jid_attrs.count(name) && known_servers().count(value_text)) {  // a server-only JID sent as text
            how = Treat::Kept;
            return value_text;
        }
        how = Treat::Placeholder;
        return st.label(name_shape(name) ? attr_label(name) : "VALUE", key);
    }

    std::string content_value(const std::string &tag, const Value &v, Treat &how) {
        bool is_jid = false;
        std::string j = jid_of(v, is_jid);
        if (is_jid) {
            how = Treat::Pseudonym;
            return j;
        }
        if (value_key(v).empty()) {  // empty content carries nothing
            how = Treat::Kept;
            return std::string();
        }
        const std::string value_text(v.text);
        if (tag == "warp_mi_tag_len" && printable_text(v) && all_digits(value_text, 3)) {
            how = Treat::Kept;
            return value_text;
        }
        how = Treat::Placeholder;
        return st.label(name_shape(tag) ? content_label(tag) : "VALUE", value_key(v));
    }

    std::string name_of(std::string_view name, const char *label) {
        const std::string n(name);
        return name_shape(n) ? n : st.label(label, n);
    }

    void node(const Node &n, const std::string &path, unsigned depth) {
        std::string ind(depth * 2, ' ');
        std::string tag = name_of(n.tag.text, "TAG");
        xml += ind + "<" + tag;
        outline += ind + "<" + tag + "> tag " + describe(n.tag);
        if (n.has_children) outline += "; " + (n.children.empty() ? std::string("empty list") : (n.children.size() == 1 ? std::string("1 child") : std::to_string(n.children.size()) + " children"));
        outline += "\n";
        for (const auto &a : n.attrs) {
            std::string an = name_of(a.key.text, "ATTR");
            Treat how = Treat::Placeholder;
            std::string val = attr_value(std::string(a.key.text), a.value, depth, how);
            xml += " " + an + "=\"";
            wabinary::append_escaped(xml, val);
            xml += "\"";
            std::string note = describe(a.value) + "; " + treat_name(how);
            outline += ind + "  @" + an + ": " + note + "\n";
            rec.attributes.push_back({path.empty() ? an : path + "." + an, val, note});
        }
        if (n.has_children) {
            if (n.children.empty()) {
                xml += "></" + tag + ">\n";
                return;
            }
            xml += ">\n";
            std::map<std::string, unsigned> total, seen;
            for (const auto &c : n.children) ++total[name_of(c.tag.text, "TAG")];
            for (const auto &c : n.children) {
                std::string ct = name_of(c.tag.text, "TAG");
                std::string cp = path.empty() ? ct : path + "." + ct;
                if (total[ct] > 1) cp += "[" + std::to_string(++seen[ct]) + "]";
                node(c, cp, depth + 1);
            }
            xml += ind + "</" + tag + ">\n";
        } else if (n.content.kind != ValueKind::Empty) {
            Treat how = Treat::Placeholder;
            std::string val = content_value(std::string(n.tag.text), n.content, how);
            xml += ">";
            wabinary::append_escaped(xml, val);
            xml += "</" + tag + ">\n";
            std::string shape;
            if ((n.tag.text == "te" || n.tag.text == "te2" || n.tag.text == "endpoint") &&
                n.content.kind == ValueKind::Binary && (n.content.bytes.size == 6 || n.content.bytes.size == 18))
                shape = n.content.bytes.size == 6 ? ", packed IPv4 address + port" : ", packed IPv6 address + port";
            outline += ind + "  content: " + describe(n.content) + shape + "; " + treat_name(how) + "\n";
        } else {
            xml += "/>\n";
        }
    }
};

// ---- YAML (libyaml's emitter) ----------------------------------------------------------------------

class Yaml {
public:
    Yaml() {
        ok_ = yaml_emitter_initialize(&e_) != 0;
        if (!ok_) return;
        yaml_emitter_set_output(&e_, &Yaml::write, this);
        yaml_emitter_set_unicode(&e_, 1);
        yaml_emitter_set_width(&e_, -1);  // never fold long scalars
        yaml_emitter_set_indent(&e_, 2);
        yaml_event_t ev;
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        emit(ev);
    }
    ~Yaml() { yaml_emitter_delete(&e_); }
    Yaml(const Yaml &) = delete;
    Yaml &operator=(const Yaml &) = delete;

    void doc_start() {
        yaml_event_t ev;
        yaml_document_start_event_initialize(&ev, nullptr, nullptr, nullptr, 0);
        emit(ev);
    }
    void doc_end() {
        yaml_event_t ev;
        yaml_document_end_event_initialize(&ev, 1);
        emit(ev);
    }
    void map_start() {
        yaml_event_t ev;
        yaml_mapping_start_event_initialize(&ev, nullptr, nullptr, 1, YAML_BLOCK_MAPPING_STYLE);
        emit(ev);
    }
    void map_end() {
        yaml_event_t ev;
        yaml_mapping_end_event_initialize(&ev);
        emit(ev);
    }
    void seq_start(bool flow = false) {
        yaml_event_t ev;
        yaml_sequence_start_event_initialize(&ev, nullptr, nullptr, 1,
                                             flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        emit(ev);
    }
    void seq_end() {
        yaml_event_t ev;
        yaml_sequence_end_event_initialize(&ev);
        emit(ev);
    }
    // Keys are fixed schema names: plain.
    void key(const char *k) { scalar(k, YAML_PLAIN_SCALAR_STYLE); }
    // Every string value double-quoted, so no value can be read as a number, bool or null.
    void str(const std::string &v) { scalar(v, YAML_DOUBLE_QUOTED_SCALAR_STYLE); }
    // Multi-line text as a literal block (the emitter falls back to quoting when it must).
    void block(const std::string &v) { scalar(v, YAML_LITERAL_SCALAR_STYLE); }
    void boolean(bool b) { scalar(b ? "true" : "false", YAML_PLAIN_SCALAR_STYLE); }
    void kv(const char *k, const std::string &v) {
        key(k);
        str(v);
    }

    bool finish(std::string &out) {
        yaml_event_t ev;
        yaml_stream_end_event_initialize(&ev);
        emit(ev);
        if (ok_) yaml_emitter_flush(&e_);
        out = std::move(buf_);
        return ok_;
    }
    std::string error() const { return e_.problem ? e_.problem : "unknown emitter error"; }

private:
    static int write(void *data, unsigned char *buffer, size_t size) {
        static_cast<Yaml *>(data)->buf_.append(reinterpret_cast<const char *>(buffer), size);
        return 1;
    }
    void scalar(const std::string &v, yaml_scalar_style_t style) {
        yaml_event_t ev;
        if (!yaml_scalar_event_initialize(&ev, nullptr, nullptr,
                                          reinterpret_cast<yaml_char_t *>(const_cast<char *>(v.data())),
                                          static_cast<int>(v.size()), 1, 1, style)) {
            ok_ = false;
            return;
        }
        emit(ev);
    }
    void emit(yaml_event_t &ev) {
        if (!ok_) {
            yaml_event_delete(&ev);
            return;
        }
        if (!yaml_emitter_emit(&e_, &ev)) ok_ = false;  // the emitter frees the event either way
    }

    yaml_emitter_t e_;
    std::string buf_;
    bool ok_ = false;
};

void emit_record(Yaml &y, const Record &r, const Options &opt) {
    y.doc_start();
    y.map_start();
    y.kv("id", r.id);
    y.kv("title", r.title);
    y.kv("status", opt.status);
    y.key("source");
    y.map_start();
    y.kv("technique", opt.technique);
    if (!opt.tools.empty()) {
        y.key("tools");
        y.seq_start(true);
        for (const auto &t : opt.tools) y.str(t);
        y.seq_end();
    }
    y.map_end();
    y.kv("stanza_tag", r.stanza_tag);
    y.kv("direction", r.direction);
    y.kv("confidence", opt.confidence);
    y.key("raw");
    y.map_start();
    y.kv("format", "xml");
    y.key("body");
    y.block(r.raw_body);
    y.map_end();
    y.key("decoded");
    y.block(r.decoded);
    if (!r.attributes.empty()) {
        y.key("attributes");
        y.seq_start();
        for (const auto &a : r.attributes) {
            y.map_start();
            y.kv("name", a.name);
            y.kv("value", a.value);
            y.kv("note", a.note);
            y.map_end();
        }
        y.seq_end();
    }
    y.kv("notes", r.notes);
    y.key("sanitized");
    y.boolean(true);
    y.map_end();
    y.doc_end();
}

std::string id_label(const std::string &s) {
    std::string o;
    for (char c : s) {
        if (is_alnum(c)) o += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        else if (c == '_' || c == '-') o += '-';
    }
    return o.empty() ? "stanza" : o.substr(0, 32);
}

}  // namespace

// ---- Exporter ----------------------------------------------------------------------------------------

Exporter::Exporter(Options opt) : st_(std::make_unique<State>()) { st_->opt = std::move(opt); }
Exporter::~Exporter() = default;

const Options &Exporter::options() const { return st_->opt; }
size_t Exporter::size() const { return st_->recs.size(); }

const Record &Exporter::add(const Node &top, const Context &ctx) {
    Record r;
    r.frame = ctx.frame;
    r.index = ctx.index;
    r.rel_time = ctx.rel_time;
    const std::string stanza_tag(top.tag.text);
    r.stanza_tag = name_shape(stanza_tag) ? stanza_tag : st_->label("TAG", stanza_tag);
    call::CallStanza cs = call::parse_stanza(top);
    if (cs.action_node && name_shape(cs.action_tag)) r.action = cs.action_tag;
    Direction d = ctx.direction;
    if (d == Direction::Unknown) {
        d = infer_direction(top);
        r.direction_inferred = true;
    }
    r.direction = direction_text(d);

    Walker w{*st_, r, {}, {}};
    w.prepass(top);
    w.node(top, "", 0);
    r.raw_body = std::move(w.xml);
    std::string head = "WABinary";
    if (ctx.dict_version >= 0) head += " dictionary v" + std::to_string(ctx.dict_version);
    head += "; every node, attribute and content with its wire type and length, and how its value was "
            "sanitised (the values are in raw.body and attributes)\n";
    r.decoded = head + w.outline;

    std::string what = r.action.empty() ? "<" + r.stanza_tag + ">" : "<" + r.stanza_tag + "> " + r.action;
    if (r.action.empty() && r.stanza_tag == "ack") {
        const wabinary::Attribute *ty = top.attr("type");
        const std::string type_text(ty ? ty->value.text : std::string_view());
        if (ty && printable_text(ty->value) && word_shape(type_text)) what += " of " + type_text;
    }
    r.title = what + ", " + r.direction + " (frame " + std::to_string(ctx.frame) + ")";
    st_->recs.push_back(std::move(r));
    return st_->recs.back();
}

std::vector<Record> Exporter::records() const {
    std::vector<Record> v = st_->recs;
    std::stable_sort(v.begin(), v.end(), [](const Record &a, const Record &b) {
        return a.frame != b.frame ? a.frame < b.frame : a.index < b.index;
    });
    double first = v.empty() ? 0 : v.front().rel_time;
    for (const auto &r : v) first = std::min(first, r.rel_time);
    unsigned n = 0;
    for (auto &r : v) {
        r.id = "wacall-" + pad4(++n) + "-" + id_label(r.action.empty() ? r.stanza_tag : r.action);
        char t[64];
        std::snprintf(t, sizeof t, "%.3f", r.rel_time - first);
        r.notes = "Exported by wacall from capture frame " + std::to_string(r.frame) + " (stanza " +
                  std::to_string(r.index + 1) + " of the frame), " + t + " s after the first exported stanza. " +
                  (r.direction_inferred ? "Direction guessed from the envelope (from present: incoming), the "
                                          "transport did not say. "
                                        : "Direction from the Noise transport (client to server: outgoing). ") +
                  "Identifiers, ciphertexts, keys, tokens, addresses and names are placeholders; pseudonyms are "
                  "consistent within this export only; t is relative to the first timestamp of the export. "
                  "Check the record again before submitting it (docs/corpus.md).";
    }
    return v;
}

std::string record_yaml(const Record &r, const Options &opt) {
    Yaml y;
    emit_record(y, r, opt);
    std::string out;
    if (!y.finish(out)) return "# wacall corpus: YAML emitter error: " + y.error() + "\n";
    return out;
}

std::string Exporter::yaml() const {
    std::vector<Record> v = records();
    std::string head = "# wacall corpus export: " + std::to_string(v.size()) +
                       " sanitised call stanza record(s) in the wacrg capture schema (one YAML document each)\n";
    if (v.empty())
        return head +
               "# No call stanza was decrypted: set wacall.keylog_file to a key log with the Noise keys of the "
               "capture (docs/keylog.md)\n";
    Yaml y;
    for (const auto &r : v) emit_record(y, r, st_->opt);
    std::string out;
    if (!y.finish(out)) return head + "# YAML emitter error: " + y.error() + "\n";
    return head + out;
}

}  // namespace wacall::corpus
