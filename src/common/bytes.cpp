#include "common/bytes.h"

namespace wacall {

std::string text_or_hex(ByteView v, bool printable) {
    return printable ? std::string(reinterpret_cast<const char *>(v.data), v.size) : to_hex(v);
}

std::string to_hex(ByteView v) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.resize(v.size * 2);
    for (size_t i = 0; i < v.size; i++) {
        s[2 * i] = digits[v.data[i] >> 4];
        s[2 * i + 1] = digits[v.data[i] & 15];
    }
    return s;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<Bytes> from_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    Bytes out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    return out;
}

}  // namespace wacall
