// TcpFrameStream: out-of-order buffering, retransmission trimming and gap handling for one
// direction of a raw-TCP Noise connection (see tcp_stream.h).
#include "noise/tcp_stream.h"

#include "noise/noise.h"

#include <algorithm>

namespace wacall::noise {

TcpFrameStream::TcpFrameStream(uint32_t start_seq, bool intro) : start_(start_seq), intro_pending_(intro) {}

// Stream offset of a sequence number, taken as the nearest one to the data already seen (so the
// 32-bit sequence space may wrap). Negative: before the stream's first byte.
uint64_t TcpFrameStream::unwrap(uint32_t seq) const {
    uint64_t ref = consumed_ + buf_.size();
    int32_t delta = static_cast<int32_t>(static_cast<uint32_t>(seq - start_) - static_cast<uint32_t>(ref));
    return ref + static_cast<uint64_t>(static_cast<int64_t>(delta));  // wraps to a huge value when < 0
}

// Cuts the complete frames off the front of buf_.
void TcpFrameStream::parse(std::vector<StreamFrame> &out, uint32_t gap_before) {
    size_t pos = 0;
    for (;;) {
        size_t intro_len = 0;
        ByteView rest(buf_.data() + pos, buf_.size() - pos);
        if (intro_pending_) {
            Intro in = parse_intro(rest);
            if (in.status == IntroStatus::NeedMore) break;
            if (in.status == IntroStatus::Ok) intro_len = in.length;
            else intro_pending_ = false;
        }
        if (rest.size < intro_len + kFrameHeaderSize) break;
        size_t need = intro_len + kFrameHeaderSize + be24(rest.data + intro_len);
        if (rest.size < need) break;
        StreamFrame f;
        f.bytes.assign(rest.data, rest.data + need);
        f.intro_len = intro_len;
        f.offset = consumed_ + pos;
        f.gap_before = gap_before;  // only the first frame after the gap
        out.push_back(std::move(f));
        gap_before = 0;
        intro_pending_ = false;
        pos += need;
    }
    if (pos) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos));
        consumed_ += pos;
    }
}

// Appends buffered segments that now connect to the contiguous data.
void TcpFrameStream::pull_ooo(SegmentResult &r) {
    while (!ooo_.empty()) {
        auto it = ooo_.begin();
        uint64_t end = consumed_ + buf_.size();
        if (it->first > end) break;
        uint64_t seg_end = it->first + it->second.size();
        if (seg_end > end) {
            buf_.insert(buf_.end(), it->second.begin() + static_cast<std::ptrdiff_t>(end - it->first), it->second.end());
            r.filled = true;
        }
        ooo_bytes_ -= it->second.size();
        tried_.erase(it->first);
        ooo_.erase(it);
    }
}

// Data waits behind a gap: skip the gap when a buffered segment starts with a frame the caller
// recognises as the next one (or when too much waits). The gap's bytes may still arrive later.
bool TcpFrameStream::try_skip(SegmentResult &r, const Resync &resync) {
    if (ooo_.empty()) return false;
    bool forced = ooo_bytes_ > kMaxBuffered;
    uint64_t target = 0;
    bool found = false;
    size_t tried = 0;
    for (auto it = ooo_.begin(); it != ooo_.end() && !found && tried < kMaxCandidates; ++it, ++tried) {
        if (forced) {
            target = it->first;
            found = true;
            break;
        }
        if (!resync) break;
        // How far the buffered bytes run on from this segment without a hole.
        uint64_t run_end = it->first + it->second.size();
        for (auto jt = std::next(it); jt != ooo_.end() && jt->first <= run_end; ++jt)
            run_end = std::max(run_end, jt->first + jt->second.size());
        size_t run_len = static_cast<size_t>(run_end - it->first);
        auto seen = tried_.find(it->first);
        if (seen != tried_.end() && seen->second == run_len) continue;  // refused with these bytes already
        tried_[it->first] = run_len;
        Bytes run = it->second;
        for (auto jt = std::next(it); jt != ooo_.end() && jt->first <= it->first + run.size(); ++jt) {
            uint64_t have = it->first + run.size(), e = jt->first + jt->second.size();
            if (e > have)
                run.insert(run.end(), jt->second.begin() + static_cast<std::ptrdiff_t>(have - jt->first), jt->second.end());
        }
        if (run.size() < kFrameHeaderSize) continue;
        size_t need = kFrameHeaderSize + be24(run.data());
        if (run.size() < need) continue;
        size_t pos = 0;  // do whole frames fill the run exactly?
        while (run.size() - pos >= kFrameHeaderSize && run.size() - pos >= kFrameHeaderSize + be24(run.data() + pos))
            pos += kFrameHeaderSize + be24(run.data() + pos);
        if (resync(ByteView(run.data(), need), pos == run.size())) {
            target = it->first;
            found = true;
        }
    }
    if (!found) return false;
    Gap g;
    g.start = consumed_;
    g.end = target;
    if (!buf_.empty()) g.pieces[consumed_] = buf_;
    while (!ooo_.empty() && ooo_.begin()->first < target) {
        auto it = ooo_.begin();
        Bytes part = it->second;
        if (it->first + part.size() > target) part.resize(static_cast<size_t>(target - it->first));
        g.pieces[it->first] = std::move(part);
        ooo_bytes_ -= it->second.size();
        ooo_.erase(it);
    }
    uint32_t id = next_gap_++;
    gaps_[id] = std::move(g);
    consumed_ = target;
    buf_.clear();
    intro_pending_ = false;
    tried_.clear();
    SegmentResult tmp;
    pull_ooo(tmp);
    parse(r.frames, id);
    r.gap = id;
    return true;
}

// Bytes of a skipped gap arrived late: hand out the gap's frames as soon as they are complete.
void TcpFrameStream::fill_gap(uint32_t id, Gap &g, uint64_t off, ByteView data, SegmentResult &r) {
    uint64_t a = std::max(off, g.start), b = std::min(off + data.size, g.end);
    if (a >= b) return;
    Bytes piece(data.data + (a - off), data.data + (b - off));
    auto it = g.pieces.find(a);
    if (it == g.pieces.end() || it->second.size() < piece.size()) g.pieces[a] = std::move(piece);
    // contiguous bytes from g.start
    Bytes run;
    uint64_t end = g.start;
    for (const auto &kv : g.pieces) {
        if (kv.first > end) break;
        uint64_t e = kv.first + kv.second.size();
        if (e > end) {
            run.insert(run.end(), kv.second.begin() + static_cast<std::ptrdiff_t>(end - kv.first), kv.second.end());
            end = e;
        }
    }
    size_t pos = 0;
    while (run.size() - pos >= kFrameHeaderSize) {
        size_t need = kFrameHeaderSize + be24(run.data() + pos);
        if (run.size() - pos < need || g.start + pos + need > g.end) break;
        StreamFrame f;
        f.bytes.assign(run.begin() + static_cast<std::ptrdiff_t>(pos), run.begin() + static_cast<std::ptrdiff_t>(pos + need));
        f.offset = g.start + pos;
        f.late_for = id;
        r.frames.push_back(std::move(f));
        pos += need;
    }
    r.filled = true;
    if (pos) {
        // what was handed out is gone; the gap now starts after it
        std::map<uint64_t, Bytes> rest;
        uint64_t ns = g.start + pos;
        for (auto &kv : g.pieces) {
            uint64_t e = kv.first + kv.second.size();
            if (e <= ns) continue;
            if (kv.first >= ns) rest[kv.first] = std::move(kv.second);
            else rest[ns] = Bytes(kv.second.begin() + static_cast<std::ptrdiff_t>(ns - kv.first), kv.second.end());
        }
        g.pieces = std::move(rest);
        g.start = ns;
    }
    if (g.start >= g.end) g.done = true;
}

SegmentResult TcpFrameStream::add(uint32_t seq, ByteView data, const Resync &resync) {
    SegmentResult r;
    if (data.empty()) return r;
    uint64_t contig = consumed_ + buf_.size();
    uint64_t off = unwrap(seq);
    if (off > contig + (uint64_t(1) << 40)) {  // before the stream's first byte
        uint64_t before = ~off + 1;
        if (before >= data.size) {
            r.retransmission = true;
            return r;
        }
        data = data.sub(static_cast<size_t>(before));
        off = 0;
        r.overlap = true;
    }
    // late bytes of skipped gaps
    bool in_gap = false;
    for (auto &kv : gaps_) {
        Gap &g = kv.second;
        if (g.done || off >= g.end || off + data.size <= g.start) continue;
        in_gap = true;
        fill_gap(kv.first, g, off, data, r);
    }
    if (off + data.size <= contig) {
        if (!in_gap) r.retransmission = true;
        return r;
    }
    if (off < contig) {
        if (!in_gap) r.overlap = true;
        data = data.sub(static_cast<size_t>(contig - off));
        off = contig;
    }
    if (off == contig) {
        buf_.insert(buf_.end(), data.begin(), data.end());
        pull_ooo(r);
    } else {
        auto it = ooo_.find(off);
        if (it != ooo_.end() && it->second.size() >= data.size) {
            r.retransmission = true;  // the same out-of-order segment again
        } else {
            if (it != ooo_.end()) ooo_bytes_ -= it->second.size();
            ooo_[off] = data.to_bytes();
            ooo_bytes_ += data.size;
            r.out_of_order = true;
        }
    }
    size_t before = r.frames.size();
    parse(r.frames, 0);
    if (r.frames.size() != before) tried_.clear();  // the caller's next counter moves on
    while (!ooo_.empty() && try_skip(r, resync)) {
    }
    return r;
}

}  // namespace wacall::noise
