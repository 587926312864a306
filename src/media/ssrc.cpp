#include "media/ssrc.h"

#include "keys/participant.h"

#include "crypto/crypto.h"

namespace wacall::media {

static uint32_t le32(const uint8_t *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// The HKDF salt: the slot word, little-endian.
struct SlotSalt {
    explicit SlotSalt(uint32_t w) : b{uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16), uint8_t(w >> 24)} {}
    ByteView view() const { return ByteView(b, 4); }
    uint8_t b[4];
};

uint32_t derive_ssrc(std::string_view call_id, std::string_view participant_id, uint32_t slot_word) {
    ByteView ikm(reinterpret_cast<const uint8_t *>(call_id.data()), call_id.size());
    ByteView info(reinterpret_cast<const uint8_t *>(participant_id.data()), participant_id.size());
    std::optional<std::array<uint8_t, 4>> okm = crypto::hkdf_sha256<4>(SlotSalt(slot_word).view(), ikm, info);
    return okm ? le32(okm->data()) : 0;
}

void derive_all_ssrcs(std::string_view call_id, std::string_view participant_id, uint32_t out[9]) {
    for (int i = 0; i < 9; i++) out[i] = derive_ssrc(call_id, participant_id, kSlotWords[i]);
}

std::optional<std::vector<SsrcDeriver::Ssrcs>> SsrcDeriver::derive(std::string_view call_id,
                                                                  const std::vector<std::string> &participants,
                                                                  uint16_t slots) {
    if (!ready_) {
        for (int i = 0; i < 9; i++)
            if (!extract_[i].set_key(SlotSalt(kSlotWords[i]).view())) return std::nullopt;
        ready_ = true;
    }
    std::vector<Ssrcs> result(participants.size(), Ssrcs{});
    ByteView ikm(reinterpret_cast<const uint8_t *>(call_id.data()), call_id.size());
    for (int i = 0; i < 9; i++) {
        if (!(slots >> i & 1)) continue;
        uint8_t prk[32];
        crypto::hkdf_extract(extract_[i], ikm, prk);
        if (!expand_.set_key(ByteView(prk, sizeof prk))) return std::nullopt;
        for (size_t p = 0; p < participants.size(); p++) {
            const std::string &id = participants[p];
            std::array<uint8_t, 4> okm =
                crypto::hkdf_expand<4>(expand_, ByteView(reinterpret_cast<const uint8_t *>(id.data()), id.size()));
            result[p][i] = le32(okm.data());
        }
    }
    return result;
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
