#include "wabinary/decoder.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace wacall::wabinary {

namespace {

const char kHexUpper[] = "0123456789ABCDEF";
constexpr char kPadChar = '\x01';  // NIBBLE_8 value 15 while unpacking (never a real character)

std::string hex_byte(uint8_t b) {
    std::string s = "0x";
    s += kHexUpper[b >> 4];
    s += kHexUpper[b & 15];
    return s;
}

void append_uint(std::string &s, unsigned long v) { s += std::to_string(v); }

// Token lengths of the shipped dictionaries, computed once, so a token costs no strlen.
struct TokenLengths {
    const Dictionary *dict = nullptr;
    std::vector<uint16_t> single, dbl[4];
};

const TokenLengths *lengths_for(const Dictionary *d) {
    static const std::vector<TokenLengths> all = [] {
        std::vector<TokenLengths> v;
        for (int ver = 0; ver < 16; ver++) {
            const Dictionary *dict = dictionary_for_version(ver);
            if (!dict) continue;
            TokenLengths t;
            t.dict = dict;
            for (size_t i = 0; i < dict->single_count; i++)
                t.single.push_back(uint16_t(dict->single_byte[i] ? std::strlen(dict->single_byte[i]) : 0));
            for (int k = 0; k < 4; k++)
                for (size_t i = 0; i < dict->double_count[k]; i++)
                    t.dbl[k].push_back(uint16_t(dict->double_byte[k][i] ? std::strlen(dict->double_byte[k][i]) : 0));
            v.push_back(std::move(t));
        }
        return v;
    }();
    for (const TokenLengths &t : all)
        if (t.dict == d) return &t;
    return nullptr;  // a caller-made dictionary: strlen each time
}

// Random bytes pass UTF-8 validation too often when short (de ad is U+07AD): short node
// content with non-ASCII bytes is shown as bytes, not text. Attribute values are strings.
bool content_is_text(ByteView b) {
    if (!is_printable_utf8(b)) return false;
    if (b.size >= 8) return true;
    for (size_t i = 0; i < b.size; i++)
        if (b[i] >= 0x80) return false;
    return true;
}

class Decoder {
public:
    Decoder(ByteView b, const Dictionary *dict, unsigned max_depth, size_t max_elements)
        : b_(b.data), n_(b.size), dict_(dict), lens_(lengths_for(dict)), max_depth_(max_depth),
          max_elements_(max_elements) {}

    bool node(Node &nd, unsigned depth);

    size_t pos() const { return pos_; }
    bool root_started = false;
    std::string err;
    size_t err_off = 0;

private:
    size_t left() const { return n_ - pos_; }
    bool fail(size_t off, std::string msg) {
        if (err.empty()) {
            err = std::move(msg);
            err_off = off;
        }
        return false;
    }
    // Counts one node or attribute against the budget (see kDefaultMaxElements).
    bool element(size_t off) {
        if (++elements_ <= max_elements_) return true;
        std::string m = "more than ";
        append_uint(m, static_cast<unsigned long>(max_elements_));
        m += " nodes and attributes (element limit) at offset ";
        append_uint(m, off);
        return fail(off, std::move(m));
    }
    bool need(size_t k, const char *what) { return left() >= k || need_fail(k, what); }
    bool declared(size_t len, size_t tag_off, const char *what) {
        return len <= left() || declared_fail(len, tag_off, what);
    }
    bool need_fail(size_t k, const char *what) {
        std::string m = "truncated: ";
        m += what;
        m += " needs ";
        append_uint(m, k);
        m += " bytes at offset ";
        append_uint(m, pos_);
        m += ", ";
        append_uint(m, left());
        m += " left";
        return fail(pos_, std::move(m));
    }
    bool declared_fail(size_t len, size_t tag_off, const char *what) {
        std::string m = "declared ";
        m += what;
        m += " length ";
        append_uint(m, len);
        m += " at offset ";
        append_uint(m, tag_off);
        m += " exceeds the buffer (";
        append_uint(m, left());
        m += " bytes left)";
        return fail(tag_off, std::move(m));
    }

    bool value(Value &v, bool content = false);
    bool list_size(uint8_t tag, size_t &n);
    bool single_token(uint8_t tag, size_t tag_off, std::string &out);
    bool double_token(uint8_t tag, size_t tag_off, std::string &out);
    bool packed(uint8_t tag, size_t tag_off, std::string &out);
    bool binary(uint8_t tag, size_t tag_off, ByteView &out);
    bool jid_part(std::string &out, const char *what);
    bool jid(uint8_t tag, size_t tag_off, Value &v);

    const uint8_t *b_;
    size_t n_;
    size_t pos_ = 0;
    const Dictionary *dict_;
    const TokenLengths *lens_;
    unsigned max_depth_;
    size_t max_elements_;
    size_t elements_ = 0;
};

bool Decoder::list_size(uint8_t tag, size_t &n) {
    if (tag == LIST_8) {
        if (!need(1, "LIST_8 size")) return false;
        n = b_[pos_++];
        return true;
    }
    if (!need(2, "LIST_16 size")) return false;
    n = be16(b_ + pos_);
    pos_ += 2;
    return true;
}

bool Decoder::single_token(uint8_t tag, size_t tag_off, std::string &out) {
    if (tag >= dict_->single_count || !dict_->single_byte[tag]) {
        std::string m = "token ";
        append_uint(m, tag);
        m += " not in dictionary v";
        append_uint(m, static_cast<unsigned long>(dict_->version));
        return fail(tag_off, std::move(m));
    }
    if (lens_)
        out.assign(dict_->single_byte[tag], lens_->single[tag]);
    else
        out.assign(dict_->single_byte[tag]);
    return true;
}

bool Decoder::double_token(uint8_t tag, size_t tag_off, std::string &out) {
    if (!need(1, "double-byte token index")) return false;
    unsigned d = tag - DICTIONARY_0;
    uint8_t idx = b_[pos_++];
    if (idx >= dict_->double_count[d] || !dict_->double_byte[d][idx]) {
        std::string m = "token ";
        append_uint(m, d);
        m += ":";
        append_uint(m, idx);
        m += " (double-byte) not in dictionary v";
        append_uint(m, static_cast<unsigned long>(dict_->version));
        return fail(tag_off, std::move(m));
    }
    if (lens_)
        out.assign(dict_->double_byte[d][idx], lens_->dbl[d][idx]);
    else
        out.assign(dict_->double_byte[d][idx]);
    return true;
}

bool Decoder::packed(uint8_t tag, size_t tag_off, std::string &out) {
    if (!need(1, "packed length")) return false;
    uint8_t l = b_[pos_++];
    size_t count = l & 0x7F;
    bool odd = (l & 0x80) != 0;
    if (!declared(count, tag_off, tag == HEX_8 ? "HEX_8" : "NIBBLE_8")) return false;
    // 0 marks an invalid nibble (12-14), kPad the padding nibble 15.
    static const char kNibble[16] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '.', 0, 0, 0, kPadChar};
    const char *table = tag == HEX_8 ? kHexUpper : kNibble;
    char buf[2 * 0x7F];
    size_t n = 0;
    bool pads = false;
    const uint8_t *src = b_ + pos_;
    for (size_t i = 0; i < count; i++) {
        char hi = table[src[i] >> 4], lo = table[src[i] & 0x0F];
        if (!hi || !lo) {
            unsigned nib = !hi ? src[i] >> 4 : src[i] & 0x0F;
            std::string m = "invalid nibble ";
            append_uint(m, nib);
            m += " in NIBBLE_8 at offset ";
            append_uint(m, pos_ + i);
            return fail(pos_ + i, std::move(m));
        }
        pads |= hi == kPadChar || lo == kPadChar;
        buf[n++] = hi;
        buf[n++] = lo;
    }
    pos_ += count;
    if (odd && n) n--;
    if (tag == NIBBLE_8 && pads) {
        // A pad nibble anywhere but the dropped last place carries no character: skip it.
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (buf[i] != kPadChar) buf[w++] = buf[i];
        n = w;
    }
    out.assign(buf, n);
    return true;
}

bool Decoder::binary(uint8_t tag, size_t tag_off, ByteView &out) {
    // On failure the (partial-tree) value keeps an empty view inside the buffer, never a null
    // one: the dissector locates binary content by its address (a null view gave it a huge
    // negative offset and a Wireshark exception instead of the "Malformed WABinary" item).
    out = ByteView(b_ + pos_, 0);
    size_t len = 0;
    const char *name = "BINARY_8";
    if (tag == BINARY_8) {
        if (!need(1, "BINARY_8 length")) return false;
        len = b_[pos_++];
    } else if (tag == BINARY_20) {
        name = "BINARY_20";
        if (!need(3, "BINARY_20 length")) return false;
        len = size_t(b_[pos_] & 0x0F) << 16 | size_t(b_[pos_ + 1]) << 8 | b_[pos_ + 2];
        pos_ += 3;
    } else {
        name = "BINARY_32";
        if (!need(4, "BINARY_32 length")) return false;
        len = be32(b_ + pos_);
        pos_ += 4;
    }
    if (!declared(len, tag_off, name)) return false;
    out = ByteView(b_ + pos_, len);
    pos_ += len;
    return true;
}

// A JID component: a string value that is not itself a JID or a list (no recursion).
bool Decoder::jid_part(std::string &out, const char *what) {
    if (!need(1, what)) return false;
    size_t off = pos_;
    uint8_t t = b_[pos_++];
    if (t == LIST_EMPTY) {
        out.clear();
        return true;
    }
    if (t < DICTIONARY_0) return single_token(t, off, out);
    if (t <= DICTIONARY_3) return double_token(t, off, out);
    if (t == HEX_8 || t == NIBBLE_8) return packed(t, off, out);
    if (t == BINARY_8 || t == BINARY_20 || t == BINARY_32) {
        ByteView bv;
        if (!binary(t, off, bv)) return false;
        out.assign(reinterpret_cast<const char *>(bv.data), bv.size);
        return true;
    }
    std::string m = "unexpected tag ";
    m += hex_byte(t);
    m += " in ";
    m += what;
    m += " at offset ";
    append_uint(m, off);
    return fail(off, std::move(m));
}

std::string jid_display(const std::string &user, int device, const std::string &server) {
    if (user.empty()) return server;
    std::string s;
    s.reserve(user.size() + server.size() + 8);
    s += user;
    if (device > 0) {
        s += ':';
        s += std::to_string(device);
    }
    s += '@';
    s += server;
    return s;
}

bool Decoder::jid(uint8_t tag, size_t tag_off, Value &v) {
    v.kind = ValueKind::Jid;
    switch (tag) {
    case JID_PAIR:
        if (!jid_part(v.jid_user, "JID_PAIR user") || !jid_part(v.jid_server, "JID_PAIR server")) return false;
        break;
    case AD_JID: {
        if (!need(2, "AD_JID domain and device")) return false;
        uint8_t domain = b_[pos_], device = b_[pos_ + 1];
        if (domain == 0)
            v.jid_server = "s.whatsapp.net";
        else if (domain == 1)
            v.jid_server = "lid";
        else if (domain == 129)
            v.jid_server = "hosted.lid";
        else if ((domain & 0x80) && !(domain & 0x01))  // 128 and the other "hosted" encodings
            v.jid_server = "hosted";
        else {
            std::string m = "invalid AD_JID domain type encoding ";
            append_uint(m, domain);
            return fail(pos_, std::move(m));
        }
        pos_ += 2;
        v.jid_agent = domain;
        v.jid_device = device;
        if (!jid_part(v.jid_user, "AD_JID user")) return false;
        break;
    }
    case FB_JID:
        if (!jid_part(v.jid_user, "FB_JID user") || !need(2, "FB_JID device")) return false;
        v.jid_device = be16(b_ + pos_);
        pos_ += 2;
        if (!jid_part(v.jid_server, "FB_JID server")) return false;
        break;
    case INTEROP_JID:
        if (!jid_part(v.jid_user, "INTEROP_JID user") || !need(4, "INTEROP_JID device and integrator")) return false;
        v.jid_device = be16(b_ + pos_);
        v.jid_agent = be16(b_ + pos_ + 2);
        pos_ += 4;
        if (pos_ == n_)
            v.jid_server = "interop";  // the client's outbound form has no server
        else if (!jid_part(v.jid_server, "INTEROP_JID server"))
            return false;
        break;
    default:
        return fail(tag_off, "not a JID tag");
    }
    v.text = jid_display(v.jid_user, v.jid_device, v.jid_server);
    return true;
}

bool Decoder::value(Value &v, bool content) {
    v.offset = pos_;
    if (!need(1, "value")) {
        v.length = 0;
        return false;
    }
    size_t off = pos_;
    uint8_t t = b_[pos_++];
    v.wire_tag = t;
    bool ok = true;
    if (t == LIST_EMPTY) {
        v.kind = ValueKind::Empty;
    } else if (t < DICTIONARY_0) {
        v.kind = ValueKind::Token;
        ok = single_token(t, off, v.text);
    } else if (t <= DICTIONARY_3) {
        v.kind = ValueKind::Token;
        ok = double_token(t, off, v.text);
    } else if (t == HEX_8 || t == NIBBLE_8) {
        v.kind = ValueKind::Packed;
        ok = packed(t, off, v.text);
    } else if (t == BINARY_8 || t == BINARY_20 || t == BINARY_32) {
        v.kind = ValueKind::Binary;
        ok = binary(t, off, v.bytes);
        if (ok && (content ? content_is_text(v.bytes) : is_printable_utf8(v.bytes))) {
            v.printable = true;
            v.text.assign(reinterpret_cast<const char *>(v.bytes.data), v.bytes.size);
        }
    } else if (t == JID_PAIR || t == AD_JID || t == FB_JID || t == INTEROP_JID) {
        ok = jid(t, off, v);
    } else if (t == LIST_8 || t == LIST_16) {
        std::string m = "unexpected list tag " + hex_byte(t) + " in a value at offset ";
        append_uint(m, off);
        ok = fail(off, std::move(m));
    } else {
        std::string m = "invalid tag " + hex_byte(t) + " at offset ";
        append_uint(m, off);
        ok = fail(off, std::move(m));
    }
    v.length = pos_ - v.offset;
    return ok;
}

bool Decoder::node(Node &nd, unsigned depth) {
    nd.offset = pos_;
    nd.depth = depth;
    auto done = [&](bool r) {
        nd.length = pos_ - nd.offset;
        return r;
    };
    if (depth >= max_depth_) {
        std::string m = "nesting deeper than ";
        append_uint(m, max_depth_);
        return done(fail(pos_, std::move(m)));
    }
    if (!need(1, "node list header")) return done(false);
    if (!element(pos_)) return done(false);
    uint8_t t = b_[pos_];
    if (t != LIST_8 && t != LIST_16) {
        std::string m = "expected a node list header (0xF8/0xF9), got " + hex_byte(t) + " at offset ";
        append_uint(m, pos_);
        return done(fail(pos_, std::move(m)));
    }
    pos_++;
    size_t n = 0;
    if (!list_size(t, n)) return done(false);
    if (n == 0) return done(fail(nd.offset, "node list of size 0 at offset " + std::to_string(nd.offset)));
    if (depth == 0) root_started = true;
    if (!value(nd.tag)) return done(false);

    size_t attr_count = (n - 1) / 2;
    // Each attribute needs at least 2 bytes: never reserve more than the input can hold.
    nd.attrs.reserve(std::min(attr_count, left() / 2));
    for (size_t i = 0; i < attr_count; i++) {
        if (!element(pos_)) return done(false);
        nd.attrs.emplace_back();
        Attribute &a = nd.attrs.back();
        if (!value(a.key)) {
            a.value.offset = pos_;  // keep key.offset <= value.offset in the partial tree
            return done(false);
        }
        if (!value(a.value)) return done(false);
    }
    if (n % 2 == 0) {
        if (!need(1, "node content")) return done(false);
        uint8_t c = b_[pos_];
        if (c == LIST_8 || c == LIST_16) {
            // The list header is recorded in `content` so it can be highlighted.
            nd.has_children = true;
            nd.content.offset = pos_;
            nd.content.wire_tag = c;
            pos_++;
            size_t m = 0;
            bool ok = list_size(c, m);
            nd.content.length = pos_ - nd.content.offset;
            if (!ok) return done(false);
            nd.children.reserve(std::min(m, left() / 2));
            for (size_t i = 0; i < m; i++) {
                nd.children.emplace_back();
                if (!node(nd.children.back(), depth + 1)) return done(false);
            }
        } else if (!value(nd.content, true)) {
            return done(false);
        }
    }
    return done(true);
}

}  // namespace

bool is_printable_utf8(ByteView bytes) {
    const uint8_t *p = bytes.data, *e = bytes.data + bytes.size;
    while (p < e) {
        uint8_t c = *p;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) return false;
            p++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (static_cast<size_t>(e - p) <= n) return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
        if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
        if (cp < 0xA0) return false;  // C1 controls
        p += n + 1;
    }
    return true;
}

std::string jid_text(const Value &v, bool show_zero_device) {
    if (v.kind == ValueKind::Jid && show_zero_device && v.wire_tag == AD_JID && v.jid_device == 0 &&
        !v.jid_user.empty()) {
        std::string s;
        s.reserve(v.jid_user.size() + v.jid_server.size() + 3);
        s += v.jid_user;
        s += ":0@";
        s += v.jid_server;
        return s;
    }
    return v.text;
}

DecodeResult decode_node(ByteView node_bytes, const Dictionary *dict, unsigned max_depth, size_t max_elements) {
    DecodeResult r;
    if (!dict) {
        r.error = "no token dictionary";
        return r;
    }
    if (node_bytes.empty()) {
        r.error = "no node bytes";
        return r;
    }
    Decoder d(node_bytes, dict, max_depth, max_elements);
    bool ok = d.node(r.root, 0);
    r.has_root = d.root_started;
    r.consumed = d.pos();
    if (!ok) {
        r.error = d.err.empty() ? std::string("decode error") : d.err;
        r.error_offset = d.err_off;
        return r;
    }
    r.ok = true;
    if (d.pos() < node_bytes.size) {
        r.trailing_bytes = true;
        r.trailing_count = node_bytes.size - d.pos();
    }
    return r;
}

}  // namespace wacall::wabinary
