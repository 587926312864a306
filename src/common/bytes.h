// Plain byte views and helpers shared by the whole core. No Wireshark, no GLib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wacall {

using Bytes = std::vector<uint8_t>;

// A non-owning view of bytes (C++17 has no std::span).
struct ByteView {
    const uint8_t *data = nullptr;
    size_t size = 0;

    ByteView() = default;
    ByteView(const uint8_t *d, size_t n) : data(d), size(n) {}
    ByteView(const Bytes &b) : data(b.data()), size(b.size()) {}  // NOLINT(google-explicit-constructor)

    bool empty() const { return size == 0; }
    uint8_t operator[](size_t i) const { return data[i]; }
    const uint8_t *begin() const { return data; }
    const uint8_t *end() const { return data + size; }
    // Sub-view; clamps to the available bytes instead of overrunning.
    ByteView sub(size_t off, size_t n = SIZE_MAX) const {
        if (off > size) return {};
        if (n > size - off) n = size - off;
        return {data + off, n};
    }
    Bytes to_bytes() const { return Bytes(data, data + size); }
};

inline uint16_t be16(const uint8_t *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be24(const uint8_t *p) { return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]; }
inline uint32_t be32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void put_be16(uint8_t *p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put_be32(uint8_t *p, uint32_t v) {
    p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

// Strict decimal u32 (digits only, no sign or spaces); nullopt on anything else or overflow.
inline std::optional<uint32_t> parse_decimal_u32(std::string_view s) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + uint64_t(c - '0');
    }
    if (v > 0xFFFFFFFFu) return std::nullopt;
    return static_cast<uint32_t>(v);
}

// Lower-case hex of a byte range.
std::string to_hex(ByteView v);
// What a tree shows for bytes: the bytes as text when `printable` (the caller's test), else hex.
std::string text_or_hex(ByteView v, bool printable);
// Parses hex (case-insensitive, even length, no separators). nullopt on odd length or any bad digit.
std::optional<Bytes> from_hex(std::string_view hex);

}  // namespace wacall
