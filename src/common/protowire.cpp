#include "common/protowire.h"

namespace wacall::protowire {

bool Reader::read_varint(uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos_ >= msg_.size) return false;
        uint8_t b = msg_.data[pos_++];
        v |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;  // more than 10 bytes
}

bool Reader::next(Field &f) {
    if (error_ || pos_ >= msg_.size) return false;
    size_t start = pos_;
    uint64_t key;
    if (!read_varint(key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
        error_ = true;
        return false;
    }
    f = Field{};
    f.number = static_cast<uint32_t>(key >> 3);
    f.type = static_cast<WireType>(key & 7);
    f.offset = start;
    switch (f.type) {
    case Varint:
        if (!read_varint(f.varint)) error_ = true;
        break;
    case Fixed64:
    case Fixed32: {
        size_t n = f.type == Fixed64 ? 8 : 4;
        if (msg_.size - pos_ < n) {
            error_ = true;
            break;
        }
        for (size_t i = 0; i < n; i++) f.varint |= uint64_t(msg_.data[pos_ + i]) << (8 * i);
        pos_ += n;
        break;
    }
    case LengthDelimited: {
        uint64_t len;
        if (!read_varint(len) || len > msg_.size - pos_) {
            error_ = true;
            break;
        }
        f.bytes = msg_.sub(pos_, static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len);
        break;
    }
    default:  // groups are deprecated and never used by WhatsApp: treat as malformed
        error_ = true;
    }
    if (error_) return false;
    f.length = pos_ - start;
    return true;
}

bool looks_like_message(ByteView msg) {
    if (msg.empty()) return false;
    Reader r(msg);
    Field f;
    while (r.next(f)) {
    }
    return !r.error() && r.position() == msg.size;
}

}  // namespace wacall::protowire
