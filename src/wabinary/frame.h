// A decrypted Noise frame is a WABinary "packed payload" (digest §2.1): a format byte, then the
// node bytes, zlib-compressed when (format & 0x02).
#pragma once

#include "common/bytes.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace wacall::wabinary {

constexpr uint8_t kFormatCompressed = 0x02;
constexpr size_t kDefaultMaxInflated = size_t(16) << 20;  // the client's MAX_DECOMPRESSED_SIZE

// Move-only: `node` may point into `inflated`, which a move keeps valid but a copy would not.
struct Unpacked {
    bool ok = false;
    std::string error;
    uint8_t format = 0;
    bool compressed = false;
    ByteView node;   // the node bytes: into the input (plain) or into `inflated` (compressed)
    Bytes inflated;  // owned output of zlib when compressed

    Unpacked() = default;
    Unpacked(Unpacked &&) = default;
    Unpacked &operator=(Unpacked &&) = default;
    Unpacked(const Unpacked &) = delete;
    Unpacked &operator=(const Unpacked &) = delete;
};

// Never produces more than max_inflated bytes (a zlib bomb gets "inflated size exceeds N bytes").
Unpacked unpack_frame(ByteView plaintext, size_t max_inflated = kDefaultMaxInflated);

}  // namespace wacall::wabinary
