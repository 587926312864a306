#include "keys/keylog.h"

#include <algorithm>

#include "keys/participant.h"

#include <json-glib/json-glib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <string_view>

namespace wacall::keys {

namespace {

constexpr size_t kMaxFields = 8;
// Bytes kept from the start and from the end of what was parsed, to recognise a file rewritten
// in place (not merely appended to) without re-reading it all.
constexpr size_t kHead = 256;
constexpr size_t kFingerprint = 64;

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes exactly 32 bytes of hex; on failure `err` says why.
bool hex32(std::string_view s, Key32 &out, std::string &err) {
    if (s.size() != 64) {
        err = "must be 64 hex digits (32 bytes), got " + std::to_string(s.size()) + " characters";
        return false;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            err = "is not hex";
            return false;
        }
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
}

// Text from the file as it may be shown in a message: bytes outside printable ASCII (a NUL, a
// stray byte-order mark) would be invisible or cut the message short, so they are written \xNN.
std::string printable(std::string_view s, size_t max = 64) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < s.size() && i < max; i++) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (s.size() > max) out += "...";
    return out;
}

// UTF-16 text (Windows editors, PowerShell's `>`): by its byte-order mark, or by the NUL that
// follows or precedes every ASCII character of a label. Sets `bom` to the bytes to skip.
const char *utf16_encoding(const std::string &d, size_t &bom) {
    bom = 0;
    auto u = [&](size_t i) { return static_cast<unsigned char>(d[i]); };
    if (d.size() >= 2 && u(0) == 0xFF && u(1) == 0xFE) return bom = 2, "UTF-16LE";
    if (d.size() >= 2 && u(0) == 0xFE && u(1) == 0xFF) return bom = 2, "UTF-16BE";
    if (d.size() >= 4 && u(0) && !u(1) && u(2) && !u(3)) return "UTF-16LE";
    if (d.size() >= 4 && !u(0) && u(1) && !u(2) && u(3)) return "UTF-16BE";
    return nullptr;
}

std::string key_str(const Key32 &k) { return std::string(reinterpret_cast<const char *>(k.data()), k.size()); }

Key32 str_key(const std::string &s) {
    Key32 k{};
    std::memcpy(k.data(), s.data(), s.size() < k.size() ? s.size() : k.size());
    return k;
}

std::string epoch_key(const std::string &call_id, uint32_t txid) {
    return call_id + '\n' + std::to_string(txid);
}

struct FileStat {
    bool ok = false, is_dir = false, is_regular = false;
    uint64_t size = 0, mtime_ns = 0, ctime_ns = 0, dev = 0, ino = 0;
    std::string err;
};

FileStat stat_file(const std::string &path) {
    FileStat fs;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        fs.err = std::strerror(errno);
        return fs;
    }
    fs.ok = true;
    fs.is_dir = (st.st_mode & S_IFMT) == S_IFDIR;
    fs.is_regular = (st.st_mode & S_IFMT) == S_IFREG;
    fs.size = static_cast<uint64_t>(st.st_size);
#if defined(__linux__)
    fs.mtime_ns = uint64_t(st.st_mtim.tv_sec) * 1000000000u + uint64_t(st.st_mtim.tv_nsec);
    fs.ctime_ns = uint64_t(st.st_ctim.tv_sec) * 1000000000u + uint64_t(st.st_ctim.tv_nsec);
#else
    fs.mtime_ns = uint64_t(st.st_mtime) * 1000000000u;
    fs.ctime_ns = uint64_t(st.st_ctime) * 1000000000u;
#endif
    fs.dev = static_cast<uint64_t>(st.st_dev);
    fs.ino = static_cast<uint64_t>(st.st_ino);
    return fs;
}

}  // namespace

void KeyStore::problem(const std::string &name, size_t line_no, std::string msg, Problem::Kind kind) {
    problem_serial_++;
    if (kind == Problem::Line || kind == Problem::Conflict) {
        size_t &n = kind == Problem::Conflict ? conflict_problems_ : line_problems_;
        if (n >= kMaxProblems) {
            suppressed_++;  // counted, and said once by whoever reports problems
            return;
        }
        n++;
    }
    problems_.push_back({name, line_no, std::move(msg), kind});
}

void KeyStore::clear() {
    clears_++;
    noise_traffic_.clear();
    noise_private_.clear();
    call_keys_.clear();
    call_key_alts_.clear();
    call_key_pref_.clear();
    traffic_alts_.clear();
    private_alts_.clear();
    participants_.clear();
    epochs_.clear();
    epoch_alts_.clear();
    tag_lens_.clear();
    relay_keys_.clear();
    hbh_keys_.clear();
    problems_.clear();
    line_problems_ = conflict_problems_ = suppressed_ = 0;
    problem_serial_++;
    encoding_.clear();
    have_stat_ = false;
    file_problem_ = false;
    consumed_ = 0;
    lines_ = 0;
    head_bytes_.clear();
    last_bytes_.clear();
    tail_.clear();
    tail_undo_.clear();
    tail_problems_ = 0;
    tail_suppressed_ = 0;
    generation_++;
}

void KeyStore::set_path(std::string path) {
    if (path == path_) return;
    path_ = std::move(path);
    source_ = path_;
    clear();
}

// ---- lookups ----------------------------------------------------------------------------------

const NoiseTraffic *KeyStore::noise_traffic(ByteView pub) const {
    if (pub.size != 32) return nullptr;
    Key32 k;
    std::memcpy(k.data(), pub.data, 32);
    auto it = noise_traffic_.find(k);
    return it == noise_traffic_.end() ? nullptr : &it->second;
}

const NoisePrivate *KeyStore::noise_private(ByteView pub) const {
    if (pub.size != 32) return nullptr;
    Key32 k;
    std::memcpy(k.data(), pub.data, 32);
    auto it = noise_private_.find(k);
    return it == noise_private_.end() ? nullptr : &it->second;
}

const Bytes *KeyStore::call_key(const std::string &call_id) const {
    auto it = call_keys_.find(call_id);
    if (it == call_keys_.end()) return nullptr;
    auto pref = call_key_pref_.find(call_id);
    if (pref != call_key_pref_.end() && pref->second > 0) {
        auto alts = call_key_alts_.find(call_id);
        if (alts != call_key_alts_.end() && pref->second <= alts->second.size()) return &alts->second[pref->second - 1].key;
    }
    return &it->second.key;
}

std::vector<CallKeyCandidate> KeyStore::call_key_candidates(const std::string &call_id) const {
    std::vector<CallKeyCandidate> out;
    auto it = call_keys_.find(call_id);
    if (it == call_keys_.end()) return out;
    out.push_back({&it->second.key, it->second.line});
    auto alts = call_key_alts_.find(call_id);
    if (alts != call_key_alts_.end())
        for (const auto &e : alts->second) out.push_back({&e.key, e.line});
    return out;
}

void KeyStore::prefer_call_key(const std::string &call_id, size_t index) {
    auto &pref = call_key_pref_[call_id];
    if (pref == index) return;
    pref = static_cast<uint32_t>(index);
    preferences_++;
}

std::vector<const NoiseTraffic *> KeyStore::noise_traffic_candidates(ByteView pub) const {
    std::vector<const NoiseTraffic *> out;
    if (const NoiseTraffic *t = noise_traffic(pub)) {
        out.push_back(t);
        auto alts = traffic_alts_.find(t->client_eph_pub);
        if (alts != traffic_alts_.end())
            for (const auto &a : alts->second) out.push_back(&a);
    }
    return out;
}

std::vector<const NoisePrivate *> KeyStore::noise_private_candidates(ByteView pub) const {
    std::vector<const NoisePrivate *> out;
    if (const NoisePrivate *p = noise_private(pub)) {
        out.push_back(p);
        auto alts = private_alts_.find(p->client_eph_pub);
        if (alts != private_alts_.end())
            for (const auto &a : alts->second) out.push_back(&a);
    }
    return out;
}

const std::vector<std::string> &KeyStore::participants(const std::string &call_id) const {
    static const std::vector<std::string> none;
    auto it = participants_.find(call_id);
    return it == participants_.end() ? none : it->second;
}

const Bytes *KeyStore::epoch(const std::string &call_id, uint32_t transaction_id) const {
    auto it = epochs_.find(epoch_key(call_id, transaction_id));
    return it == epochs_.end() ? nullptr : &it->second.key;
}

int KeyStore::warp_tag_len(const std::string &call_id) const {
    auto it = tag_lens_.find(call_id);
    return it == tag_lens_.end() ? 0 : it->second;
}

std::vector<std::pair<uint32_t, const Bytes *>> KeyStore::epochs(const std::string &call_id) const {
    // A scan, not an index: called once per stream when the media plane builds its key cache.
    std::vector<std::pair<uint32_t, const Bytes *>> out;
    const std::string prefix = call_id + '\n';
    for (const auto &kv : epochs_) {
        if (kv.first.compare(0, prefix.size(), prefix) != 0) continue;
        if (std::optional<uint32_t> tx = parse_decimal_u32(std::string_view(kv.first).substr(prefix.size())))
            out.emplace_back(*tx, &kv.second.key);
    }
    std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    return out;
}

std::vector<EpochCandidate> KeyStore::epoch_candidates(const std::string &call_id) const {
    std::vector<EpochCandidate> out;
    for (const auto &e : epochs(call_id)) {
        const std::string ek = epoch_key(call_id, e.first);
        out.push_back({e.first, 0, e.second, epochs_.find(ek)->second.line});
        auto alts = epoch_alts_.find(ek);
        if (alts == epoch_alts_.end()) continue;
        for (size_t i = 0; i < alts->second.size(); i++)
            out.push_back({e.first, static_cast<uint32_t>(i + 1), &alts->second[i].key, alts->second[i].line});
    }
    return out;
}

const Bytes *KeyStore::hbh_key(const std::string &call_id) const {
    auto it = hbh_keys_.find(call_id);
    return it == hbh_keys_.end() ? nullptr : &it->second;
}

const std::string *KeyStore::relay_key(const std::string &call_id) const {
    auto it = relay_keys_.find(call_id);
    return it == relay_keys_.end() ? nullptr : &it->second;
}

// ---- line parsing -----------------------------------------------------------------------------

bool KeyStore::add_call_key(const std::string &call_id, const Bytes &key, size_t line_no,
                            const std::string &name, std::vector<Undo> *undo) {
    const auto line = static_cast<uint32_t>(line_no);
    auto ins = call_keys_.emplace(call_id, CallKeyEntry{key, line});
    if (ins.second) {
        if (undo) undo->push_back({Undo::CallKey, call_id, {}});
        return true;
    }
    // A disagreeing value is kept as a candidate: a wrong key corrected by a later line (the
    // live workflow) must still decrypt. The one that authenticates is used.
    if (ins.first->second.key == key) return false;
    auto &alts = call_key_alts_[call_id];
    for (const auto &a : alts)
        if (a.key == key) return false;
    const std::string id = printable(call_id);
    if (alts.size() + 1 >= kMaxCandidates) {
        conflict(name, line_no, "call key for call-id " + id + " is its " + std::to_string(alts.size() + 2) +
                                    "th differing value; only " + std::to_string(kMaxCandidates) + " are tried, this one is ignored");
        return false;
    }
    alts.push_back(CallKeyEntry{key, line});
    conflict(name, line_no, "call key for call-id " + id + " differs from line " + std::to_string(ins.first->second.line) +
                                "; both are tried and the one that authenticates is used");
    if (undo) undo->push_back({Undo::CallKeyAlt, call_id, {}});
    return true;
}

bool KeyStore::add_participant(const std::string &call_id, const std::string &jid, size_t line_no,
                               const std::string &name, std::vector<Undo> *undo) {
    std::string id = normalize_participant_id(jid);
    if (!looks_like_jid(id)) {
        problem(name, line_no, "participant \"" + jid.substr(0, 80) + "\" is not a JID (user@server)");
        return false;
    }
    auto &v = participants_[call_id];
    for (const auto &p : v)
        if (p == id) return false;
    v.push_back(id);
    if (undo) undo->push_back({Undo::Participant, call_id, id});
    return true;
}

bool KeyStore::parse_json(const std::string &line, size_t line_no, const std::string &name, bool *changed,
                          std::vector<Undo> *undo) {
    JsonParser *parser = json_parser_new();
    GError *err = nullptr;
    bool ok = false;
    if (!json_parser_load_from_data(parser, line.data(), static_cast<gssize>(line.size()), &err)) {
        problem(name, line_no, std::string("invalid JSON: ") + (err && err->message ? err->message : "parse error"));
        if (err) g_error_free(err);
        g_object_unref(parser);
        return false;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        problem(name, line_no, "JSON line is not an object");
        g_object_unref(parser);
        return false;
    }
    JsonObject *obj = json_node_get_object(root);
    bool bad_type = false;
    // Optional members may be null (absent); any other non-string type is a problem.
    auto get = [&](const char *member, std::string &out) {
        JsonNode *m = json_object_get_member(obj, member);
        if (!m || JSON_NODE_HOLDS_NULL(m)) return false;
        if (JSON_NODE_HOLDS_VALUE(m) && json_node_get_value_type(m) == G_TYPE_STRING) {
            const char *s = json_node_get_string(m);
            out = s ? s : "";
            return true;
        }
        problem(name, line_no, std::string("JSON member \"") + member + "\" is not a string");
        bad_type = true;
        return false;
    };
    std::string call_id, key_hex, self_lid, peer_lid, from;
    bool has_id = get("call_id", call_id), has_key = get("call_key_hex", key_hex);
    bool has_self = get("self_lid", self_lid), has_peer = get("peer_lid", peer_lid), has_from = get("from", from);
    if (bad_type) {
        g_object_unref(parser);
        return false;
    }
    if (!has_id || call_id.empty() || call_id.find_first_of(" \t") != std::string::npos) {
        problem(name, line_no, "JSON line has no usable \"call_id\"");
    } else if (!has_key) {
        problem(name, line_no, "JSON line has no \"call_key_hex\"");
    } else {
        Key32 k;
        std::string why;
        if (!hex32(key_hex, k, why)) {
            problem(name, line_no, "JSON call_key_hex " + why);
        } else {
            ok = true;
            if (add_call_key(call_id, Bytes(k.begin(), k.end()), line_no, name, undo)) *changed = true;
            if (has_self && !self_lid.empty() && add_participant(call_id, self_lid, line_no, name, undo)) *changed = true;
            if (has_peer && !peer_lid.empty() && add_participant(call_id, peer_lid, line_no, name, undo)) *changed = true;
            if (has_from && !from.empty() && add_participant(call_id, from, line_no, name, undo)) *changed = true;
        }
    }
    g_object_unref(parser);
    return ok;
}

bool KeyStore::parse_line(const char *p, size_t n, size_t line_no, const std::string &name, bool *changed,
                          std::vector<Undo> *undo) {
    if (n && p[n - 1] == '\r') n--;  // CRLF
    // A UTF-8 byte-order mark (Windows editors) is not part of the first label.
    if (line_no == 1 && n >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, n -= 3;
    if (n > kMaxLine) {
        problem(name, line_no, "line too long (" + std::to_string(n) + " characters, limit " + std::to_string(kMaxLine) + ")");
        return false;
    }
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    if (i < n && p[i] == '{') return parse_json(std::string(p + i, n - i), line_no, name, changed, undo);

    std::string_view f[kMaxFields + 1];
    size_t nf = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        if (i >= n || p[i] == '#') break;  // a comment runs to the end of the line
        size_t s = i;
        while (i < n && p[i] != ' ' && p[i] != '\t') i++;
        if (nf <= kMaxFields) f[nf] = std::string_view(p + s, i - s);
        nf++;
    }
    if (nf == 0) return false;  // blank or comment

    const std::string_view label = f[0];
    size_t want = 0;
    if (label == "WA_NOISE_TRAFFIC" || label == "WA_NOISE_PRIVATE" || label == "WA_CALL_EPOCH") want = 4;
    else if (label == "WA_CALL_KEY" || label == "WA_PARTICIPANT" || label == "WA_WARP_TAG_LEN" || label == "WA_RELAY_KEY" ||
             label == "WA_HBH_KEY")
        want = 3;
    else {
        problem(name, line_no, "unknown label \"" + printable(label) + "\"");
        return false;
    }
    if (nf != want) {
        problem(name, line_no, std::string(label) + " needs " + std::to_string(want - 1) + " fields, got " + std::to_string(nf - 1));
        return false;
    }
    std::string why;

    if (label == "WA_NOISE_TRAFFIC" || label == "WA_NOISE_PRIVATE") {
        Key32 k[3];
        static const char *const what_t[3] = {"client ephemeral public key", "client-to-server key", "server-to-client key"};
        static const char *const what_p[3] = {"client ephemeral public key", "client ephemeral private key", "client static private key"};
        const bool traffic = label == "WA_NOISE_TRAFFIC";
        for (int j = 0; j < 3; j++) {
            if (!hex32(f[j + 1], k[j], why)) {
                problem(name, line_no, std::string(label) + ": " + (traffic ? what_t[j] : what_p[j]) + " " + why);
                return false;
            }
        }
        // Disagreeing lines for one session are kept as candidates, like call keys: the one whose
        // AEAD tags verify wins.
        auto keep = [&](auto &firsts, auto &alts, const auto &v, auto same, Undo::Kind first_kind, Undo::Kind alt_kind) {
            auto ins = firsts.emplace(k[0], v);
            if (ins.second) {
                if (undo) undo->push_back({first_kind, key_str(k[0]), {}});
                return true;
            }
            if (same(ins.first->second, v)) return false;
            auto &list = alts[k[0]];
            for (const auto &a : list)
                if (same(a, v)) return false;
            if (list.size() + 1 >= kMaxCandidates) {
                conflict(name, line_no, std::string(label) + " is the " + std::to_string(list.size() + 2) +
                                            "th differing value for this public key; only " +
                                            std::to_string(kMaxCandidates) + " are tried, this one is ignored");
                return false;
            }
            list.push_back(v);
            conflict(name, line_no, std::string(label) + " differs from line " + std::to_string(ins.first->second.line) +
                                        " for the same public key; both are tried and the one that authenticates is used");
            if (undo) undo->push_back({alt_kind, key_str(k[0]), {}});
            return true;
        };
        const auto line = static_cast<uint32_t>(line_no);
        bool added = traffic ? keep(noise_traffic_, traffic_alts_, NoiseTraffic{k[0], k[1], k[2], line},
                                    [](const NoiseTraffic &a, const NoiseTraffic &b) { return a.c2s == b.c2s && a.s2c == b.s2c; },
                                    Undo::Traffic, Undo::TrafficAlt)
                             : keep(noise_private_, private_alts_, NoisePrivate{k[0], k[1], k[2], line},
                                    [](const NoisePrivate &a, const NoisePrivate &b) {
                                        return a.eph_priv == b.eph_priv && a.static_priv == b.static_priv;
                                    },
                                    Undo::Private, Undo::PrivateAlt);
        if (!added) return false;
        *changed = true;
        return true;
    }

    const std::string call_id(f[1]);
    if (label == "WA_CALL_KEY") {
        Key32 k;
        if (!hex32(f[2], k, why)) {
            problem(name, line_no, "WA_CALL_KEY: call key " + why);
            return false;
        }
        if (add_call_key(call_id, Bytes(k.begin(), k.end()), line_no, name, undo)) *changed = true;
        return true;
    }
    if (label == "WA_PARTICIPANT") {
        if (add_participant(call_id, std::string(f[2]), line_no, name, undo)) *changed = true;
        return true;
    }
    if (label == "WA_CALL_EPOCH") {
        std::optional<uint32_t> tx_parsed = parse_decimal_u32(f[2]);
        if (!tx_parsed) {
            problem(name, line_no, "WA_CALL_EPOCH: transaction-id must be a decimal u32");
            return false;
        }
        const uint32_t tx = *tx_parsed;
        Key32 k;
        if (!hex32(f[3], k, why)) {
            problem(name, line_no, "WA_CALL_EPOCH: epoch key " + why);
            return false;
        }
        std::string ek = epoch_key(call_id, tx);
        Bytes v(k.begin(), k.end());
        auto ins = epochs_.emplace(ek, CallKeyEntry{v, static_cast<uint32_t>(line_no)});
        if (ins.second) {
            if (undo) undo->push_back({Undo::Epoch, ek, {}});
            *changed = true;
            return true;
        }
        // A disagreeing epoch is a candidate too: the media plane tries every value.
        if (ins.first->second.key == v) return false;
        auto &alts = epoch_alts_[ek];
        for (const auto &a : alts)
            if (a.key == v) return false;
        if (alts.size() + 1 >= kMaxCandidates) {
            conflict(name, line_no, "WA_CALL_EPOCH is the " + std::to_string(alts.size() + 2) +
                                        "th differing value for this call and transaction; only " +
                                        std::to_string(kMaxCandidates) + " are tried, this one is ignored");
            return false;
        }
        alts.push_back(CallKeyEntry{v, static_cast<uint32_t>(line_no)});
        conflict(name, line_no, "WA_CALL_EPOCH differs from line " + std::to_string(ins.first->second.line) +
                                    " for the same call and transaction; both are tried and the one that authenticates is used");
        if (undo) undo->push_back({Undo::EpochAlt, ek, {}});
        *changed = true;
        return true;
    }
    if (label == "WA_WARP_TAG_LEN") {
        std::optional<uint32_t> n_parsed = parse_decimal_u32(f[2]);
        const uint32_t n_tag = n_parsed.value_or(0);
        if (n_tag < 1 || n_tag > 20) {
            problem(name, line_no, "WA_WARP_TAG_LEN: tag length must be 1..20");
            return false;
        }
        auto ins = tag_lens_.emplace(call_id, int(n_tag));
        if (!ins.second) {
            if (ins.first->second != int(n_tag))
                conflict(name, line_no, "WA_WARP_TAG_LEN disagrees with an earlier line; keeping the first");
            return false;
        }
        if (undo) undo->push_back({Undo::TagLen, call_id, {}});
        *changed = true;
        return true;
    }
    if (label == "WA_HBH_KEY") {
        std::optional<Bytes> parsed = f[2].size() == 60 ? from_hex(f[2]) : std::nullopt;
        if (!parsed) {
            problem(name, line_no, "WA_HBH_KEY: hbh key must be 60 hex digits (30 bytes)");
            return false;
        }
        const Bytes &v = *parsed;
        auto ins = hbh_keys_.emplace(call_id, v);
        if (!ins.second) {
            if (ins.first->second != v)
                conflict(name, line_no, "WA_HBH_KEY disagrees with an earlier line; keeping the first");
            return false;
        }
        if (undo) undo->push_back({Undo::HbhKey, call_id, {}});
        *changed = true;
        return true;
    }
    // WA_RELAY_KEY
    auto ins = relay_keys_.emplace(call_id, std::string(f[2]));
    if (!ins.second) {
        if (ins.first->second != f[2])
            conflict(name, line_no, "WA_RELAY_KEY disagrees with an earlier line; keeping the first");
        return false;
    }
    if (undo) undo->push_back({Undo::RelayKey, call_id, {}});
    *changed = true;
    return true;
}

bool KeyStore::load_text(const std::string &text, const std::string &name) {
    source_ = name;
    bool changed = false;
    size_t line_no = 0, pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string::npos ? text.size() : nl;
        parse_line(text.data() + pos, end - pos, ++line_no, name, &changed, nullptr);
        pos = end + 1;
    }
    if (changed) generation_++;
    return changed;
}

// ---- following a file -------------------------------------------------------------------------

namespace {
template <typename Map, typename K> void pop_alt(Map &m, const K &k) {
    auto it = m.find(k);
    if (it == m.end()) return;
    it->second.pop_back();
    if (it->second.empty()) m.erase(it);
}
}  // namespace

void KeyStore::undo_tail() {
    for (auto it = tail_undo_.rbegin(); it != tail_undo_.rend(); ++it) {
        switch (it->kind) {
        case Undo::Traffic: noise_traffic_.erase(str_key(it->a)); break;
        case Undo::Private: noise_private_.erase(str_key(it->a)); break;
        case Undo::CallKey: call_keys_.erase(it->a); break;
        case Undo::CallKeyAlt: pop_alt(call_key_alts_, it->a); break;
        case Undo::EpochAlt: pop_alt(epoch_alts_, it->a); break;
        case Undo::TrafficAlt: pop_alt(traffic_alts_, str_key(it->a)); break;
        case Undo::PrivateAlt: pop_alt(private_alts_, str_key(it->a)); break;
        case Undo::Epoch: epochs_.erase(it->a); break;
        case Undo::TagLen: tag_lens_.erase(it->a); break;
        case Undo::RelayKey: relay_keys_.erase(it->a); break;
        case Undo::HbhKey: hbh_keys_.erase(it->a); break;
        case Undo::Participant: {
            auto pit = participants_.find(it->a);
            if (pit == participants_.end()) break;
            auto &v = pit->second;
            for (size_t i = 0; i < v.size(); i++)
                if (v[i] == it->b) {
                    v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
                    break;
                }
            if (v.empty()) participants_.erase(pit);
            break;
        }
        }
    }
    tail_undo_.clear();
    const size_t keep = problems_.size() >= tail_problems_ ? problems_.size() - tail_problems_ : 0;
    for (size_t i = keep; i < problems_.size(); i++) {
        if (problems_[i].kind == Problem::Line) line_problems_--;
        if (problems_[i].kind == Problem::Conflict) conflict_problems_--;
    }
    problems_.resize(keep);
    suppressed_ -= tail_suppressed_ <= suppressed_ ? tail_suppressed_ : suppressed_;
    if (tail_problems_ || tail_suppressed_) problem_serial_++;
    tail_problems_ = 0;
    tail_suppressed_ = 0;
    tail_.clear();
}

bool KeyStore::read_from(size_t offset, std::string &out, size_t max_len) const {
    // libstdc++'s filebuf throws std::ios_base::failure from underflow() on a read error (EIO:
    // a file that opens but cannot be read, e.g. on a failing disk or /proc/self/mem) whatever
    // the stream's exception mask. refresh() runs inside dissectors, called from C: no exception
    // may leave it, so a read error is a failed read like any other.
    read_error_.clear();
    try {
        errno = 0;
        std::ifstream in(path_, std::ios::binary);
        if (!in) {
            read_error_ = errno ? std::strerror(errno) : "cannot open";
            return false;
        }
        in.seekg(static_cast<std::streamoff>(offset));
        if (!in) return false;
        if (max_len == SIZE_MAX) {
            out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        } else {
            out.resize(max_len);
            in.read(&out[0], static_cast<std::streamsize>(max_len));
            out.resize(static_cast<size_t>(in.gcount()));
        }
        if (in.bad()) read_error_ = errno ? std::strerror(errno) : "read error";
        return !in.bad();
    } catch (const std::exception &) {
        read_error_ = errno ? std::strerror(errno) : "read error";
        out.clear();
        return false;
    }
}

bool KeyStore::reload() {
    std::string path = path_;
    clear();  // bumps generation
    std::string data;
    if (!read_from(0, data)) {
        file_problem(read_error_.empty() ? "cannot read key log file" : "cannot read key log file: " + read_error_);
        file_problem_ = true;
        return true;
    }
    size_t bom = 0;
    if (const char *enc = utf16_encoding(data, bom)) return load_utf16(data, enc, bom);
    // Complete lines are committed; an unterminated last line is parsed tentatively.
    bool changed = false;
    size_t pos = 0;
    for (;;) {
        size_t nl = data.find('\n', pos);
        if (nl == std::string::npos) break;
        parse_line(data.data() + pos, nl - pos, ++lines_, path_, &changed, nullptr);
        pos = nl + 1;
    }
    consumed_ = pos;
    head_bytes_ = data.substr(0, pos < kHead ? pos : kHead);
    last_bytes_ = data.substr(pos > kFingerprint ? pos - kFingerprint : 0, pos > kFingerprint ? kFingerprint : pos);
    if (pos < data.size()) {
        tail_ = data.substr(pos);
        size_t before = problems_.size(), before_suppressed = suppressed_;
        parse_line(tail_.data(), tail_.size(), lines_ + 1, path_, &changed, &tail_undo_);
        tail_problems_ = problems_.size() - before;
        tail_suppressed_ = suppressed_ - before_suppressed;
    }
    return true;
}

// A UTF-16 file is converted and parsed whole, every time it changes (it is rare, and offsets in
// the converted text are not file offsets). Each line is committed: there is no tail to undo.
bool KeyStore::load_utf16(const std::string &data, const char *enc, size_t bom) {
    GError *err = nullptr;
    gsize read = 0, written = 0;
    // An odd trailing byte is half a character still being written.
    const size_t len = (data.size() - bom) & ~size_t(1);
    gchar *text = g_convert(data.data() + bom, static_cast<gssize>(len), "UTF-8", enc, &read, &written, &err);
    if (!text) {
        file_problem(std::string("key log is ") + enc + " text that cannot be converted to UTF-8 (" +
                     (err && err->message ? err->message : "invalid") + "); save it as UTF-8");
        if (err) g_error_free(err);
        file_problem_ = true;
        return true;
    }
    std::string utf8(text, written);
    g_free(text);
    encoding_ = enc;
    problem(path_, 0, std::string("key log is ") + enc + " text; read as UTF-16 (UTF-8 or ASCII is expected)", Problem::Note);
    bool changed = false;
    size_t pos = 0;
    while (pos < utf8.size()) {
        size_t nl = utf8.find('\n', pos);
        size_t end = nl == std::string::npos ? utf8.size() : nl;
        parse_line(utf8.data() + pos, end - pos, ++lines_, path_, &changed, nullptr);
        pos = end + 1;
    }
    return true;
}

bool KeyStore::refresh() {
    if (path_.empty()) return false;
    FileStat fs = stat_file(path_);
    // Only regular files are read: a FIFO would block the dissector until a writer appears and a
    // device such as /dev/zero never ends (the whole file is read into memory).
    if (!fs.ok || !fs.is_regular) {
        // Keys already loaded stay usable (the file may be rotated); report the file once.
        if (!file_problem_) {
            file_problem(!fs.ok    ? "cannot open key log file: " + fs.err
                         : fs.is_dir ? std::string("key log path is a directory")
                                     : std::string("key log path is not a regular file (FIFO, device or socket)"));
            file_problem_ = true;
            have_stat_ = false;
            generation_++;
        }
        return false;
    }
    // ctime too: a chmod that makes an unreadable file readable changes nothing else.
    if (have_stat_ && fs.size == st_size_ && fs.mtime_ns == st_mtime_ns_ && fs.ctime_ns == st_ctime_ns_ &&
        fs.dev == st_dev_ && fs.ino == st_ino_)
        return false;
    const bool same_file = have_stat_ && fs.dev == st_dev_ && fs.ino == st_ino_;
    const size_t seen = consumed_ + tail_.size();
    st_size_ = fs.size;
    st_mtime_ns_ = fs.mtime_ns;
    st_ctime_ns_ = fs.ctime_ns;
    st_dev_ = fs.dev;
    st_ino_ = fs.ino;
    if (!same_file || fs.size < seen || file_problem_ || !encoding_.empty()) {
        // Replaced, shrunk, or unreadable last time: start over.
        bool r = reload();
        // The stat is kept even when the file could not be read: an unreadable file is retried
        // when it changes (or its mode does), not on every refresh, which used to clear the store
        // and report "changed" each time.
        have_stat_ = true;
        return r;
    }

    // Grown (or touched): check the bytes we parsed last are still there, so a file rewritten in
    // place is reloaded, then parse only what follows.
    const size_t fp = last_bytes_.size();
    std::string data, head;
    if (!read_from(0, head, head_bytes_.size()) || head != head_bytes_ || !read_from(consumed_ - fp, data) ||
        data.size() < fp + tail_.size() ||
        data.compare(0, fp, last_bytes_) != 0 || data.compare(fp, tail_.size(), tail_) != 0) {
        bool r = reload();
        have_stat_ = true;  // as above
        return r;
    }
    have_stat_ = true;
    // Same length as parsed (the file was touched, or we read past the stat size last time).
    if (data.size() == fp + tail_.size()) return false;
    bool changed = false;
    size_t pos = fp;  // data[pos] is the file byte at consumed_
    if (!tail_.empty()) {
        size_t nl = data.find('\n', pos);
        size_t line_end = nl == std::string::npos ? data.size() : nl;
        std::string_view completed(data.data() + pos, line_end - pos);
        if (nl != std::string::npos && (completed == tail_ || (completed.size() == tail_.size() + 1 &&
                                                               completed.back() == '\r' &&
                                                               completed.compare(0, tail_.size(), tail_) == 0))) {
            // Only the line end was appended: the tentative parse stands as it is.
            tail_undo_.clear();
            tail_problems_ = 0;
            tail_.clear();
            lines_++;
            pos = nl + 1;
        } else {
            undo_tail();
            changed = true;  // the store lost the tentative entries; reparse below
        }
    }
    for (;;) {
        size_t nl = data.find('\n', pos);
        if (nl == std::string::npos) break;
        parse_line(data.data() + pos, nl - pos, ++lines_, path_, &changed, nullptr);
        pos = nl + 1;
    }
    consumed_ += pos - fp;
    if (head_bytes_.size() < kHead) {
        std::string more;
        if (read_from(0, more, consumed_ < kHead ? consumed_ : kHead)) head_bytes_ = more;
    }
    {
        std::string tailwin = last_bytes_ + data.substr(fp, pos - fp);
        last_bytes_ = tailwin.size() > kFingerprint ? tailwin.substr(tailwin.size() - kFingerprint) : tailwin;
    }
    if (pos < data.size()) {
        tail_ = data.substr(pos);
        size_t before = problems_.size(), before_suppressed = suppressed_;
        parse_line(tail_.data(), tail_.size(), lines_ + 1, path_, &changed, &tail_undo_);
        tail_problems_ = problems_.size() - before;
        tail_suppressed_ = suppressed_ - before_suppressed;
        if (tail_problems_ || tail_suppressed_) changed = true;
    }
    if (changed) generation_++;
    return changed;
}

}  // namespace wacall::keys
