// SFrame as used by WhatsApp (reference digest §4.8, spec digest §3.6; contradictions X2/X3):
// AES-128-GCM, 16-byte nonce 8x00 ‖ counter u64 LE, wire = ciphertext ‖ tag(16) ‖ header, where
// header = varint counter ‖ varint key_id ‖ total header length (1 byte, counting itself).
// Which participant id keys a direction is the caller's choice (X2): the reference decrypts with
// the receiver's own id, CRY-06 with the sender's.
#pragma once

#include "common/bytes.h"
#include "crypto/crypto.h"

#include <array>
#include <optional>
#include <string_view>

namespace wacall::media {

// HKDF(salt = callKey[0:16], ikm = callKey[16:32], info = "e2e sframe key" ‖ participant id, 32).
// nullopt unless call_key is exactly 32 bytes (or if libgcrypt fails).
std::optional<std::array<uint8_t, 32>> sframe_derive_key32(ByteView call_key, std::string_view participant_id);

void sframe_nonce(uint64_t counter, uint8_t nonce[16]);

struct SFrameHeader {
    uint64_t counter = 0;
    uint64_t key_id = 0;
    uint8_t header_len = 0;   // total, including the length byte
    size_t header_offset = 0; // of the header within the frame
    size_t ct_len = 0;        // ciphertext bytes before the tag
};

enum class SFrameHeaderStatus {
    Ok,
    TooShort,   // shorter than the 16-byte tag + the smallest 3-byte header
    BadLength,  // the length byte is < 3 or larger than the frame allows
    BadVarint,  // counter and key id varints do not fill the header exactly
};
const char *sframe_header_status_name(SFrameHeaderStatus s);

struct SFrameHeaderResult {
    SFrameHeaderStatus status = SFrameHeaderStatus::TooShort;
    SFrameHeader header;  // all zero unless ok()
    bool ok() const { return status == SFrameHeaderStatus::Ok; }
};

// Parses the trailer header.
SFrameHeaderResult sframe_parse_header(ByteView frame);

// Serialises a header; returns its length (<= 21), 0 if out_cap is too small.
size_t sframe_write_header(uint64_t counter, uint64_t key_id, uint8_t *out, size_t out_cap);

class SFrameKey {
public:
    bool derive(ByteView call_key, std::string_view participant_id);  // uses OKM[0:16]
    bool set_key(ByteView key16);
    bool valid() const { return gcm_.valid(); }
    const uint8_t *key() const { return key_; }
    crypto::AesGcm &gcm() { return gcm_; }

private:
    uint8_t key_[16] = {};
    crypto::AesGcm gcm_;
};

enum class SFrameStatus {
    Ok,
    NotSFrame,  // too short or no valid header: the bytes are a plain codec frame
    BadTag,     // header parsed but GCM failed: also treat as plain codec bytes
    BadParam,
};
const char *sframe_status_name(SFrameStatus s);

struct SFrameOptions {
    bool header_as_aad = false;  // spec CRY-04 (X3); the reference authenticates no AAD
};

// Decrypts into out (capacity >= frame.size - 16 - header_len). out is zeroed on a bad tag.
SFrameStatus sframe_decrypt(SFrameKey &k, ByteView frame, const SFrameOptions &opt, uint8_t *out, size_t out_cap,
                            size_t &out_len, SFrameHeader *hdr = nullptr);
// out gets plain.size + 16 + header bytes.
bool sframe_encrypt(SFrameKey &k, uint64_t counter, uint64_t key_id, ByteView plain, const SFrameOptions &opt,
                    uint8_t *out, size_t out_cap, size_t &out_len);

}  // namespace wacall::media
