#include "wabinary/frame.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace wacall::wabinary {

Unpacked unpack_frame(ByteView plaintext, size_t max_inflated) {
    Unpacked u;
    if (plaintext.empty()) {
        u.error = "empty frame (no format byte)";
        return u;
    }
    u.format = plaintext[0];
    u.compressed = (u.format & kFormatCompressed) != 0;
    ByteView body = plaintext.sub(1);
    if (!u.compressed) {
        u.node = body;
        u.ok = true;
        return u;
    }
    if (body.empty()) {
        u.error = "compressed frame has no zlib data";
        return u;
    }

    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) {  // RFC 1950 with header, window bits 15
        u.error = "zlib initialisation failed";
        return u;
    }
    // Grow geometrically from a guess; the cap bounds every allocation.
    size_t cap = std::min(max_inflated, std::max<size_t>(body.size * 4, 256));
    u.inflated.resize(cap);
    size_t in_pos = 0, out_pos = 0;
    int rc = Z_OK;
    bool over = false;
    while (true) {
        if (out_pos == u.inflated.size()) {
            if (u.inflated.size() >= max_inflated) {
                // Output is full at the cap: anything more means the cap is exceeded.
                uint8_t probe;
                zs.next_out = &probe;
                zs.avail_out = 1;
                zs.next_in = const_cast<Bytef *>(body.data + in_pos);
                zs.avail_in = static_cast<uInt>(std::min<size_t>(body.size - in_pos, UINT_MAX));
                size_t before_in = zs.avail_in;
                rc = inflate(&zs, Z_NO_FLUSH);
                in_pos += before_in - zs.avail_in;
                if (zs.avail_out == 0) over = true;
                break;
            }
            // reserve() first: resize() alone may round the capacity up to twice the size, so a
            // bomb stopped at the cap could hold 2 x max_inflated bytes.
            size_t next = std::min(max_inflated, u.inflated.size() * 2);
            u.inflated.reserve(next);
            u.inflated.resize(next);
        }
        zs.next_in = const_cast<Bytef *>(body.data + in_pos);
        zs.avail_in = static_cast<uInt>(std::min<size_t>(body.size - in_pos, UINT_MAX));
        zs.next_out = u.inflated.data() + out_pos;
        zs.avail_out = static_cast<uInt>(std::min<size_t>(u.inflated.size() - out_pos, UINT_MAX));
        size_t before_in = zs.avail_in, before_out = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        in_pos += before_in - zs.avail_in;
        out_pos += before_out - zs.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && zs.avail_out != 0) break;  // input exhausted before the end
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    inflateEnd(&zs);
    if (over) {
        Bytes().swap(u.inflated);  // give the memory back now, not when the caller drops u
        u.error = "inflated size exceeds " + std::to_string(max_inflated) + " bytes";
        return u;
    }
    if (rc != Z_STREAM_END) {
        Bytes().swap(u.inflated);
        u.error = rc == Z_DATA_ERROR || rc == Z_NEED_DICT ? "invalid zlib data" : "truncated zlib stream";
        return u;
    }
    u.inflated.resize(out_pos);
    u.node = ByteView(u.inflated);
    u.ok = true;
    return u;
}

}  // namespace wacall::wabinary
