// Capture-wide media-plane state shared by wastun and warp: which call and participant an SSRC
// or a UDP flow belongs to, the per-sender keys (derived once per sender and cached), and the
// per-SSRC ROC trackers used on the first pass.
#pragma once

#include "media/hbh.h"
#include "media/srtp.h"
#include "media/sframe.h"
#include "media/ssrc.h"

#include <glib.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

// One key a stream's packets may be protected with: the 1:1 call key, or a group epoch
// (<enc_rekey transaction-id>). Packets name neither, so each is tried; the one whose tag
// verifies is recorded per packet. A key log may give a call several differing call keys (a
// wrong one corrected later): each is a candidate of its own.
struct KeyCandidate {
    enum Kind : uint8_t { CallKey = 0, Epoch = 1 } kind = CallKey;
    uint32_t transaction_id = 0;  // the epoch's; for CallKey the index among the call's key-log values
    uint8_t epoch_index = 0;      // which of an epoch's differing key-log values (0: the first line's)
    mutable bool announced = false;  // note_key_used() already ran for it
    wacall::media::StreamKeys keys;
    // Bits 0-31 transaction-id (call key: index), 32-39 kind, 40-47 epoch_index.
    uint64_t id() const { return uint64_t(epoch_index) << 40 | uint64_t(kind) << 32 | transaction_id; }
    static Kind kind_of(uint64_t id) { return Kind(id >> 32 & 0xFF); }
};

// The key ring of one sender, shared by every SSRC of that sender.
struct Keyring {
    uint64_t keys_gen = ~uint64_t(0);
    std::vector<std::unique_ptr<KeyCandidate>> list;
    // A candidate authenticated a packet since the ring was built. Until then every packet
    // re-checks the key log (a stat): a corrected key may be appended while the capture is open.
    bool authenticated = false;
};

// One SSRC seen in the capture: who sent it (references into MediaState's string pool) and the
// per-SSRC caches the dissectors use on every packet, kept here so a packet costs one lookup.
struct MediaStream {
    MediaStream(const std::string &c, const std::string &p, uint32_t w) : call_id(c), participant(p), slot_word(w) {}
    const std::string &call_id;
    const std::string &participant;  // normalised sender id
    uint32_t slot_word;
    // Another sender that derives the same SSRC, or nullptr. SSRCs are 32-bit hashes: a key log
    // of 10,000 calls (180,000 SSRCs) holds a few such pairs, so when this sender's keys do not
    // authenticate a packet the next one is tried. Set by MediaState; the chain only grows.
    const MediaStream *next() const { return next_; }

    // First-pass state (warp's RTP path).
    struct FirstPass {
        wacall::media::RocEstimator roc;
        uint64_t last_key = 0;      // the candidate that last authenticated a packet (tried first), 0 if none
        unsigned roc_searches = 0;  // packets that went through the initial ROC search while unauthenticated
        uint64_t searched_keys = 0; // key-log generation roc_searches counts for
    };
    mutable FirstPass first_pass;

private:
    friend class MediaState;
    MediaStream *next_ = nullptr;
    mutable Keyring *ring = nullptr;  // the sender's entry in MediaState::keys_
    struct SFrameKeys {
        uint64_t keys_gen = ~uint64_t(0), calls_gen = ~uint64_t(0), prefs_gen = ~uint64_t(0);
        std::vector<wacall::media::SFrameKey *> list;
    };
    mutable SFrameKeys sframe;
};

// Which derivation the hop-by-hop layer uses (spec digest X1), or none (reference client).
enum class HbhMode { Off = 0, Rfc3711 = 1, HkdfDirectional = 2, HkdfShared = 3 };
enum class HbhUse { Rtp, RtcpUplink, RtcpDownlink };

class MediaState {
public:
    MediaState() = default;
    ~MediaState() {
        if (index_) g_hash_table_destroy(index_);
    }
    MediaState(const MediaState &) = delete;
    MediaState &operator=(const MediaState &) = delete;
    // The stream an SSRC belongs to (derived from every call and participant known so far), or
    // nullptr; other senders deriving the same SSRC follow it through MediaStream::next(), the
    // signaled calls first. Returned pointers stay valid until reset().
    const MediaStream *attribute(uint32_t ssrc);
    // For a packet none of whose candidates authenticated: derives the key log's calls if that
    // has not been done yet (a key-log call may share the SSRC of a signaled one) and returns
    // the SSRC's candidates again. Cheap once the key log is derived.
    const MediaStream *attribute_all(uint32_t ssrc);
    // Every E2E key of a sender (call key first, then epochs by transaction-id); empty when the
    // key log has none. Derived once per key-log generation, then cached.
    const std::vector<std::unique_ptr<KeyCandidate>> &keyring(const MediaStream &s);
    KeyCandidate *find_key(const MediaStream &s, uint64_t id);
    // A candidate authenticated a packet of s: when the key log gave the call differing call
    // keys, the winner becomes the call's key (SFrame) and its line is reported once. Cheap after
    // the first call per candidate.
    void note_key_used(const MediaStream &s, const KeyCandidate &c) {
        if (!c.announced) announce_key(s, c);
    }
    // The initial ROC search is bounded per stream; a key-log change (a corrected key appended
    // while the capture is open) starts a new budget, or a stream met at ROC > 0 would never
    // authenticate with the new key.
    void fresh_search_on_new_keys(MediaStream::FirstPass &fp) const;
    // Hop-by-hop keys of a call (relay <hbh_key>, then WA_HBH_KEY); nullptr when unknown.
    wacall::media::HbhKeys *hbh_keys(const std::string &call_id, HbhMode mode, HbhUse use);
    // SFrame receive key (derived from the receiver's id, the reference direction).
    wacall::media::SFrameKey *sframe_key(const std::string &call_id, const std::string &receiver);
    // Interned call ids (stable pointers) for per-packet records.
    const std::string *intern_call(const std::string &call_id);
    // WARP tag length for a call: relay block, then WA_WARP_TAG_LEN, then 4.
    unsigned tag_len(const std::string &call_id);
    // STUN MESSAGE-INTEGRITY key text for a call (relay <key>, then WA_RELAY_KEY); "" if none.
    std::string relay_key(const std::string &call_id);
    // The other participants of a call (for SFrame's receiver id).
    std::vector<std::string> participants(const std::string &call_id);
    // participants(), cached until the call registry or the key log changes: try_sframe asks on
    // every decrypted packet, and building the list (a std::set and copies) cost ~2,300
    // instructions per packet.
    const std::vector<std::string> &participants_cached(const std::string &call_id);
    // SFrame receive keys a sender's payloads may be sealed with (one per other participant),
    // cached per stream until the call registry or the key log changes.
    const std::vector<wacall::media::SFrameKey *> &sframe_keys_for(const MediaStream &s);
    // True while no key has been dropped since the capture was opened: a packet authenticated on
    // the first pass can then be re-decrypted on later passes without checking its tag again.
    bool keys_stable() const;
    // True the first time a flow key is seen (RTP payload types are announced once per flow).
    bool first_time_flow(const std::string &flow) { return flows_.insert(flow).second; }
    void reset();

private:
    void announce_key(const MediaStream &s, const KeyCandidate &c);
    uint64_t clears_at_reset_ = 0;
    void add_signaled_streams();
    // The key log's calls are derived in two tiers: the audio stream of every participant first
    // (a ninth of the work; most captures need no more), the other eight streams only when an
    // SSRC is still unexplained. True when the tier derived anything new to look at.
    static constexpr uint16_t kTierSlots[2] = {0x001, 0x1FE};
    bool add_keylog_streams(int tier);
    void add_streams(const std::string &call_id, uint16_t slots);
    uint64_t keys_gen_ = ~uint64_t(0), calls_gen_ = ~uint64_t(0), keylog_gen_[2] = {~uint64_t(0), ~uint64_t(0)};
    const std::string &intern(const std::string &s) { return *strings_.insert(s).first; }
    std::unordered_set<std::string> strings_;  // nodes are stable: MediaStream refers into them
    std::unordered_set<std::string> flows_;
    std::deque<MediaStream> streams_;  // stable addresses: packets keep pointers to them
    // Every derived SSRC -> (index in pairs_) << 4 | slot index. A GHashTable of 32-bit keys and
    // values costs ~12 bytes per SSRC; a node-based map cost ~60 (180,000 SSRCs for 10,000 calls).
    // MediaStream records are made only for SSRCs a packet actually carries (by_ssrc_).
    struct Pair {
        const std::string *call_id, *participant;
    };
    std::vector<Pair> pairs_;
    GHashTable *index_ = nullptr;
    // SSRCs more than one pair derives: every code after the one in index_, in derivation order.
    std::unordered_map<uint32_t, std::vector<uint32_t>> shared_;
    MediaStream *make_stream(uint32_t code);
    void link_stream(MediaStream *head, uint32_t code);  // a new stream at the end of head's chain
    void append_candidate(uint32_t ssrc, uint32_t code);
    std::unordered_map<uint32_t, MediaStream *> by_ssrc_;
    // Participants whose SSRCs are in index_ (and which of their nine streams), per interned call id.
    struct Derived {
        const std::string *participant;
        uint16_t slots;
        uint32_t pair;  // index in pairs_
    };
    std::unordered_map<const std::string *, std::vector<Derived>> derived_;
    wacall::media::SsrcDeriver ssrc_deriver_;
    // Key rings by "call-id\nparticipant" (nodes are stable: MediaStream::ring points into them).
    std::unordered_map<std::string, Keyring> keys_;
    struct Participants {
        uint64_t keys_gen = ~uint64_t(0), calls_gen = ~uint64_t(0);
        std::vector<std::string> list;
    };
    std::unordered_map<std::string, Participants> participants_;
    std::unordered_map<std::string, std::unique_ptr<wacall::media::HbhKeys>> hbh_;
    struct SFrameEntry {
        wacall::Bytes call_key;  // the call key it was derived from (the preferred one may change)
        std::unique_ptr<wacall::media::SFrameKey> key;
    };
    std::unordered_map<std::string, SFrameEntry> sframe_;
    std::unordered_map<std::string, std::unique_ptr<std::string>> calls_;
};

MediaState &wacall_media();
