// One direction of a raw-TCP Noise connection, rebuilt from its segments as a capture shows them:
// segments come in capture order (out of order, retransmitted, overlapping, some never), complete
// Noise frames leave in TCP sequence order. A passive observer needs this because a transport
// frame's AES-GCM nonce is its position in the stream: one frame decrypted out of place stops the
// whole direction. Plain bytes in, plain values out: no Wireshark, no GLib.
#pragma once

#include "common/bytes.h"

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace wacall::noise {

// A complete frame: [intro][3-byte length][body]. The intro only precedes the first frame of a
// client stream that starts with one.
struct StreamFrame {
    Bytes bytes;
    size_t intro_len = 0;
    uint64_t offset = 0;     // stream offset of the first byte (0 = the stream's first byte)
    uint32_t gap_before = 0; // a gap (id) was skipped right before this frame: its bytes are not here yet
    uint32_t late_for = 0;   // this frame lies in an earlier skipped gap (id) and arrived after later data
};

struct SegmentResult {
    std::vector<StreamFrame> frames;
    bool out_of_order = false;    // starts beyond data not seen yet: buffered until the gap fills
    bool retransmission = false;  // every byte was seen before
    bool overlap = false;         // some bytes were seen before (dropped), some are new
    bool filled = false;          // connected buffered out-of-order data or an earlier gap
    uint32_t gap = 0;             // a gap skipped while adding this segment (0 = none)
};

class TcpFrameStream {
public:
    // Asked, when later data waits behind a gap, whether a complete frame found at the start of
    // a buffered segment is the real next frame after the gap (the dissector answers with the GCM
    // tag at the next counters). Yes: the gap is skipped (its frames may still come later).
    // `tiles`: the buffered bytes from there on are whole frames up to their last byte (the only
    // hint there is without a key).
    using Resync = std::function<bool(ByteView frame, bool tiles)>;

    // start_seq: TCP sequence number of the stream's first byte; intro: a client stream that
    // opens with the WhatsApp intro.
    TcpFrameStream(uint32_t start_seq, bool intro);

    SegmentResult add(uint32_t seq, ByteView data, const Resync &resync = {});

    // The contiguous bytes from the stream's first byte while no frame has been handed out
    // (what an intro probe needs to look at); empty afterwards.
    ByteView head() const { return consumed_ ? ByteView() : ByteView(buf_.data(), buf_.size()); }
    uint64_t delivered() const { return consumed_; }  // stream bytes handed out as frames
    size_t buffered() const { return ooo_bytes_; }     // out-of-order bytes waiting behind a gap
    static constexpr size_t kMaxBuffered = 1u << 20;   // beyond this a gap is skipped without proof
    static constexpr size_t kMaxCandidates = 64;       // buffered segment starts tried per gap

private:
    struct Gap {
        uint64_t start = 0, end = 0;         // stream range the gap skipped
        std::map<uint64_t, Bytes> pieces;    // bytes of it seen (partial frame head included)
        bool done = false;
    };
    uint64_t unwrap(uint32_t seq) const;
    void parse(std::vector<StreamFrame> &out, uint32_t gap_before);
    void pull_ooo(SegmentResult &r);
    bool try_skip(SegmentResult &r, const Resync &resync);
    void fill_gap(uint32_t id, Gap &g, uint64_t off, ByteView data, SegmentResult &r);

    uint32_t start_;
    bool intro_pending_;
    uint64_t consumed_ = 0;              // offset of buf_[0], always a frame boundary
    Bytes buf_;                          // contiguous bytes from consumed_
    std::map<uint64_t, Bytes> ooo_;      // segments beyond consumed_ + buf_.size()
    size_t ooo_bytes_ = 0;
    std::map<uint64_t, size_t> tried_;   // candidate start -> run length it was refused with
    std::map<uint32_t, Gap> gaps_;
    uint32_t next_gap_ = 1;
};

}  // namespace wacall::noise
