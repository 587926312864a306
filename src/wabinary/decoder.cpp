#include "wabinary/decoder.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

// Error paths are kept out of line so the checks inline to a compare and a branch; the less
// common value kinds too, so the inline token path stays small.
#if defined(__GNUC__)
#define WACALL_COLD __attribute__((cold, noinline))
#define WACALL_NOINLINE __attribute__((noinline))
#else
#define WACALL_COLD
#define WACALL_NOINLINE
#endif

namespace wacall::wabinary {

namespace {

// Blocks of objects that never move once handed out, so the tree can point into them. Objects
// are placed with placement new or memcpy and freed with their block, without destructors.
template <class T>
class Pool {
    static_assert(std::is_trivially_destructible<T>::value, "blocks are freed without destructors");
    static_assert(std::is_trivially_copyable<T>::value, "objects are copied in with memcpy");
    static_assert(alignof(T) <= alignof(std::max_align_t), "blocks come from operator new");

public:
    Pool(size_t first_block, size_t max_block) : next_block_(first_block), max_block_(max_block) {}
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;
    ~Pool() {
        while (last_) {
            Block *prev = last_->prev;
            ::operator delete(last_);
            last_ = prev;
        }
    }

    // Room for k objects in a row. A new block holds k plus up to `likely_more` further objects
    // (what the rest of the input can still produce), within the geometric block size.
    T *take(size_t k, size_t likely_more) {
        if (static_cast<size_t>(end_ - next_) < k) grow(k, likely_more);
        T *p = next_;
        next_ += k;
        return p;
    }
    // Returns the last n objects of the latest take (a text shorter than its worst case).
    void give_back(size_t n) { next_ -= n; }
    size_t capacity() const { return capacity_; }

private:
    struct Block {
        Block *prev;
    };
    static constexpr size_t kHeader = (sizeof(Block) + alignof(T) - 1) / alignof(T) * alignof(T);

    void grow(size_t k, size_t likely_more) {
        size_t cap = std::max(k, std::min(next_block_, k + likely_more));
        next_block_ = std::min(next_block_ * 2, max_block_);
        auto *raw = static_cast<unsigned char *>(::operator new(kHeader + cap * sizeof(T)));
        auto *b = reinterpret_cast<Block *>(raw);
        b->prev = last_;
        last_ = b;
        next_ = reinterpret_cast<T *>(raw + kHeader);
        end_ = next_ + cap;
        capacity_ += cap;
    }

    Block *last_ = nullptr;
    T *next_ = nullptr, *end_ = nullptr;
    size_t next_block_, max_block_;
    size_t capacity_ = 0;
};

}  // namespace

// Block sizes: a dense 1 KiB frame (~55 nodes, ~110 attributes, ~2 KiB of JID text) fits in one
// or two blocks of each; the input size caps them for small frames (see Pool::take).
struct TreeStorage {
    Pool<Node> nodes{32, 1024};
    Pool<Attribute> attrs{64, 1024};
    Pool<char> text{2048, 65536};
};

size_t DecodeResult::allocated_elements() const {
    return storage ? storage->nodes.capacity() + storage->attrs.capacity() : 0;
}

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

// The tokens of the shipped dictionaries as views, built once, so a token costs no strlen. What
// is not a token is a view with a null data(): a null entry, single-byte index 0 (LIST_EMPTY) and
// anything from DICTIONARY_0 up.
struct TokenTable {
    const Dictionary *dict = nullptr;
    std::vector<std::string_view> single, dbl[4];
};

std::string_view token_view(const char *t) { return t ? std::string_view(t) : std::string_view(); }

const TokenTable *tokens_for(const Dictionary *d) {
    static const std::vector<TokenTable> all = [] {
        std::vector<TokenTable> v;
        for (int ver = 0; ver < 16; ver++) {
            const Dictionary *dict = dictionary_for_version(ver);
            if (!dict) continue;
            TokenTable t;
            t.dict = dict;
            size_t singles = std::min(dict->single_count, size_t(DICTIONARY_0));
            t.single.push_back(std::string_view());
            for (size_t i = 1; i < singles; i++) t.single.push_back(token_view(dict->single_byte[i]));
            for (int k = 0; k < 4; k++)
                for (size_t i = 0; i < dict->double_count[k]; i++) t.dbl[k].push_back(token_view(dict->double_byte[k][i]));
            v.push_back(std::move(t));
        }
        return v;
    }();
    for (const TokenTable &t : all)
        if (t.dict == d) return &t;
    return nullptr;  // a caller-made dictionary: strlen each time
}

// NIBBLE_8 / HEX_8 bodies a byte at a time: its two characters, and whether it holds a nibble
// that is invalid (NIBBLE_8 12-14) or padding (NIBBLE_8 15, which carries no character).
enum : uint8_t { kInvalidNibble = 1, kPadNibble = 2 };
struct PackedTable {
    char chars[256][2];
    uint8_t flags[256];
};

constexpr PackedTable make_packed_table(bool hex) {
    constexpr char kNibble[16] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '.', 0, 0, 0, kPadChar};
    constexpr char kHex[16] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    PackedTable t{};
    for (unsigned b = 0; b < 256; b++) {
        for (unsigned half = 0; half < 2; half++) {
            char c = (hex ? kHex : kNibble)[half ? b & 15 : b >> 4];
            t.chars[b][half] = c;
            if (!c) t.flags[b] |= kInvalidNibble;
            if (c == kPadChar) t.flags[b] |= kPadNibble;
        }
    }
    return t;
}
constexpr PackedTable kNibbleTable = make_packed_table(false), kHexTable = make_packed_table(true);

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
    Decoder(ByteView b, const Dictionary *dict, unsigned max_depth, size_t max_elements, TreeStorage &store)
        : b_(b.data), n_(b.size), dict_(dict), tokens_(tokens_for(dict)), max_depth_(max_depth),
          max_elements_(max_elements), store_(store) {}

    // Decodes the whole tree into root.
    bool root(Node &root) {
        pending_.reserve(std::min<size_t>(64, n_ / 3 + 1));  // room for a first child list too
        pending_.emplace_back();
        bool ok = node(0, 0);
        root = pending_[0];
        return ok;
    }

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
    bool element(size_t off) { return ++elements_ <= max_elements_ || element_fail(off); }
    WACALL_COLD bool element_fail(size_t off) {
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
    WACALL_COLD bool need_fail(size_t k, const char *what) {
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
    WACALL_COLD bool declared_fail(size_t len, size_t tag_off, const char *what) {
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

    // Most values are single-byte tokens: those are decoded inline, the rest by value_slow.
    bool value(Value &v, bool content = false) {
        if (pos_ < n_) {
            std::string_view t = known_token(b_[pos_]);
            if (t.data()) {
                v.offset = pos_;
                v.length = 1;
                v.wire_tag = b_[pos_++];
                v.kind = ValueKind::Token;
                v.text = t;
                return true;
            }
        }
        return value_slow(v, content);
    }
    WACALL_NOINLINE bool value_slow(Value &v, bool content);
    bool value_body(uint8_t t, size_t off, Value &v, bool content);
    WACALL_COLD bool tag_fail(uint8_t t, size_t off);
    bool list_size(uint8_t tag, size_t &n);
    bool node(size_t slot, unsigned depth);
    bool node_head(Node &nd, unsigned depth, bool &has_list, size_t &child_count);
    bool attributes(Node &nd, size_t count);
    bool children(size_t parent, size_t count, unsigned depth);
    // The shipped dictionary's view of a single-byte token; a null view when not there.
    std::string_view known_token(uint8_t tag) const {
        return tokens_ && tag < tokens_->single.size() ? tokens_->single[tag] : std::string_view();
    }
    bool single_token(uint8_t tag, size_t tag_off, std::string_view &out) {
        std::string_view t = known_token(tag);
        if (!t.data()) return single_token_slow(tag, tag_off, out);
        out = t;
        return true;
    }
    bool single_token_slow(uint8_t tag, size_t tag_off, std::string_view &out);
    bool double_token(uint8_t tag, size_t tag_off, std::string_view &out);
    WACALL_COLD bool token_fail(uint8_t tag, size_t tag_off);
    WACALL_COLD bool nibble_fail(const uint8_t *src, size_t count);
    bool packed(uint8_t tag, size_t tag_off, std::string_view &out);
    bool binary(uint8_t tag, size_t tag_off, ByteView &out);
    bool jid_part(std::string_view &out, const char *what);
    bool jid(uint8_t tag, size_t tag_off, Value &v);
    std::string_view jid_display(std::string_view user, int device, std::string_view server);
    // Room for n characters of text that views will point at (unpacked values, JID texts).
    char *text_room(size_t n) { return store_.text.take(n, 2 * left()); }

    const uint8_t *b_;
    size_t n_;
    size_t pos_ = 0;
    const Dictionary *dict_;
    const TokenTable *tokens_;
    unsigned max_depth_;
    size_t max_elements_;
    size_t elements_ = 0;
    TreeStorage &store_;
    // Nodes being decoded and children decoded but not yet stored: a node's children must end up
    // next to each other, but each child's own subtree is decoded (and stored) before its next
    // sibling.
    std::vector<Node> pending_;
};

inline bool Decoder::list_size(uint8_t tag, size_t &n) {
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

// A caller-made dictionary, or a token that is not in the dictionary.
bool Decoder::single_token_slow(uint8_t tag, size_t tag_off, std::string_view &out) {
    if (tag >= dict_->single_count || !dict_->single_byte[tag]) return token_fail(tag, tag_off);
    out = dict_->single_byte[tag];
    return true;
}

bool Decoder::token_fail(uint8_t tag, size_t tag_off) {
    std::string m = "token ";
    append_uint(m, tag);
    m += " not in dictionary v";
    append_uint(m, static_cast<unsigned long>(dict_->version));
    return fail(tag_off, std::move(m));
}

bool Decoder::double_token(uint8_t tag, size_t tag_off, std::string_view &out) {
    if (!need(1, "double-byte token index")) return false;
    unsigned d = tag - DICTIONARY_0;
    uint8_t idx = b_[pos_++];
    if (tokens_ && idx < tokens_->dbl[d].size() && tokens_->dbl[d][idx].data()) {
        out = tokens_->dbl[d][idx];
        return true;
    }
    if (idx >= dict_->double_count[d] || !dict_->double_byte[d][idx]) {
        std::string m = "token ";
        append_uint(m, d);
        m += ":";
        append_uint(m, idx);
        m += " (double-byte) not in dictionary v";
        append_uint(m, static_cast<unsigned long>(dict_->version));
        return fail(tag_off, std::move(m));
    }
    out = dict_->double_byte[d][idx];
    return true;
}

bool Decoder::packed(uint8_t tag, size_t tag_off, std::string_view &out) {
    if (!need(1, "packed length")) return false;
    uint8_t l = b_[pos_++];
    size_t count = l & 0x7F;
    bool odd = (l & 0x80) != 0;
    if (!declared(count, tag_off, tag == HEX_8 ? "HEX_8" : "NIBBLE_8")) return false;
    const PackedTable &table = tag == HEX_8 ? kHexTable : kNibbleTable;
    const uint8_t *src = b_ + pos_;
    size_t n = 2 * count;
    char *buf = text_room(n);
    uint8_t flags = 0;
    for (size_t i = 0; i < count; i++) {
        flags |= table.flags[src[i]];
        buf[2 * i] = table.chars[src[i]][0];
        buf[2 * i + 1] = table.chars[src[i]][1];
    }
    if (flags & kInvalidNibble) {
        store_.text.give_back(n);
        return nibble_fail(src, count);
    }
    pos_ += count;
    if (odd && n) {
        n--;
        store_.text.give_back(1);
    }
    if (flags & kPadNibble) {
        // A pad nibble anywhere but the dropped last place carries no character: skip it.
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (buf[i] != kPadChar) buf[w++] = buf[i];
        store_.text.give_back(n - w);
        n = w;
    }
    out = std::string_view(buf, n);
    return true;
}

// Reports the first invalid nibble (NIBBLE_8 12-14) of a packed body.
bool Decoder::nibble_fail(const uint8_t *src, size_t count) {
    for (size_t i = 0; i < count; i++) {
        unsigned hi = src[i] >> 4, lo = src[i] & 0x0F;
        if ((hi < 12 || hi > 14) && (lo < 12 || lo > 14)) continue;
        std::string m = "invalid nibble ";
        append_uint(m, hi >= 12 && hi <= 14 ? hi : lo);
        m += " in NIBBLE_8 at offset ";
        append_uint(m, pos_ + i);
        return fail(pos_ + i, std::move(m));
    }
    return fail(pos_, "invalid nibble in NIBBLE_8");  // not reached: a flagged byte has one
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

std::string_view as_text(ByteView b) { return {reinterpret_cast<const char *>(b.data), b.size}; }

// A JID component: a string value that is not itself a JID or a list (no recursion).
bool Decoder::jid_part(std::string_view &out, const char *what) {
    if (!need(1, what)) return false;
    size_t off = pos_;
    uint8_t t = b_[pos_++];
    if (t == LIST_EMPTY) {
        out = {};
        return true;
    }
    if (t < DICTIONARY_0) return single_token(t, off, out);
    if (t <= DICTIONARY_3) return double_token(t, off, out);
    if (t == HEX_8 || t == NIBBLE_8) return packed(t, off, out);
    if (t == BINARY_8 || t == BINARY_20 || t == BINARY_32) {
        ByteView bv;
        if (!binary(t, off, bv)) return false;
        out = as_text(bv);
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

// "user[:device]@server", or the server alone when there is no user.
std::string_view Decoder::jid_display(std::string_view user, int device, std::string_view server) {
    if (user.empty()) return server;
    char digits[12];
    size_t nd = 0;
    for (unsigned d = device > 0 ? unsigned(device) : 0; d; d /= 10) digits[nd++] = char('0' + d % 10);
    size_t len = user.size() + (nd ? 1 + nd : 0) + 1 + server.size();
    char *p = text_room(len), *w = p;
    std::memcpy(w, user.data(), user.size());
    w += user.size();
    if (nd) {
        *w++ = ':';
        while (nd) *w++ = digits[--nd];
    }
    *w++ = '@';
    if (!server.empty()) std::memcpy(w, server.data(), server.size());
    return {p, len};
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

bool Decoder::value_slow(Value &v, bool content) {
    v.offset = pos_;
    if (!need(1, "value")) {
        v.length = 0;
        return false;
    }
    size_t off = pos_;
    uint8_t t = b_[pos_++];
    v.wire_tag = t;
    bool ok = value_body(t, off, v, content);
    v.length = pos_ - v.offset;
    return ok;
}

bool Decoder::value_body(uint8_t t, size_t off, Value &v, bool content) {
    if (t == LIST_EMPTY) {
        v.kind = ValueKind::Empty;
        return true;
    }
    if (t < DICTIONARY_0) {
        v.kind = ValueKind::Token;
        return single_token(t, off, v.text);
    }
    if (t <= DICTIONARY_3) {
        v.kind = ValueKind::Token;
        return double_token(t, off, v.text);
    }
    if (t == HEX_8 || t == NIBBLE_8) {
        v.kind = ValueKind::Packed;
        return packed(t, off, v.text);
    }
    if (t == BINARY_8 || t == BINARY_20 || t == BINARY_32) {
        v.kind = ValueKind::Binary;
        if (!binary(t, off, v.bytes)) return false;
        if (content ? content_is_text(v.bytes) : is_printable_utf8(v.bytes)) {
            v.printable = true;
            v.text = as_text(v.bytes);
        }
        return true;
    }
    if (t == JID_PAIR || t == AD_JID || t == FB_JID || t == INTEROP_JID) return jid(t, off, v);
    return tag_fail(t, off);
}

bool Decoder::tag_fail(uint8_t t, size_t off) {
    if (t == LIST_8 || t == LIST_16) {
        std::string m = "unexpected list tag " + hex_byte(t) + " in a value at offset ";
        append_uint(m, off);
        return fail(off, std::move(m));
    }
    std::string m = "invalid tag " + hex_byte(t) + " at offset ";
    append_uint(m, off);
    return fail(off, std::move(m));
}

// Attributes have no nested elements, so they are decoded in place, one after the other.
bool Decoder::attributes(Node &nd, size_t count) {
    // Each attribute needs at least 2 bytes: never take more slots than the input can hold
    // (at most one attempt more than the successes that fit).
    size_t room = std::min(count, left() / 2 + 1);
    Attribute *first = store_.attrs.take(room, left() / 2);
    for (size_t i = 0; i < count; i++) {
        if (!element(pos_)) return false;
        Attribute &a = *new (first + i) Attribute();
        nd.attrs = Span<Attribute>(first, i + 1);
        if (!value(a.key)) {
            a.value.offset = pos_;  // keep key.offset <= value.offset in the partial tree
            return false;
        }
        if (!value(a.value)) return false;
    }
    return true;
}

// Decodes the node in pending_[slot]. Its children are decoded into further pending_ slots, which
// can move it, so it is looked up again by index once they are done.
bool Decoder::node(size_t slot, unsigned depth) {
    bool has_list = false;
    size_t child_count = 0;
    bool ok = node_head(pending_[slot], depth, has_list, child_count) &&
              (!has_list || children(slot, child_count, depth));
    Node &nd = pending_[slot];
    nd.length = pos_ - nd.offset;
    return ok;
}

// The children (and their subtrees) are decoded on the side, then stored together; on error the
// children tried so far are stored too (the partial tree).
bool Decoder::children(size_t parent, size_t count, unsigned depth) {
    size_t first = pending_.size();
    // A node needs at least 3 bytes and counts against the element limit: reserve no more than
    // the input and the remaining budget can hold (a hostile frame of nested 65,535-child lists
    // would otherwise reserve tens of MB).
    size_t budget = max_elements_ > elements_ ? max_elements_ - elements_ : 0;
    size_t want = first + std::min({count, left() / 3 + 1, budget + 1});
    if (want > pending_.capacity()) pending_.reserve(std::max(want, 2 * pending_.capacity()));
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        pending_.emplace_back();
        ok = node(first + i, depth + 1);
    }
    size_t n = pending_.size() - first;
    Node *stored = store_.nodes.take(n, left() / 3);
    // memcpy (the type is trivially copyable): one bulk copy beats the element-wise one here.
    if (n) std::memcpy(static_cast<void *>(stored), &pending_[first], n * sizeof(Node));
    pending_.resize(first);
    pending_[parent].children = Span<Node>(stored, n);
    return ok;
}

// Everything of a node but its children: header, tag, attributes and a content value, or the
// header of its child list (has_list, child_count).
bool Decoder::node_head(Node &nd, unsigned depth, bool &has_list, size_t &child_count) {
    nd.offset = pos_;
    nd.depth = depth;
    if (depth >= max_depth_) {
        std::string m = "nesting deeper than ";
        append_uint(m, max_depth_);
        return fail(pos_, std::move(m));
    }
    if (!need(1, "node list header")) return false;
    if (!element(pos_)) return false;
    uint8_t t = b_[pos_];
    if (t != LIST_8 && t != LIST_16) {
        std::string m = "expected a node list header (0xF8/0xF9), got " + hex_byte(t) + " at offset ";
        append_uint(m, pos_);
        return fail(pos_, std::move(m));
    }
    pos_++;
    size_t n = 0;
    if (!list_size(t, n)) return false;
    if (n == 0) return fail(nd.offset, "node list of size 0 at offset " + std::to_string(nd.offset));
    if (depth == 0) root_started = true;
    if (!value(nd.tag)) return false;
    if (n >= 3 && !attributes(nd, (n - 1) / 2)) return false;
    if (n % 2 == 1) return true;
    if (!need(1, "node content")) return false;
    uint8_t c = b_[pos_];
    if (c != LIST_8 && c != LIST_16) return value(nd.content, true);
    // The list header is recorded in `content` so it can be highlighted.
    nd.has_children = true;
    nd.content.offset = pos_;
    nd.content.wire_tag = c;
    pos_++;
    bool ok = list_size(c, child_count);
    nd.content.length = pos_ - nd.content.offset;
    has_list = ok;
    return ok;
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
    return std::string(v.text);
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
    auto storage = std::make_shared<TreeStorage>();
    r.storage = storage;
    Decoder d(node_bytes, dict, max_depth, max_elements, *storage);
    bool ok = d.root(r.root);
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
