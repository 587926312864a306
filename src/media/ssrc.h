// Deterministic SSRCs (reference digest §4.9, spec §4.8) and participant-id normalisation
// (reference §4.5, spec §3.8 REL-06 rule).
#pragma once

#include "common/bytes.h"
#include "crypto/crypto.h"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wacall::media {

// Stream order of the slot words (WASM_RELAY_STREAM_SLOT_WORDS).
constexpr uint32_t kSlotWords[9] = {0, 1, 4, 2, 3, 5, 7, 8, 6};

// ssrc = LE32(HKDF(salt = LE32(slot_word), ikm = call-id bytes, info = participant id, 4)).
// The call-id is used byte-exact (case-sensitive). Returns 0 only if libgcrypt fails.
uint32_t derive_ssrc(std::string_view call_id, std::string_view participant_id, uint32_t slot_word);

// All nine SSRCs of one participant in stream order (index i uses kSlotWords[i]).
void derive_all_ssrcs(std::string_view call_id, std::string_view participant_id, uint32_t out[9]);

// The SSRCs of every participant of a call at once, for attributing media against a whole key
// log (10,000 calls make 180,000 SSRCs): HKDF's extract step depends only on (slot, call-id), so
// it runs once per call and slot, on HMACs keyed once per slot; only the expand step runs per
// participant. Same results as derive_ssrc.
class SsrcDeriver {
public:
    using Ssrcs = std::array<uint32_t, 9>;  // stream order, as derive_all_ssrcs
    static constexpr uint16_t kAllSlots = 0x1FF;  // bit i = stream i (kSlotWords[i])
    // [p] for participants[p], the streams whose bit is set in `slots` (the others are 0).
    // nullopt only if libgcrypt fails.
    std::optional<std::vector<Ssrcs>> derive(std::string_view call_id, const std::vector<std::string> &participants,
                                             uint16_t slots = kAllSlots);

private:
    bool ready_ = false;
    crypto::HmacSha256 extract_[9];  // keyed with each slot's salt
    crypto::HmacSha256 expand_;      // keyed with each (call, slot) PRK in turn
};

// "audio", "audio FEC", "audio NACK", "video", "video FEC", "video NACK", "HBH-FEC tx",
// "HBH-FEC rx", "app data" by slot word; "unknown" for any other word.
const char *slot_name(uint32_t slot_word);
// True for the slot words that carry media a dissector decrypts (audio 0, video 2, app data 6).
inline bool slot_is_primary(uint32_t w) { return w == 0 || w == 2 || w == 6; }

// Strips "/resource"; "NNN@lid" -> "NNN:0@lid"; everything else unchanged.
std::string format_participant_id(std::string_view jid);

}  // namespace wacall::media
