// The decoded WABinary node tree. Offsets point into the node bytes that were decoded (the
// caller keeps that buffer alive), so the dissector can highlight every element on the wire.
//
// The tree is made of views, so decoding a node costs no allocation of its own:
//   - texts are string_views into the token dictionary (static), into the node bytes (raw
//     strings, JID parts sent raw) or into the storage of the DecodeResult (unpacked NIBBLE_8 /
//     HEX_8 and JID texts);
//   - attrs and children are spans over that storage.
// A Node or Value is therefore valid only while both the node bytes and the DecodeResult it came
// from (or a copy of it, which shares the storage) are alive; copying a Node copies the views.
#pragma once

#include "common/bytes.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wacall::wabinary {

// How a value travelled on the wire.
enum class ValueKind : uint8_t {
    Empty,      // LIST_EMPTY (0x00) or no content
    Token,      // single-byte or double-byte dictionary token
    Packed,     // NIBBLE_8 / HEX_8
    Jid,        // JID_PAIR, AD_JID, FB_JID, INTEROP_JID
    Binary,     // BINARY_8/20/32: raw bytes (also used for UTF-8 strings sent raw)
};

// A read-only run of elements stored elsewhere (C++17 has no std::span).
template <class T>
class Span {
public:
    Span() = default;
    Span(const T *data, size_t size) : data_(data), size_(size) {}

    const T *begin() const { return data_; }
    const T *end() const { return data_ + size_; }
    const T *data() const { return data_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T &operator[](size_t i) const { return data_[i]; }
    const T &front() const { return data_[0]; }
    const T &back() const { return data_[size_ - 1]; }

private:
    const T *data_ = nullptr;
    size_t size_ = 0;
};

// The empty user-provided constructors keep every default below but stop value-initialisation
// from zero-filling the whole object first, a measurable cost per node.
struct Value {
    Value() {}  // NOLINT(modernize-use-equals-default)
    ValueKind kind = ValueKind::Empty;
    uint8_t wire_tag = 0;       // the first byte (0xFC, 0xFA, a token byte, ...)
    bool printable = false;     // Binary only: bytes are printable UTF-8 (text views them)
    std::string_view text;      // textual form: token/packed/JID text, or the bytes if printable UTF-8
    ByteView bytes;             // Binary: the raw payload (view into the decoded buffer)
    size_t offset = 0;          // where the value's encoding starts
    size_t length = 0;          // length of the whole encoding (tag byte included)
    // JID parts (kind == Jid)
    std::string_view jid_user, jid_server;
    int jid_device = -1;        // -1: none
    int jid_agent = -1;         // AD_JID domain byte / FB/interop extra (-1: none)
};

struct Attribute {
    Attribute() {}  // NOLINT(modernize-use-equals-default)
    Value key;    // key.text is the attribute name
    Value value;
};

struct Node {
    Node() {}  // NOLINT(modernize-use-equals-default)
    Value tag;                      // tag.text is the element name
    Span<Attribute> attrs;
    Span<Node> children;            // when content is a list
    bool has_children = false;      // content was a list (possibly empty)
    Value content;                  // when content is a value (string/bytes); kind Empty if none
    size_t offset = 0;              // list header of this node
    size_t length = 0;              // whole node encoding
    unsigned depth = 0;             // 0 for the top-level stanza

    const Attribute *attr(std::string_view name) const {
        for (const auto &a : attrs)
            if (a.key.text == name) return &a;
        return nullptr;
    }
    // Attribute text or `def` when absent (a view: see the lifetime note at the top).
    std::string_view attr_text(std::string_view name, std::string_view def = {}) const {
        const Attribute *a = attr(name);
        return a ? a->value.text : def;
    }
    const Node *child(std::string_view tag_name) const {
        for (const auto &c : children)
            if (c.tag.text == tag_name) return &c;
        return nullptr;
    }
};

}  // namespace wacall::wabinary
