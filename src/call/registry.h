// Per-capture call state built from the call stanzas: who called whom, which device answered,
// the relay material, the endpoints, and the first frame of each state. The media plane reads it
// (participants, relay key, tag length, endpoint → call); the dissector reads it to put
// wacall.call_id on every <ack>/<receipt> that belongs to a call.
//
// Idempotent: every (frame, index-in-frame) is applied once, so re-dissection (second pass,
// random access) changes nothing and gets the same answer.
#pragma once

#include "call/call.h"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace wacall::call {

// Ordered by progress: the status never goes back (a late reject from another device does not
// undo an accept).
enum class CallStatus : uint8_t { Unknown, Offered, Ringing, Rejected, Accepted, Ended };
const char *call_status_name(CallStatus s);  // "Accepted" is shown as "Accepted/in call"

// Which way the Noise stream carrying the stanza went, when the dissector knows it.
enum class Direction : uint8_t { Unknown, ClientToServer, ServerToClient };

struct StateMark {
    bool seen = false;
    uint32_t frame = 0;
    double time = 0;
    // Keeps the earliest frame, whatever order the frames are fed in.
    void mark(uint32_t f, double t) {
        if (!seen || f < frame) {
            seen = true;
            frame = f;
            time = t;
        }
    }
};

// An endpoint the call's signaling named (relay te2, te, spec-model candidate). Owned copy.
struct EndpointRecord {
    AddrFamily family = AddrFamily::None;
    uint8_t addr[16] = {};
    uint16_t port = 0;
    std::string source;  // "te2", "te", "endpoint"
    std::string relay_name;
    std::optional<uint32_t> relay_id;
    bool is_fna = false;
    std::optional<uint32_t> auth_token_id;
    uint32_t first_frame = 0;
    std::string text() const;  // "1.2.3.4:3478" / "[v6]:port"
};

struct Call {
    std::string call_id;
    std::string creator;              // call-creator as sent
    std::string creator_participant;  // normalised
    std::string caller_jid;           // offer `from`, else the creator
    std::string callee_jid;           // offer `to`, else the accept's sender
    std::string offer_stanza_id;
    Direction offer_direction = Direction::Unknown;  // C2S: the capture is the caller's side
    std::vector<std::string> offered_devices;   // normalised <destination><to jid> of the offer
    std::vector<std::string> ringing_devices;   // normalised senders of offer receipts
    std::string answering_device;               // normalised: accept `participant`, else `from`
    std::vector<std::string> participants;      // normalised: creator, answering device, group devices
    bool is_video = false, is_group = false;
    std::string group_jid;

    // Relay material (the latest block wins field by field; absent fields keep earlier values).
    bool has_relay = false;
    std::string relay_uuid;
    std::string relay_key;  // <key> text: the STUN MESSAGE-INTEGRITY key
    Bytes hbh_key;          // 30 bytes when seen
    uint32_t warp_mi_tag_len = 0;  // 0: no relay block seen; 4 when a block had none
    std::optional<uint32_t> self_pid, peer_pid;
    std::vector<EndpointRecord> endpoints;
    std::vector<uint32_t> transaction_ids;  // enc_rekey / group_info epochs

    StateMark offer, offer_ack, ringing, preaccept, accept, reject, terminate;
    std::string reject_reason, terminate_reason;
    std::optional<uint32_t> duration, audio_duration;  // as signalled on <terminate>
    CallStatus status = CallStatus::Unknown;

    std::vector<uint32_t> frames;  // every frame that named the call, ascending, unique
    double first_time = 0, last_time = 0;
};

class CallRegistry {
public:
    // Applies one stanza seen in `frame` (`index` tells several stanzas of one frame apart).
    // Returns the call it belongs to: by call-id, or for an <ack>/<receipt> without one by the
    // stanza id of the call stanza it answers. nullptr when not call-related or unknown.
    const Call *update(const CallStanza &s, uint32_t frame, double time, Direction dir = Direction::Unknown,
                       uint32_t index = 0);

    const Call *find(const std::string &call_id) const;
    // The call-id of the call stanza (or receipt) that had this stanza id.
    const std::string *call_for_stanza_id(const std::string &stanza_id) const;
    // The call whose signaling named this address and port (latest call wins).
    const std::string *call_for_endpoint(AddrFamily family, const uint8_t *addr, uint16_t port) const;
    // Same, ignoring the port (media may use another relay port than the one signalled).
    const std::string *call_for_address(AddrFamily family, const uint8_t *addr) const;
    // The call a (frame, index) was attributed to when it was applied; nullptr if none.
    const Call *call_for_frame(uint32_t frame, uint32_t index = 0) const;

    const std::deque<Call> &calls() const { return calls_; }
    size_t size() const { return calls_.size(); }
    uint64_t generation() const { return generation_; }
    void clear();

private:
    Call *get_or_create(const std::string &call_id);
    void add_endpoint(Call &c, const Endpoint &ep, uint32_t frame);

    std::deque<Call> calls_;  // stable addresses
    std::unordered_map<std::string, size_t> by_id_;
    std::unordered_map<std::string, std::string> stanza_ids_;
    std::unordered_map<std::string, std::string> endpoints_, addresses_;
    std::unordered_map<uint64_t, int64_t> applied_;  // (frame << 32 | index) → call index or -1
    uint64_t generation_ = 0;
};

}  // namespace wacall::call
