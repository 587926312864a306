// WABinary node decoder (digest §2.2-2.5). Decodes one node tree from node bytes (after
// unpack_frame) into the Node/Value types of node.h. Bounded everywhere: every length is checked,
// nesting is capped, errors keep the partial tree.
#pragma once

#include "common/bytes.h"
#include "wabinary/dictionary.h"
#include "wabinary/node.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace wacall::wabinary {

// Tag bytes (digest §2.2).
enum Tag : uint8_t {
    LIST_EMPTY = 0x00,
    DICTIONARY_0 = 0xEC,
    DICTIONARY_3 = 0xEF,
    INTEROP_JID = 0xF5,
    FB_JID = 0xF6,
    AD_JID = 0xF7,
    LIST_8 = 0xF8,
    LIST_16 = 0xF9,
    JID_PAIR = 0xFA,
    HEX_8 = 0xFB,
    BINARY_8 = 0xFC,
    BINARY_20 = 0xFD,
    BINARY_32 = 0xFE,
    NIBBLE_8 = 0xFF,
};

constexpr unsigned kDefaultMaxDepth = 128;
// Nodes plus attributes one decode may produce. A Node is ~250 bytes and the smallest node on the
// wire is 3 bytes, so without a cap a 16 MiB inflated frame (a ~16 KiB zlib bomb) of tiny nodes
// would allocate over 1 GiB. Real stanzas (the largest are group/usync lists) stay far below this.
constexpr size_t kDefaultMaxElements = 100000;

// The attributes, children and unpacked texts of one decoded tree (defined in decoder.cpp).
// Filled once by decode_node, never changed or moved afterwards.
struct TreeStorage;

struct DecodeResult {
    bool ok = false;
    std::string error;           // empty when ok
    size_t error_offset = 0;     // relative to the node bytes
    bool has_root = false;       // at least the root's list header was read (root is partial on error)
    Node root;
    size_t consumed = 0;         // bytes used by the root node
    bool trailing_bytes = false; // ok, but bytes follow the root node
    size_t trailing_count = 0;
    // What root's spans and views point into. Shared, so a copied or moved result stays valid
    // (copies share the same read-only tree); a Node copied out of the result does not keep it.
    std::shared_ptr<const TreeStorage> storage;

    // Nodes plus attributes the storage has room for (used or not): bounded by what the input
    // can hold, however large the counts the list headers declare.
    size_t allocated_elements() const;
};

// dict must not be null (pass default_dictionary() when the intro's version is unknown).
// The tree views node_bytes (binary values, raw strings) and dict's token strings (the shipped
// dictionaries are static): keep node_bytes alive as long as the result and anything taken from
// it, and the result (or a copy) as long as any Node, Value or text view taken from it.
// More than max_elements nodes + attributes ends the decode with an error (partial tree kept).
DecodeResult decode_node(ByteView node_bytes, const Dictionary *dict, unsigned max_depth = kDefaultMaxDepth,
                         size_t max_elements = kDefaultMaxElements);

// True when bytes are valid UTF-8 without control characters other than tab, CR and LF.
bool is_printable_utf8(ByteView bytes);

// A JID value as text. The decoder's Value::text follows the digest's display rule (an AD_JID
// device of 0 is omitted); show_zero_device keeps ":0" for AD_JIDs sent with device 0, which is
// how participant ids are written (e.g. "111111111111111:0@lid").
std::string jid_text(const Value &v, bool show_zero_device);

}  // namespace wacall::wabinary
