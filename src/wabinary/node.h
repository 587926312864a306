// The decoded WABinary node tree. Offsets point into the node bytes that were decoded (the
// caller keeps that buffer alive), so the dissector can highlight every element on the wire.
#pragma once

#include "common/bytes.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wacall::wabinary {

// How a value travelled on the wire.
enum class ValueKind : uint8_t {
    Empty,      // LIST_EMPTY (0x00) or no content
    Token,      // single-byte or double-byte dictionary token
    Packed,     // NIBBLE_8 / HEX_8
    Jid,        // JID_PAIR, AD_JID, FB_JID, INTEROP_JID
    Binary,     // BINARY_8/20/32: raw bytes (also used for UTF-8 strings sent raw)
};

// The empty user-provided constructors keep every default below but stop value-initialisation
// (vector::emplace_back()) from zero-filling the whole object first, a measurable cost per node.
struct Value {
    Value() {}  // NOLINT(modernize-use-equals-default)
    ValueKind kind = ValueKind::Empty;
    uint8_t wire_tag = 0;       // the first byte (0xFC, 0xFA, a token byte, ...)
    std::string text;           // textual form: token/packed/JID text, or the bytes if printable UTF-8
    ByteView bytes;             // Binary: the raw payload (view into the decoded buffer)
    bool printable = false;     // Binary only: bytes are printable UTF-8 (text holds them)
    size_t offset = 0;          // where the value's encoding starts
    size_t length = 0;          // length of the whole encoding (tag byte included)
    // JID parts (kind == Jid)
    std::string jid_user, jid_server;
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
    std::vector<Attribute> attrs;
    std::vector<Node> children;     // when content is a list
    bool has_children = false;      // content was a list (possibly empty)
    Value content;                  // when content is a value (string/bytes); kind Empty if none
    size_t offset = 0;              // list header of this node
    size_t length = 0;              // whole node encoding
    unsigned depth = 0;             // 0 for the top-level stanza

    const Attribute *attr(const std::string &name) const {
        for (const auto &a : attrs)
            if (a.key.text == name) return &a;
        return nullptr;
    }
    // Attribute text or `def` when absent.
    std::string attr_text(const std::string &name, const std::string &def = std::string()) const {
        const Attribute *a = attr(name);
        return a ? a->value.text : def;
    }
    const Node *child(const std::string &tag_name) const {
        for (const auto &c : children)
            if (c.tag.text == tag_name) return &c;
        return nullptr;
    }
};

}  // namespace wacall::wabinary
