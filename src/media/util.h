// Small internal helpers shared by the media sources.
#pragma once

#include "media/rtp.h"
#include "media/srtp.h"

#include <cstddef>
#include <cstdint>

namespace wacall::media::detail {

// Constant-time equality: tags must not leak how many leading bytes matched.
inline bool ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= uint8_t(a[i] ^ b[i]);
    return acc == 0;
}

// What an RTP unprotect reports: the packet without its tag (body_len bytes) at this ROC.
inline void fill_unprotect_info(RtpUnprotectInfo *info, size_t body_len, const RtpLocation &h, uint32_t roc) {
    if (!info) return;
    info->out_len = body_len;
    info->header_len = h.header_len;
    info->payload_len = body_len - h.header_len;
    info->seq = h.seq;
    info->ssrc = h.ssrc;
    info->roc = roc;
}

}  // namespace wacall::media::detail
