// TcpFrameStream: segments in capture order in, Noise frames in TCP sequence order out.
#include "noise/tcp_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace wacall;
using namespace wacall::noise;

namespace {

// A frame [len][body] whose body is `n` copies of `c`.
Bytes frame(char c, size_t n) {
    Bytes f = {uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
    f.insert(f.end(), n, uint8_t(c));
    return f;
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto &p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

ByteView sub(const Bytes &b, size_t a, size_t n) { return ByteView(b.data() + a, n); }

// The body letter of each frame, in the order the stream handed them out.
std::string letters(const std::vector<StreamFrame> &fs) {
    std::string s;
    for (const auto &f : fs) s += char(f.bytes[f.intro_len + 3]);
    return s;
}

struct Feed {
    TcpFrameStream st;
    std::vector<StreamFrame> out;
    SegmentResult last;
    explicit Feed(uint32_t start, bool intro = false) : st(start, intro) {}
    void add(uint32_t seq, ByteView d, const TcpFrameStream::Resync &rs = {}) {
        last = st.add(seq, d, rs);
        out.insert(out.end(), last.frames.begin(), last.frames.end());
    }
};

const Bytes A = frame('a', 20), B = frame('b', 30), C = frame('c', 10);
const Bytes ABC = cat({A, B, C});  // 23 + 33 + 13 = 69 bytes

}  // namespace

TEST(TcpFrameStream, InOrderSegmentsGiveFramesWithTheIntro) {
    Bytes intro = {'W', 'A', 6, 3};
    Bytes s = cat({intro, A, B});
    Feed f(1, true);
    f.add(1, sub(s, 0, 2));    // intro cut
    EXPECT_TRUE(f.out.empty());
    f.add(3, sub(s, 2, 10));
    f.add(13, sub(s, 12, s.size() - 12));
    ASSERT_EQ(letters(f.out), "ab");
    EXPECT_EQ(f.out[0].intro_len, 4u);
    EXPECT_EQ(f.out[0].bytes, cat({intro, A}));
    EXPECT_EQ(f.out[1].offset, 27u);
    EXPECT_EQ(f.st.delivered(), s.size());
}

TEST(TcpFrameStream, SplitIntoThreeSentLastFirstWaitsThenDeliversInOrder) {
    Feed f(1000);
    f.add(1000 + 46, sub(ABC, 46, 23));
    EXPECT_TRUE(f.last.out_of_order);
    f.add(1000 + 23, sub(ABC, 23, 23));
    EXPECT_TRUE(f.last.out_of_order);
    EXPECT_TRUE(f.out.empty());
    EXPECT_EQ(f.st.buffered(), 46u);
    f.add(1000, sub(ABC, 0, 23));
    EXPECT_TRUE(f.last.filled);
    EXPECT_EQ(letters(f.out), "abc");
    EXPECT_EQ(f.st.buffered(), 0u);
    for (const auto &x : f.out) EXPECT_EQ(x.gap_before + x.late_for, 0u);
}

TEST(TcpFrameStream, ExactAndOverlappingRetransmissionsAreDropped) {
    Feed f(1);
    f.add(1, sub(ABC, 0, 30));
    f.add(1, sub(ABC, 0, 30));
    EXPECT_TRUE(f.last.retransmission);
    f.add(1 + 20, sub(ABC, 20, 30));  // 10 old bytes, 20 new
    EXPECT_TRUE(f.last.overlap);
    f.add(1 + 40, sub(ABC, 40, 29));
    EXPECT_EQ(letters(f.out), "abc");
    f.add(1 + 5, sub(ABC, 5, 50));
    EXPECT_TRUE(f.last.retransmission);
    EXPECT_EQ(letters(f.out), "abc");
}

TEST(TcpFrameStream, SequenceNumbersWrap) {
    uint32_t start = 0xFFFFFFF0u;
    Feed f(start);
    f.add(start + 33, sub(ABC, 33, 36));  // wraps past 0
    f.add(start, sub(ABC, 0, 33));
    EXPECT_EQ(letters(f.out), "abc");
}

TEST(TcpFrameStream, WithoutProofAGapWaits) {
    Feed f(1);
    f.add(1 + 23, sub(ABC, 23, 46));  // A never comes, no resync callback
    EXPECT_TRUE(f.out.empty());
    EXPECT_EQ(f.st.buffered(), 46u);
}

TEST(TcpFrameStream, ProvenGapIsSkippedAndFilledLater) {
    // B and C arrive before A (two whole-frame segments swapped): the resync callback knows B.
    auto is_b = [](ByteView fr, bool) { return fr.size > 3 && fr[3] == 'b'; };
    Feed f(1);
    f.add(1 + 23, sub(ABC, 23, 33), is_b);
    ASSERT_EQ(letters(f.out), "b");
    EXPECT_NE(f.out[0].gap_before, 0u);
    uint32_t gap = f.out[0].gap_before;
    f.add(1 + 56, sub(ABC, 56, 13), is_b);
    EXPECT_EQ(letters(f.out), "bc");
    f.add(1, sub(ABC, 0, 23), is_b);  // A, late
    ASSERT_EQ(letters(f.out), "bca");
    EXPECT_EQ(f.out[2].late_for, gap);
    EXPECT_EQ(f.out[2].offset, 0u);
    f.add(1, sub(ABC, 0, 23), is_b);  // and again: nothing new
    EXPECT_EQ(letters(f.out), "bca");
}

TEST(TcpFrameStream, MidFrameLossCostsOnlyThatFrame) {
    // B's middle third is lost: C (the next frame) proves where the stream resumes.
    auto is_c = [](ByteView fr, bool) { return fr.size > 3 && fr[3] == 'c'; };
    Feed f(1);
    f.add(1, sub(ABC, 0, 23), is_c);
    f.add(1 + 23, sub(ABC, 23, 10), is_c);   // B head
    f.add(1 + 45, sub(ABC, 45, 11), is_c);   // B tail (not a frame start)
    EXPECT_EQ(letters(f.out), "a");
    f.add(1 + 56, sub(ABC, 56, 13), is_c);   // C
    ASSERT_EQ(letters(f.out), "ac");
    EXPECT_NE(f.out[1].gap_before, 0u);
    EXPECT_EQ(f.out[1].offset, 56u);
    // the missing middle arrives after all: B is whole again
    f.add(1 + 33, sub(ABC, 33, 12), is_c);
    ASSERT_EQ(letters(f.out), "acb");
    EXPECT_EQ(f.out[2].bytes, B);
}

TEST(TcpFrameStream, CandidateThatIsNotTheNextFrameIsNotTaken) {
    // A frame-looking segment start that the callback rejects leaves the gap open.
    Feed f(1);
    f.add(1 + 23, sub(ABC, 23, 46), [](ByteView, bool) { return false; });
    EXPECT_TRUE(f.out.empty());
    f.add(1, sub(ABC, 0, 23), [](ByteView, bool) { return false; });
    EXPECT_EQ(letters(f.out), "abc");
}

TEST(TcpFrameStream, TilingIsReportedAndACallerMayTrustIt) {
    // Without a key the dissector can only trust framing: B and C fill the buffered run exactly.
    std::vector<bool> seen;
    auto tiles = [&seen](ByteView, bool t) {
        seen.push_back(t);
        return t;
    };
    Feed f(1);
    f.add(1 + 23, sub(ABC, 23, 40), tiles);  // B and the head of C: does not tile
    EXPECT_TRUE(f.out.empty());
    f.add(1 + 63, sub(ABC, 63, 6), tiles);   // the rest of C: B, C tile the run
    ASSERT_EQ(letters(f.out), "bc");
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_FALSE(seen[0]);
    EXPECT_TRUE(seen[1]);
}

TEST(TcpFrameStream, ARefusedCandidateIsNotAskedAgainWithTheSameBytes) {
    int asked = 0;
    auto never = [&asked](ByteView, bool) {
        asked++;
        return false;
    };
    Feed f(1);
    f.add(1 + 23, sub(ABC, 23, 33), never);
    f.add(1 + 23, sub(ABC, 23, 33), never);  // the same segment again: nothing new to decide
    EXPECT_EQ(asked, 1);
    f.add(1 + 56, sub(ABC, 56, 13), never);  // the run grows: B's start is asked again, C's once
    EXPECT_EQ(asked, 3);
    EXPECT_EQ(f.st.buffered(), 46u);
}

TEST(TcpFrameStream, AnyDeliveryOrderWithDuplicatesGivesTheSameFrames) {
    // 40 frames of random sizes cut into random segments, delivered shuffled, with exact and
    // overlapping retransmissions: once every byte has arrived, the frames are the stream's, in order.
    uint32_t rng = 12345;
    auto next = [&rng](uint32_t n) {
        rng = rng * 1103515245u + 12345u;
        return (rng >> 8) % n;
    };
    for (int round = 0; round < 50; round++) {
        Bytes stream;
        std::string want;
        for (int i = 0; i < 40; i++) {
            char c = char('A' + next(26));
            Bytes fr = frame(c, 1 + next(300));
            stream.insert(stream.end(), fr.begin(), fr.end());
            want += c;
        }
        struct Seg {
            size_t off, len;
        };
        std::vector<Seg> segs;
        for (size_t pos = 0; pos < stream.size();) {
            size_t n = std::min<size_t>(1 + next(200), stream.size() - pos);
            segs.push_back({pos, n});
            pos += n;
        }
        size_t orig = segs.size();
        for (size_t i = 0; i < orig / 4; i++) {
            Seg s = segs[next(static_cast<uint32_t>(orig))];
            segs.push_back(s);  // exact retransmission
            size_t a = s.off + s.len / 2, b = std::min(stream.size(), a + 1 + next(300));
            segs.push_back({a, b - a});  // overlapping one
        }
        for (size_t i = segs.size(); i > 1; i--) std::swap(segs[i - 1], segs[next(static_cast<uint32_t>(i))]);
        uint32_t start = 0xFFFFFF00u + next(512);  // across the sequence wrap in some rounds
        Feed f(start);
        for (const auto &s : segs) f.add(start + static_cast<uint32_t>(s.off), sub(stream, s.off, s.len));
        ASSERT_EQ(letters(f.out), want) << "round " << round;
        EXPECT_EQ(f.st.delivered(), stream.size());
        EXPECT_EQ(f.st.buffered(), 0u);
    }
}
