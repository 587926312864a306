#include "media/sframe.h"

#include <cstring>
#include <string>

namespace wacall::media {

std::optional<std::array<uint8_t, 32>> sframe_derive_key32(ByteView call_key, std::string_view participant_id) {
    if (call_key.size != 32) return std::nullopt;
    std::string info = "e2e sframe key";
    info.append(participant_id.data(), participant_id.size());
    return crypto::hkdf_sha256<32>(call_key.sub(0, 16), call_key.sub(16, 16),
                                   ByteView(reinterpret_cast<const uint8_t *>(info.data()), info.size()));
}

void sframe_nonce(uint64_t counter, uint8_t nonce[16]) {
    std::memset(nonce, 0, 8);
    for (int i = 0; i < 8; i++) nonce[8 + i] = uint8_t(counter >> (8 * i));
}

static bool varint_at(ByteView v, size_t &pos, size_t end, uint64_t &out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos < end; shift += 7) {
        uint8_t b = v[pos++];
        out |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

const char *sframe_header_status_name(SFrameHeaderStatus s) {
    switch (s) {
    case SFrameHeaderStatus::Ok: return "ok";
    case SFrameHeaderStatus::TooShort: return "shorter than tag and header";
    case SFrameHeaderStatus::BadLength: return "bad header length byte";
    case SFrameHeaderStatus::BadVarint: return "header varints do not fill the header";
    }
    return "?";
}

SFrameHeaderResult sframe_parse_header(ByteView frame) {
    SFrameHeaderResult r;
    if (frame.size < 19) return r;  // 16-byte tag + the smallest 3-byte header
    uint8_t hl = frame[frame.size - 1];
    if (hl < 3 || hl > frame.size - 16) {
        r.status = SFrameHeaderStatus::BadLength;
        return r;
    }
    size_t start = frame.size - hl, end = frame.size - 1, pos = start;
    SFrameHeader h;
    if (!varint_at(frame, pos, end, h.counter) || !varint_at(frame, pos, end, h.key_id) || pos != end) {
        r.status = SFrameHeaderStatus::BadVarint;
        return r;
    }
    h.header_len = hl;
    h.header_offset = start;
    h.ct_len = start - 16;
    r.header = h;
    r.status = SFrameHeaderStatus::Ok;
    return r;
}

size_t sframe_write_header(uint64_t counter, uint64_t key_id, uint8_t *out, size_t out_cap) {
    uint8_t buf[21];
    size_t n = 0;
    for (uint64_t v : {counter, key_id}) {
        do {
            uint8_t b = v & 0x7f;
            v >>= 7;
            buf[n++] = uint8_t(b | (v ? 0x80 : 0));
        } while (v);
    }
    buf[n] = uint8_t(n + 1);
    n++;
    if (n > out_cap) return 0;
    std::memcpy(out, buf, n);
    return n;
}

bool SFrameKey::derive(ByteView call_key, std::string_view participant_id) {
    std::optional<std::array<uint8_t, 32>> k32 = sframe_derive_key32(call_key, participant_id);
    return k32 && set_key(ByteView(k32->data(), 16));
}

bool SFrameKey::set_key(ByteView key16) {
    if (key16.size != 16) return false;
    std::memcpy(key_, key16.data, 16);
    return gcm_.set_key(key16);
}

const char *sframe_status_name(SFrameStatus s) {
    switch (s) {
    case SFrameStatus::Ok: return "ok";
    case SFrameStatus::NotSFrame: return "not SFrame (plain codec bytes)";
    case SFrameStatus::BadTag: return "SFrame tag mismatch (plain codec bytes)";
    case SFrameStatus::BadParam: return "bad parameter";
    }
    return "?";
}

SFrameStatus sframe_decrypt(SFrameKey &k, ByteView frame, const SFrameOptions &opt, uint8_t *out, size_t out_cap,
                            size_t &out_len, SFrameHeader *hdr) {
    out_len = 0;
    if (!k.valid()) return SFrameStatus::BadParam;
    const SFrameHeaderResult parsed = sframe_parse_header(frame);
    if (!parsed.ok()) return SFrameStatus::NotSFrame;
    const SFrameHeader &h = parsed.header;
    if (hdr) *hdr = h;
    if (out_cap < h.ct_len || (!out && h.ct_len)) return SFrameStatus::BadParam;
    uint8_t nonce[16];
    sframe_nonce(h.counter, nonce);
    ByteView aad = opt.header_as_aad ? frame.sub(h.header_offset, h.header_len) : ByteView();
    if (!k.gcm().decrypt(ByteView(nonce, 16), aad, frame.sub(0, h.ct_len), frame.data + h.ct_len, out))
        return SFrameStatus::BadTag;
    out_len = h.ct_len;
    return SFrameStatus::Ok;
}

bool sframe_encrypt(SFrameKey &k, uint64_t counter, uint64_t key_id, ByteView plain, const SFrameOptions &opt,
                    uint8_t *out, size_t out_cap, size_t &out_len) {
    out_len = 0;
    uint8_t hdr[21];
    size_t hl = sframe_write_header(counter, key_id, hdr, sizeof hdr);
    if (!k.valid() || !hl || !out || out_cap < plain.size + 16 + hl) return false;
    uint8_t nonce[16];
    sframe_nonce(counter, nonce);
    ByteView aad = opt.header_as_aad ? ByteView(hdr, hl) : ByteView();
    if (!k.gcm().encrypt(ByteView(nonce, 16), aad, plain, out, out + plain.size)) return false;
    std::memcpy(out + plain.size + 16, hdr, hl);
    out_len = plain.size + 16 + hl;
    return true;
}

}  // namespace wacall::media
