// The media receiver of one capture: everything between "these bytes arrived on a WhatsApp media
// flow" and "this is the plaintext, sent by this participant of this call". It owns the
// capture-wide media state (SSRC derivation index, streams, key rings and epochs, hop-by-hop and
// SFrame keys, interned call ids) and the receive policy: ROC search, key-ring order, hop-by-hop
// stripping, two senders deriving one SSRC, SFrame.
//
// Two calls per packet kind. The first pass turns bytes into a small verdict (stream, key used,
// ROC, status) that the dissector keeps per frame; replay turns a verdict and the same bytes back
// into the plaintext on any later pass without searching again. Keys and calls come from a
// KeySource (the plugin's key store and call registry; an in-memory one in the unit tests).
// No Wireshark header here.
#pragma once

#include "common/bytes.h"
#include "keys/keylog.h"
#include "media/hbh.h"
#include "media/sframe.h"
#include "media/srtp.h"
#include "media/ssrc.h"

#include <glib.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace wacall::media {

// Which derivation the hop-by-hop layer uses (spec digest X1), or none (reference client).
enum class HbhMode { Off = 0, Rfc3711 = 1, HkdfDirectional = 2, HkdfShared = 3 };
enum class HbhUse { Rtp, RtcpUplink, RtcpDownlink };

// The receive choices the spec leaves open (warp's preferences).
struct ReceiverOptions {
    TagKey tag_key = TagKey::SrtpAuthKey;
    IvLayout iv_layout = IvLayout::Rfc3711;
    HbhMode hbh_mode = HbhMode::Off;
    unsigned hbh_tag = 0;  // 0: auto (10 bytes, then 4), else the HBH tag length
    HbhPlacement hbh_placement = HbhPlacement::MiInside;
    bool try_sframe = true;  // as the reference client does on receive
};

// What the registry knows of a signaled call (pointers valid until the registry changes).
struct SignaledCall {
    const std::vector<std::string> *participants = nullptr;  // normalised
    const Bytes *hbh_key = nullptr;                          // relay <hbh_key>, empty when none
    uint32_t warp_mi_tag_len = 0;                            // 0: no relay block seen
    const std::string *relay_key = nullptr;                  // relay <key> text, empty when none
};

// What the receiver needs from the key store and the call registry. Generations let it cache
// derived keys and SSRCs until something changes.
class KeySource {
public:
    virtual ~KeySource() = default;
    // ---- key log
    virtual uint64_t keys_generation() const = 0;  // bumps on every change
    virtual uint64_t keys_clears() const = 0;      // bumps when loaded keys were dropped
    virtual uint64_t keys_preferences() const = 0; // bumps when prefer_call_key() changed a choice
    virtual void refresh_keys() = 0;               // re-reads the key log if the file grew (a stat)
    virtual std::vector<keys::CallKeyCandidate> call_key_candidates(const std::string &call_id) const = 0;
    virtual const Bytes *call_key(const std::string &call_id) const = 0;  // the preferred candidate
    virtual void prefer_call_key(const std::string &call_id, size_t index) = 0;
    virtual std::vector<keys::EpochCandidate> epoch_candidates(const std::string &call_id) const = 0;
    virtual const std::vector<std::string> &keylog_participants(const std::string &call_id) const = 0;
    virtual std::vector<std::string> keylog_call_ids() const = 0;  // calls named by WA_PARTICIPANT
    virtual const Bytes *keylog_hbh_key(const std::string &call_id) const = 0;
    virtual int keylog_tag_len(const std::string &call_id) const = 0;  // 0: none
    virtual const std::string *keylog_relay_key(const std::string &call_id) const = 0;
    // One of several differing key-log values authenticated media: tell the user which line.
    virtual void report_key_used(uint32_t line, const std::string &what) = 0;
    // ---- call registry
    virtual uint64_t calls_generation() const = 0;
    virtual std::vector<std::string> signaled_call_ids() const = 0;
    virtual std::optional<SignaledCall> signaled_call(const std::string &call_id) const = 0;
};

// One key a stream's packets may be protected with: the 1:1 call key, or a group epoch
// (<enc_rekey transaction-id>). Packets name neither, so each is tried; the one whose tag
// verifies is recorded per packet. A key log may give a call several differing call keys (a
// wrong one corrected later): each is a candidate of its own.
struct KeyCandidate {
    enum Kind : uint8_t { CallKey = 0, Epoch = 1 } kind = CallKey;
    uint32_t transaction_id = 0;  // the epoch's; for CallKey the index among the call's key-log values
    uint8_t epoch_index = 0;      // which of an epoch's differing key-log values (0: the first line's)
    bool announced = false;       // note_key_used() already ran for it
    StreamKeys keys;
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

// One SSRC seen in the capture: who sent it (references into the receiver's string pool) and
// its receive state, kept together so a packet costs one lookup. Owned by the MediaReceiver.
class MediaStream {
public:
    MediaStream(const std::string &c, const std::string &p, uint32_t w) : call_id(c), participant(p), slot_word(w) {}
    const std::string &call_id;
    const std::string &participant;  // normalised sender id
    uint32_t slot_word;
    // Another sender that derives the same SSRC, or nullptr. SSRCs are 32-bit hashes: a key log
    // of 10,000 calls (180,000 SSRCs) holds a few such pairs, so when this sender's keys do not
    // authenticate a packet the next one is tried. The chain only grows.
    const MediaStream *next() const { return next_; }

private:
    friend class MediaReceiver;
    MediaStream *next_ = nullptr;
    // First-pass state of the RTP path.
    RocEstimator roc_;
    uint64_t last_key_ = 0;        // the candidate that last authenticated a packet (tried first), 0 if none
    unsigned roc_searches_ = 0;    // packets that went through the initial ROC search while unauthenticated
    uint64_t searched_keys_ = 0;   // key-log generation roc_searches_ counts for
    Keyring *ring_ = nullptr;      // the sender's entry in MediaReceiver::keys_
    struct SFrameKeys {
        uint64_t keys_gen = ~uint64_t(0), calls_gen = ~uint64_t(0), prefs_gen = ~uint64_t(0);
        std::vector<SFrameKey *> list;
    };
    SFrameKeys sframe_;
};

// Error convention (docs/design.md): one status enum per verdict, named for expert texts.
enum class ReceiveStatus : uint8_t {
    Unattributed = 0,  // no known call and participant derives the SSRC
    NoKey,             // attributed, but the key log has no key for the call
    Good,              // authenticated and decrypted
    BadTag,            // every key failed the E2E tag
    Malformed,         // too short / no payload: the same for every key
    NoHbhKey,          // the hop-by-hop layer is on but the call has no HBH key
    HbhBad,            // the hop-by-hop tag did not verify
};
const char *receive_status_name(ReceiveStatus s);

// The per-packet record of the first pass: what replay needs, and what the dissector renders.
struct MediaVerdict {
    const MediaStream *stream = nullptr;  // attribution (valid until reset())
    uint64_t key_id = 0;                  // KeyCandidate::id() that authenticated (status Good)
    uint32_t roc = 0;                     // RTP: the ROC tried (authenticated when Good)
    ReceiveStatus status = ReceiveStatus::Unattributed;
    uint8_t tag_len = 0;                  // RTP: the WARP MI tag length used
    uint8_t hbh_tag = 0;                  // RTP: hop-by-hop tag length removed, 0 when no HBH layer
};
static_assert(sizeof(MediaVerdict) <= 24, "MediaVerdict: one per packet, keep it small");
using RtpVerdict = MediaVerdict;
using RtcpVerdict = MediaVerdict;

// Where a packet went: SRTCP's hop-by-hop keys differ per direction (RTP's do not).
struct FlowHint {
    bool to_relay = false;  // towards the relay (its port, or an endpoint the signaling named)
};

// The plaintext written to the caller's buffer (capacity >= the packet's size).
struct RtpPlain {
    size_t len = 0;         // header ‖ payload; 0 when nothing was decrypted
    size_t header_len = 0;  // the payload starts here
    bool sframe = false;    // the payload was an SFrame frame, now opened
    uint64_t sframe_counter = 0;
};
struct RtcpPlain {
    size_t len = 0;                          // the plaintext compound; 0 when not decrypted
    SrtpStatus srtp = SrtpStatus::BadParam;  // the last key's SRTCP status (for expert texts)
};

class MediaReceiver {
public:
    explicit MediaReceiver(KeySource &src) : src_(src) {}
    ~MediaReceiver();
    MediaReceiver(const MediaReceiver &) = delete;
    MediaReceiver &operator=(const MediaReceiver &) = delete;

    void set_options(const ReceiverOptions &o) { opt_ = o; }
    const ReceiverOptions &options() const { return opt_; }

    // ---- per packet
    // First pass over an RTP packet (tag included; a header that does not parse is Malformed):
    // attribute by SSRC, search the ROC, strip HBH, try the key ring, then the SSRC's other
    // senders. On Good the plaintext is in out.
    RtpVerdict first_pass_rtp(ByteView packet, uint8_t *out, RtpPlain *plain);
    // Later passes: the plaintext of a Good verdict (no search; the tag is checked again only if
    // keys were dropped since). len 0 otherwise.
    RtpPlain replay_rtp(const RtpVerdict &v, ByteView packet, uint8_t *out);
    // SRTCP: attribution and the key ring (HBH-SRTCP first when on); on the first pass also the
    // SSRC's other senders. Replay authenticates again with the verdict's sender (a few packets
    // per second: no per-packet key is kept).
    RtcpVerdict first_pass_rtcp(ByteView packet, const FlowHint &hint, uint8_t *out, RtcpPlain *plain);
    RtcpVerdict replay_rtcp(const RtcpVerdict &v, ByteView packet, const FlowHint &hint, uint8_t *out,
                            RtcpPlain *plain);

    // ---- lookups for the dissectors
    // The stream an SSRC belongs to (derived from every call and participant known so far), or
    // nullptr; other senders deriving the same SSRC follow it through MediaStream::next(), the
    // signaled calls first. Returned pointers stay valid until reset().
    const MediaStream *attribute(uint32_t ssrc);
    // Every E2E key of a sender (call key first, then epochs by transaction-id); empty when the
    // key log has none. Derived once per key-log generation, then cached.
    const std::vector<std::unique_ptr<KeyCandidate>> &keyring(const MediaStream &s);
    const KeyCandidate *find_key(const MediaStream &s, uint64_t id);
    // WARP tag length for a call as signaled: relay block, then WA_WARP_TAG_LEN; nullopt when
    // neither says (nothing in the clear tells it).
    std::optional<unsigned> signaled_tag_len(const std::string &call_id);
    // signaled_tag_len(), else the reference default 4.
    unsigned tag_len(const std::string &call_id);
    // STUN MESSAGE-INTEGRITY key text for a call (relay <key>, then WA_RELAY_KEY); "" if none.
    std::string relay_key(const std::string &call_id);
    // Interned call ids (stable pointers) for per-packet records.
    const std::string *intern_call(const std::string &call_id);
    // True while no key has been dropped since reset(): a packet authenticated on the first pass
    // can then be re-decrypted on later passes without checking its tag again.
    bool keys_stable() const;
    // Drops everything (a new capture file).
    void reset();

private:
    MediaStream &own(const MediaStream &s) { return const_cast<MediaStream &>(s); }  // every stream is ours
    E2EOptions e2e_options(unsigned tag_len) const;
    KeyCandidate *ring_key(const MediaStream &s, uint64_t id);
    HbhKeys *hbh_keys(const std::string &call_id, HbhUse use);
    // The one HBH + key-ring loop of RTP and RTCP: strips the hop-by-hop layer (when on), then
    // tries the ring, `first_id` first, with `attempt`. Sets v.status/key_id/hbh_tag.
    using Ring = std::vector<std::unique_ptr<KeyCandidate>>;
    template <class Strip, class Attempt>
    SrtpStatus unprotect_ring(MediaVerdict &v, const Ring &ring, ByteView wire, HbhUse use, Strip strip,
                              Attempt attempt, uint64_t first_id);
    // The E2E packet inside the HBH layer (in hbh_buf_), or nullopt when the HBH tag fails.
    std::optional<ByteView> strip_hbh_rtp(HbhKeys &hk, const MediaVerdict &v, uint8_t tag_len, ByteView wire);
    SrtpStatus try_roc(MediaVerdict &v, ByteView b, uint8_t *out, RtpUnprotectInfo *info, uint32_t roc);
    void first_pass_unprotect(MediaVerdict &v, ByteView b, uint16_t seq, uint8_t *out, RtpUnprotectInfo *info);
    SrtpStatus rtcp_unprotect(MediaVerdict &v, ByteView b, HbhUse use, uint8_t *out, size_t *out_len);
    template <class Accepts>
    const MediaStream *other_sender(uint32_t ssrc, const MediaStream *head, Accepts accepts);
    void try_sframe(const MediaStream &s, uint8_t *out, const RtpUnprotectInfo &info, RtpPlain &plain);
    const std::vector<SFrameKey *> &sframe_keys_for(const MediaStream &s);
    SFrameKey *sframe_key(const std::string &call_id, const std::string &receiver);
    void note_key_used(const MediaStream &s, KeyCandidate &c) {
        if (!c.announced) announce_key(s, c);
    }
    void announce_key(const MediaStream &s, KeyCandidate &c);
    void fresh_search_on_new_keys(MediaStream &s) const;
    std::vector<std::string> participants(const std::string &call_id) const;
    const std::vector<std::string> &participants_cached(const std::string &call_id);
    const MediaStream *attribute_all(uint32_t ssrc);
    void add_signaled_streams();
    // The key log's calls are derived in two tiers: the audio stream of every participant first
    // (a ninth of the work; most captures need no more), the other eight streams only when an
    // SSRC is still unexplained. True when the tier derived anything new to look at.
    static constexpr uint16_t kTierSlots[2] = {0x001, 0x1FE};
    bool add_keylog_streams(int tier);
    void add_streams(const std::string &call_id, uint16_t slots);
    MediaStream *make_stream(uint32_t code);
    void link_stream(MediaStream *head, uint32_t code);  // a new stream at the end of head's chain
    void append_candidate(uint32_t ssrc, uint32_t code);
    const std::string &intern(const std::string &s) { return *strings_.insert(s).first; }

    KeySource &src_;
    ReceiverOptions opt_;
    uint64_t clears_at_reset_ = 0;
    uint64_t keys_gen_ = ~uint64_t(0), calls_gen_ = ~uint64_t(0), keylog_gen_[2] = {~uint64_t(0), ~uint64_t(0)};
    std::unordered_set<std::string> strings_;  // nodes are stable: MediaStream refers into them
    std::deque<MediaStream> streams_;          // stable addresses: verdicts keep pointers to them
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
    std::unordered_map<uint32_t, MediaStream *> by_ssrc_;
    // Participants whose SSRCs are in index_ (and which of their nine streams), per interned call id.
    struct Derived {
        const std::string *participant;
        uint16_t slots;
        uint32_t pair;  // index in pairs_
    };
    std::unordered_map<const std::string *, std::vector<Derived>> derived_;
    SsrcDeriver ssrc_deriver_;
    // Key rings per sender, by interned (call id, participant) (nodes are stable: MediaStream::ring_
    // points into them).
    std::map<std::pair<const std::string *, const std::string *>, Keyring> keys_;
    struct Participants {
        uint64_t keys_gen = ~uint64_t(0), calls_gen = ~uint64_t(0);
        std::vector<std::string> list;
    };
    std::unordered_map<std::string, Participants> participants_;
    // Per interned call id (a MediaStream::call_id), mode and use.
    std::map<std::tuple<const std::string *, HbhMode, HbhUse>, std::unique_ptr<HbhKeys>> hbh_;
    struct SFrameEntry {
        Bytes call_key;  // the call key it was derived from (the preferred one may change)
        std::unique_ptr<SFrameKey> key;
    };
    std::map<std::pair<std::string, std::string>, SFrameEntry> sframe_;  // (call id, receiver)
    std::unordered_map<std::string, std::unique_ptr<std::string>> calls_;
    // Per-packet scratch (the HBH-stripped E2E packet, the SFrame plaintext): no allocation per packet.
    std::vector<uint8_t> hbh_buf_, sframe_buf_;
};

}  // namespace wacall::media
