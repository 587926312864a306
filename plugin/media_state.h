// Capture-wide media-plane state shared by wastun and warp: which call and participant an SSRC
// or a UDP flow belongs to, the per-sender keys (derived once per sender and cached), and the
// per-SSRC ROC trackers used on the first pass.
#pragma once

#include "media/srtp.h"
#include "media/sframe.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

struct MediaStream {
    std::string call_id;
    std::string participant;  // normalised sender id
    uint32_t slot_word = 0;
};

struct MediaCall {
    std::string call_id;
};

class MediaState {
public:
    // The stream an SSRC belongs to (derived from every call and participant known so far), or
    // nullptr. Returned pointers stay valid until reset().
    const MediaStream *attribute(uint32_t ssrc);
    // E2E keys of a sender; nullptr when no call key is known. Derived once, then cached.
    wacall::media::StreamKeys *keys(const MediaStream &s);
    // SFrame receive key (derived from the receiver's id, the reference direction).
    wacall::media::SFrameKey *sframe_key(const std::string &call_id, const std::string &receiver);
    wacall::media::RocEstimator &roc(uint32_t ssrc) { return rocs_[ssrc]; }
    // Interned call ids (stable pointers) for per-packet records.
    const std::string *intern_call(const std::string &call_id);
    // WARP tag length for a call: relay block, then WA_WARP_TAG_LEN, then 4.
    unsigned tag_len(const std::string &call_id);
    // STUN MESSAGE-INTEGRITY key text for a call (relay <key>, then WA_RELAY_KEY); "" if none.
    std::string relay_key(const std::string &call_id);
    // The other participants of a call (for SFrame's receiver id).
    std::vector<std::string> participants(const std::string &call_id);
    void reset();

private:
    void rebuild();
    uint64_t keys_gen_ = ~uint64_t(0), calls_gen_ = ~uint64_t(0);
    std::deque<MediaStream> streams_;
    std::unordered_map<uint32_t, const MediaStream *> by_ssrc_;
    std::unordered_map<std::string, std::unique_ptr<wacall::media::StreamKeys>> keys_;
    std::unordered_map<std::string, std::unique_ptr<wacall::media::SFrameKey>> sframe_;
    std::unordered_map<uint32_t, wacall::media::RocEstimator> rocs_;
    std::unordered_map<std::string, std::unique_ptr<std::string>> calls_;
};

MediaState &wacall_media();
