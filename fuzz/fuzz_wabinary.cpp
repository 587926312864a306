// WABinary: a decrypted Noise frame (format byte, zlib when format & 2) unpacked with the
// client's 16 MiB cap, decoded with one dictionary (compiled twice: FUZZ_DICT_VERSION 2 and 3)
// and rendered as the dissector does (single line and pretty). Checks that every offset the
// tree reports lies inside the node bytes.
#include "fuzz_common.h"
#include "wabinary/decoder.h"
#include "wabinary/frame.h"
#include "wabinary/render.h"

using namespace wacall;
using namespace wacall::wabinary;

#ifndef FUZZ_DICT_VERSION
#define FUZZ_DICT_VERSION 3
#endif

namespace {

size_t g_n = 0;
const uint8_t *g_base = nullptr;

// Every span of the (possibly partial) tree lies inside the node bytes: the dissector highlights
// them and locates binary content by its address.
void check_value(const Value &v) {
    FUZZ_CHECK(v.offset + v.length <= g_n);
    if (v.kind == ValueKind::Binary) {
        FUZZ_CHECK(v.bytes.data >= g_base && v.bytes.data + v.bytes.size <= g_base + g_n);
        fuzz::touch(v.bytes);
    }
    (void)jid_text(v, true);
}

size_t check_node(const Node &n) {
    size_t count = 1;
    FUZZ_CHECK(n.offset + n.length <= g_n);
    check_value(n.tag);
    for (const auto &a : n.attrs) {
        check_value(a.key);
        check_value(a.value);
        FUZZ_CHECK(a.key.offset <= a.value.offset);
    }
    if (!n.has_children) check_value(n.content);
    for (const auto &c : n.children) {
        FUZZ_CHECK(c.depth == n.depth + 1);
        count += check_node(c);
    }
    return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const Dictionary *dict = dictionary_for_version(FUZZ_DICT_VERSION);
    FUZZ_CHECK(dict != nullptr);
    Unpacked up = unpack_frame(ByteView(data, size));
    if (!up.ok) return 0;
    FUZZ_CHECK(up.node.size <= kDefaultMaxInflated);
    g_n = up.node.size;
    g_base = up.node.data;
    DecodeResult r = decode_node(up.node, dict);
    FUZZ_CHECK(r.consumed <= g_n);
    if (!r.ok) FUZZ_CHECK(r.error_offset <= g_n && !r.error.empty());
    if (r.ok && r.trailing_bytes) FUZZ_CHECK(r.consumed + r.trailing_count == g_n);
    if (r.has_root) {
        check_node(r.root);
        RenderOptions opt;
        std::string line = render_xml(r.root, opt);
        opt.pretty = true;
        opt.max_binary_bytes = 8;
        opt.show_zero_device = false;
        std::string pretty = render_xml(r.root, opt);
        (void)render_value(r.root.tag, opt);
        FUZZ_CHECK(!line.empty() && !pretty.empty());
    }
    (void)is_printable_utf8(ByteView(data, size));
    return 0;
}
