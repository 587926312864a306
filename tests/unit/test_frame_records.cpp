// FrameRecords: the per-frame record store of the WARP dissector (what p_add_proto_data does,
// without its per-packet allocations). Records are found by (frame, layer) in any insertion
// order, a frame's first record is the one added first, and pointers survive later additions.
#include "common/frame_records.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

using wacall::FrameRecords;

namespace {

struct Rec {
    const void *stream;
    uint64_t key_id;
    uint32_t roc;
    uint8_t status;
};

}  // namespace

TEST(FrameRecords, FindsByFrameAndLayerAndStartsZeroed) {
    FrameRecords<Rec> r;
    EXPECT_EQ(r.find(1, 5), nullptr);
    EXPECT_EQ(r.first(1), nullptr);
    Rec &a = r.add(1, 5);
    EXPECT_EQ(a.stream, nullptr);
    EXPECT_EQ(a.key_id, 0u);
    EXPECT_EQ(a.roc, 0u);
    EXPECT_EQ(a.status, 0u);
    a.roc = 7;
    ASSERT_NE(r.find(1, 5), nullptr);
    EXPECT_EQ(r.find(1, 5)->roc, 7u);
    EXPECT_EQ(r.find(1, 6), nullptr);  // another layer of the same frame
    EXPECT_EQ(r.find(2, 5), nullptr);  // the same layer of another frame
    EXPECT_EQ(r.find(0, 5), nullptr);
    EXPECT_EQ(r.find(UINT32_MAX, 5), nullptr);  // beyond the index: no growth on lookup
}

TEST(FrameRecords, NestedLayersKeepInsertionOrderAndFirstIsTheOutermost) {
    FrameRecords<Rec> r;
    r.add(10, 7).roc = 1;  // outer WARP layer
    r.add(11, 5).roc = 2;  // another frame in between
    r.add(10, 12).roc = 3;  // inner layer of frame 10, added later
    r.add(10, 4).roc = 4;  // a lower layer number added last is still not "first"
    EXPECT_EQ(r.first(10)->roc, 1u);
    EXPECT_EQ(r.find(10, 12)->roc, 3u);
    EXPECT_EQ(r.find(10, 4)->roc, 4u);
    EXPECT_EQ(r.first(11)->roc, 2u);
    EXPECT_EQ(r.size(), 4u);
}

TEST(FrameRecords, PointersStayValidAcrossGrowthAndRandomOrderMatchesAMap) {
    FrameRecords<Rec> r;
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> want;
    std::vector<std::pair<Rec *, uint32_t>> held;
    std::mt19937 rng(42);
    for (uint32_t i = 1; i <= 200000; i++) {
        // Mostly sequential frames (a first pass), some random ones far ahead (index growth).
        uint32_t frame = (i % 97 == 0) ? rng() % 3000000 : i;
        uint32_t layer = 4 + rng() % 3;
        if (r.find(frame, layer)) continue;
        Rec &x = r.add(frame, layer);
        x.roc = i;
        want[{frame, layer}] = i;
        if (i % 1000 == 0) held.emplace_back(&x, i);
    }
    for (const auto &[k, roc] : want) {
        Rec *x = r.find(k.first, k.second);
        ASSERT_NE(x, nullptr);
        EXPECT_EQ(x->roc, roc);
    }
    for (const auto &[p, roc] : held) EXPECT_EQ(p->roc, roc);  // never moved
    EXPECT_EQ(r.size(), want.size());
    r.clear();
    EXPECT_EQ(r.size(), 0u);
    EXPECT_EQ(r.find(1000, 4), nullptr);
    EXPECT_EQ(r.first(1000), nullptr);
}
