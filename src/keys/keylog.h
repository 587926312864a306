// The key log (docs/contract.md, "Key log file") and the store the dissectors look keys up in.
//
// One secret per line; `#` at the start of a field starts a comment that runs to the end of
// the line; blank lines are ignored; labels are case-sensitive, hex is case-insensitive; fields
// are separated by runs of spaces or tabs; CRLF line ends are accepted; lines longer than 4096
// characters are rejected.
//
//   WA_NOISE_TRAFFIC <client-ephemeral-public> <client-to-server-key> <server-to-client-key>
//   WA_NOISE_PRIVATE <client-ephemeral-public> <client-ephemeral-private> <client-static-private>
//   WA_CALL_KEY      <call-id> <call-key>
//   WA_PARTICIPANT   <call-id> <participant-jid>          (repeatable; normalised, NNN@lid → NNN:0@lid)
//
// wacall additions (not in the contract's first table):
//   WA_CALL_EPOCH    <call-id> <transaction-id> <epoch-key>
//                    a group-call epoch (the 32-byte raw_epoch of <enc_rekey transaction-id>);
//                    transaction-id is decimal u32
//   WA_WARP_TAG_LEN  <call-id> <n>
//                    the WARP MI tag length (1..20) for captures without decryptable signaling
//   WA_RELAY_KEY     <call-id> <relay-key-text>
//                    the ASCII text of <relay><key> (the STUN MESSAGE-INTEGRITY key)
//   WA_HBH_KEY       <call-id> <hbh-key>
//                    the 30 bytes (60 hex digits) of <relay><hbh_key>, for the hop-by-hop layer
//
// Keys, public keys and epochs are 32 bytes (64 hex digits). <call-id> is case-sensitive.
//
// Lines starting with `{` are JSON objects written by call-client diagnostics: `call_id` and
// `call_key_hex` (both strings, required) give a call key; `self_lid`, `peer_lid` and `from`
// (optional strings) give participants. Other members are ignored.
//
// A line that cannot be used, or a duplicate that disagrees with an earlier value, becomes a
// Problem {file, line, message}; the rest of the file is still used. Duplicates that agree are
// silent. Keys that authenticate something (WA_CALL_KEY and its JSON form, WA_CALL_EPOCH,
// WA_NOISE_TRAFFIC, WA_NOISE_PRIVATE) are kept as candidates when they disagree (up to
// kMaxCandidates per call, epoch or session): the dissectors try each and the one that
// authenticates wins. For the other labels the first value stays.
//
// A UTF-8 byte-order mark is skipped; a UTF-16 file (with or without its BOM) is converted.
// Line problems are capped at kMaxProblems (malformed lines and disagreements each); the rest are
// counted in suppressed(). Problems with the file itself are never capped.
#pragma once

#include "common/bytes.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace wacall::keys {

using Key32 = std::array<uint8_t, 32>;

struct NoiseTraffic {
    Key32 client_eph_pub{};
    Key32 c2s{};  // client-to-server transport key
    Key32 s2c{};  // server-to-client transport key
    uint32_t line = 0;  // key-log line it came from
};

struct NoisePrivate {
    Key32 client_eph_pub{};
    Key32 eph_priv{};
    Key32 static_priv{};
    uint32_t line = 0;
};

// One value a call's key may have, with the line that gave it.
struct CallKeyCandidate {
    const Bytes *key;
    uint32_t line;
};

// One value a group-call epoch may have: its transaction-id, which of the differing values for
// that transaction it is (0 = the first line's), and the line.
struct EpochCandidate {
    uint32_t transaction_id;
    uint32_t index;
    const Bytes *key;
    uint32_t line;
};

struct Problem {
    // File: the file itself cannot be used (never capped); Note: the file was used but not as
    // written (UTF-16; never capped); Line: a line that cannot be used; Conflict: a duplicate that
    // disagrees with an earlier line. Line and Conflict are capped separately so a file of
    // garbage cannot hide a disagreeing key.
    enum Kind : uint8_t { File, Note, Line, Conflict };
    std::string file;
    size_t line = 0;  // 1-based; 0 for a problem with the file itself
    std::string message;
    Kind kind = Line;
};

class KeyStore {
public:
    static constexpr size_t kMaxLine = 4096;
    static constexpr size_t kMaxProblems = 1000;   // per kind (Line, Conflict): memory stays bounded
    static constexpr size_t kMaxCandidates = 8;    // differing values kept per call key / Noise session

    // Sets the key log path. A different path drops everything loaded so far; the next
    // refresh() reads the new file. An empty path means "no key log".
    void set_path(std::string path);
    const std::string &path() const { return path_; }

    // Re-reads the file when it changed (size, mtime or identity). Growth parses only the
    // appended bytes; shrinking or replacement reloads from scratch. Returns true if anything
    // new was loaded (or the store was reset).
    bool refresh();

    // Parses `text` as key-log content named `name` (for problems), adding to the store.
    // Returns true if anything new was loaded.
    bool load_text(const std::string &text, const std::string &name);

    // Drops every key and problem (the path is kept; the next refresh() reloads).
    void clear();

    const NoiseTraffic *noise_traffic(ByteView client_eph_pub) const;
    const NoisePrivate *noise_private(ByteView client_eph_pub) const;
    // The preferred call key: the one prefer_call_key() named, else the first line's.
    const Bytes *call_key(const std::string &call_id) const;
    // Every differing value of a call's key in file order (the first line's first); empty if none.
    std::vector<CallKeyCandidate> call_key_candidates(const std::string &call_id) const;
    // Records which candidate (index into call_key_candidates) authenticated, so call_key()
    // returns it from now on. Bumps preferences(), not generation(): nothing is added or dropped.
    void prefer_call_key(const std::string &call_id, size_t index);
    uint64_t preferences() const { return preferences_; }
    // Every differing value for a Noise session (the first line's first).
    std::vector<const NoiseTraffic *> noise_traffic_candidates(ByteView client_eph_pub) const;
    std::vector<const NoisePrivate *> noise_private_candidates(ByteView client_eph_pub) const;
    // The name problems and lines refer to: the path, or load_text()'s name.
    const std::string &source() const { return source_; }
    // Normalised participant ids in first-seen order (empty vector when none).
    const std::vector<std::string> &participants(const std::string &call_id) const;
    const Bytes *epoch(const std::string &call_id, uint32_t transaction_id) const;
    // Every epoch of a call as (transaction-id, key), ordered by transaction-id (first values).
    std::vector<std::pair<uint32_t, const Bytes *>> epochs(const std::string &call_id) const;
    // Every value of every epoch of a call, by transaction-id, then in file order.
    std::vector<EpochCandidate> epoch_candidates(const std::string &call_id) const;
    // 30-byte hop-by-hop key of WA_HBH_KEY, or nullptr.
    const Bytes *hbh_key(const std::string &call_id) const;
    // 0 when no WA_WARP_TAG_LEN line names the call.
    int warp_tag_len(const std::string &call_id) const;
    const std::string *relay_key(const std::string &call_id) const;

    const std::vector<Problem> &problems() const { return problems_; }
    // Line problems not kept in problems() because their kind reached kMaxProblems.
    size_t suppressed() const { return suppressed_; }
    // Bumps whenever problems() or suppressed() change, so a caller can skip rescanning them.
    uint64_t problem_serial() const { return problem_serial_; }
    // "UTF-16LE"/"UTF-16BE" when the file was read as UTF-16, else empty.
    const std::string &encoding() const { return encoding_; }
    // Bumps on every change so callers can invalidate caches keyed on the store.
    uint64_t generation() const { return generation_; }
    // Bumps whenever everything loaded so far is dropped (new path, file shrunk or replaced):
    // keys may then differ, where growth only ever adds (the first value of a key stays).
    uint64_t clears() const { return clears_; }
    size_t call_key_count() const { return call_keys_.size(); }
    // Every call id named by WA_PARTICIPANT lines (media attribution without signaling).
    std::vector<std::string> participant_call_ids() const {
        std::vector<std::string> ids;
        ids.reserve(participants_.size());
        for (const auto &kv : participants_) ids.push_back(kv.first);
        return ids;
    }
    size_t noise_session_count() const { return noise_traffic_.size() + noise_private_.size(); }
    // Every WA_NOISE_TRAFFIC entry, for sessions captured without their ClientHello (the
    // ephemeral key that indexes them is not on the wire then).
    std::vector<const NoiseTraffic *> all_noise_traffic() const {
        std::vector<const NoiseTraffic *> out;
        out.reserve(noise_traffic_.size());
        for (const auto &kv : noise_traffic_) out.push_back(&kv.second);
        for (const auto &kv : traffic_alts_)
            for (const auto &t : kv.second) out.push_back(&t);
        return out;
    }

private:
    struct Key32Hash {
        size_t operator()(const Key32 &k) const {
            size_t h = 0;  // public keys are uniformly random: a prefix is a good hash
            for (size_t i = 0; i < sizeof h; i++) h = h << 8 | k[i];
            return h;
        }
    };
    // What a tentatively parsed (unterminated) last line added, so it can be undone.
    struct Undo {
        enum Kind : uint8_t {
            Traffic, Private, CallKey, Participant, Epoch, TagLen, RelayKey, HbhKey, TrafficAlt, PrivateAlt, CallKeyAlt,
            EpochAlt
        } kind;
        std::string a;  // map key (call id, raw public key, epoch key)
        std::string b;  // participant id
    };

    // Parses one line (without its '\n'). With `undo`, records what it added so an unterminated
    // last line can be taken back when it is completed differently.
    bool parse_line(const char *p, size_t n, size_t line_no, const std::string &name, bool *changed,
                    std::vector<Undo> *undo);
    bool parse_json(const std::string &line, size_t line_no, const std::string &name, bool *changed,
                    std::vector<Undo> *undo);
    void problem(const std::string &name, size_t line_no, std::string msg, Problem::Kind kind = Problem::Line);
    void conflict(const std::string &name, size_t line_no, std::string msg) {
        problem(name, line_no, std::move(msg), Problem::Conflict);
    }
    void file_problem(std::string msg) { problem(path_, 0, std::move(msg), Problem::File); }
    bool add_call_key(const std::string &call_id, const Bytes &key, size_t line_no, const std::string &name,
                      std::vector<Undo> *undo);
    bool add_participant(const std::string &call_id, const std::string &jid, size_t line_no,
                         const std::string &name, std::vector<Undo> *undo);
    void undo_tail();
    bool reload();
    bool load_utf16(const std::string &data, const char *encoding, size_t bom);
    bool read_from(size_t offset, std::string &out, size_t max_len = SIZE_MAX) const;

    std::unordered_map<Key32, NoiseTraffic, Key32Hash> noise_traffic_;
    std::unordered_map<Key32, NoisePrivate, Key32Hash> noise_private_;
    struct CallKeyEntry {
        Bytes key;
        uint32_t line;
    };
    std::unordered_map<std::string, CallKeyEntry> call_keys_;
    // Differing values after the first (rare: kept apart so the common case costs nothing).
    std::unordered_map<std::string, std::vector<CallKeyEntry>> call_key_alts_;
    std::unordered_map<std::string, uint32_t> call_key_pref_;  // index into the candidates
    std::unordered_map<Key32, std::vector<NoiseTraffic>, Key32Hash> traffic_alts_;
    std::unordered_map<Key32, std::vector<NoisePrivate>, Key32Hash> private_alts_;
    std::unordered_map<std::string, std::vector<std::string>> participants_;
    std::unordered_map<std::string, CallKeyEntry> epochs_;  // call-id '\n' transaction-id
    std::unordered_map<std::string, std::vector<CallKeyEntry>> epoch_alts_;
    std::unordered_map<std::string, int> tag_lens_;
    std::unordered_map<std::string, std::string> relay_keys_;
    std::unordered_map<std::string, Bytes> hbh_keys_;
    std::vector<Problem> problems_;
    size_t line_problems_ = 0, conflict_problems_ = 0, suppressed_ = 0;
    uint64_t problem_serial_ = 0, preferences_ = 0;
    std::string source_;
    std::string encoding_;
    mutable std::string read_error_;  // why the last read_from() failed
    uint64_t generation_ = 0;
    uint64_t clears_ = 0;

    // File-following state.
    std::string path_;
    bool have_stat_ = false;
    uint64_t st_size_ = 0, st_mtime_ns_ = 0, st_ctime_ns_ = 0, st_dev_ = 0, st_ino_ = 0;
    bool file_problem_ = false;   // the one "cannot read" problem is in problems_
    size_t consumed_ = 0;         // bytes up to and including the last '\n' parsed
    size_t lines_ = 0;            // complete lines parsed
    std::string head_bytes_;      // the first bytes parsed, to detect a rewritten file
    std::string last_bytes_;      // up to 64 bytes before consumed_, likewise
    std::string tail_;            // unterminated last line parsed tentatively
    std::vector<Undo> tail_undo_; // what tail_ added
    size_t tail_problems_ = 0;    // problems tail_ added (at the end of problems_)
    size_t tail_suppressed_ = 0;  // and those it added to suppressed_
};

}  // namespace wacall::keys
