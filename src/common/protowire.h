// A protobuf *wire-format* walker for messages whose schema is unknown or tiny (the Noise
// handshake, the relay's STUN attributes). It never allocates and never reads out of bounds.
// libprotobuf would need generated classes for schemas nobody has published, so a bounded walker
// over the documented wire format is the honest tool here.
#pragma once

#include "common/bytes.h"

namespace wacall::protowire {

enum WireType : uint8_t { Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 };

struct Field {
    uint32_t number = 0;
    WireType type = Varint;
    uint64_t varint = 0;      // Varint / Fixed32 / Fixed64 value
    ByteView bytes;           // LengthDelimited payload
    size_t offset = 0;        // of the key, relative to the message start
    size_t length = 0;        // key + value
};

class Reader {
public:
    explicit Reader(ByteView msg) : msg_(msg) {}
    // Reads the next field. Returns false at the end or on malformed input (then error() is true).
    bool next(Field &f);
    bool error() const { return error_; }
    size_t position() const { return pos_; }

private:
    bool read_varint(uint64_t &v);
    ByteView msg_;
    size_t pos_ = 0;
    bool error_ = false;
};

// True when the whole buffer parses as a sequence of well-formed fields (a plausibility check for
// "is this a nested message or opaque bytes?").
bool looks_like_message(ByteView msg);

// Zig-zag decoding for sint32/sint64.
inline int64_t zigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

}  // namespace wacall::protowire
