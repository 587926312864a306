#include "media/ssrc.h"

#include "keys/participant.h"

#include "crypto/crypto.h"

namespace wacall::media {

uint32_t derive_ssrc(std::string_view call_id, std::string_view participant_id, uint32_t slot_word) {
    uint8_t salt[4] = {uint8_t(slot_word), uint8_t(slot_word >> 8), uint8_t(slot_word >> 16),
                       uint8_t(slot_word >> 24)};
    uint8_t okm[4];
    ByteView ikm(reinterpret_cast<const uint8_t *>(call_id.data()), call_id.size());
    ByteView info(reinterpret_cast<const uint8_t *>(participant_id.data()), participant_id.size());
    if (!crypto::hkdf_sha256(ByteView(salt, 4), ikm, info, okm, 4)) return 0;
    return uint32_t(okm[0]) | uint32_t(okm[1]) << 8 | uint32_t(okm[2]) << 16 | uint32_t(okm[3]) << 24;
}

void derive_all_ssrcs(std::string_view call_id, std::string_view participant_id, uint32_t out[9]) {
    for (int i = 0; i < 9; i++) out[i] = derive_ssrc(call_id, participant_id, kSlotWords[i]);
}

const char *slot_name(uint32_t w) {
    switch (w) {
    case 0: return "audio";
    case 1: return "audio FEC";
    case 4: return "audio NACK";
    case 2: return "video";
    case 3: return "video FEC";
    case 5: return "video NACK";
    case 7: return "HBH-FEC tx";
    case 8: return "HBH-FEC rx";
    case 6: return "app data";
    default: return "unknown";
    }
}

// One rule for the whole plugin: the key store, the call model and the media plane must spell
// the HKDF/SSRC `info` identically.
std::string format_participant_id(std::string_view jid) { return keys::normalize_participant_id(std::string(jid)); }

}  // namespace wacall::media
