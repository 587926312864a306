// Per-frame records of a dissector, keyed by (frame number, layer). What Wireshark's
// p_add_proto_data() gives, for a record on every packet of a hot path: p_add_proto_data() costs
// three file-scope allocations and a list per frame (~110 bytes and ~470 instructions per
// packet); here a record is one deque slot (the record + 8 bytes) plus 4 bytes of index per frame, and a
// lookup is two array reads. Records never move (std::deque), so a pointer stays valid until
// clear(); frames may be added in any order. No Wireshark, no GLib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace wacall {

template <class T>
class FrameRecords {
public:
    // The record of (frame, layer), or nullptr.
    T *find(uint32_t frame, uint32_t layer) {
        for (uint32_t i = head(frame); i; i = slots_[i - 1].next)
            if (slots_[i - 1].layer == layer) return &slots_[i - 1].value;
        return nullptr;
    }

    // The frame's first record whatever its layer (e.g. the outermost of nested layers), or nullptr.
    T *first(uint32_t frame) {
        uint32_t i = head(frame);
        return i ? &slots_[i - 1].value : nullptr;
    }

    // A new value-initialised record for (frame, layer); the caller has checked find() first.
    T &add(uint32_t frame, uint32_t layer) {
        slots_.push_back(Slot{T{}, layer, 0});
        const auto index = static_cast<uint32_t>(slots_.size());  // 1-based: 0 means none
        if (frame >= heads_.size()) heads_.resize(grown(frame), 0);
        uint32_t *link = &heads_[frame];
        while (*link) link = &slots_[*link - 1].next;  // keep the frame's records in insertion order
        *link = index;
        return slots_.back().value;
    }

    void clear() {
        slots_.clear();
        heads_.clear();
        heads_.shrink_to_fit();
    }

    std::size_t size() const { return slots_.size(); }

private:
    struct Slot {
        T value;
        uint32_t layer;
        uint32_t next;  // 1-based index of the frame's next record, 0 = last
    };

    uint32_t head(uint32_t frame) const { return frame < heads_.size() ? heads_[frame] : 0; }
    std::size_t grown(uint32_t frame) const {
        std::size_t n = heads_.size() < 1024 ? 1024 : heads_.size();
        while (n <= frame) n *= 2;
        return n;
    }

    std::deque<Slot> slots_;
    std::vector<uint32_t> heads_;  // frame number → 1-based index of its first record, 0 = none
};

}  // namespace wacall
