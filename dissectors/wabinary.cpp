// wabinary: the WABinary node tree inside a decrypted Noise frame (any stanza, not only calls).
// Input: the decrypted frame (format byte + node bytes or zlib); `data` points at wanoise's
// wanoise_frame_info (dictionary version from the connection intro, the frame's direction), which
// goes on to wacall and the corpus tap with the decoded node.
#include "wacall_plugin.h"

#include "call/registry.h"
#include "wabinary/decoder.h"
#include "wabinary/frame.h"
#include "wabinary/render.h"

#include <cstring>
#include <memory>

int proto_wabinary = -1;

namespace {

using namespace wacall;
using namespace wacall::wabinary;

int hf_format = -1, hf_compressed = -1, hf_inflated_len = -1, hf_dict = -1, hf_xml = -1;
int hf_node = -1, hf_tag = -1, hf_attr = -1, hf_attr_key = -1, hf_attr_value = -1;
int hf_content_text = -1, hf_content_bytes = -1, hf_content_jid = -1, hf_depth = -1;
int ett_wabinary = -1, ett_node = -1, ett_attr = -1;
expert_field ei_malformed = EI_INIT, ei_trailing = EI_INIT, ei_inflate = EI_INIT, ei_dict = EI_INIT;
expert_field ei_depth = EI_INIT;
dissector_handle_t wacall_handle;

gint pref_max_shown_depth = 20;

// The decoded tree of the frame being dissected. Owned here, not on the stack, so a Wireshark
// exception (longjmp) while building the tree cannot skip its destructor.
std::unique_ptr<DecodeResult> g_decoded;
const guint8 *g_node_base = nullptr;  // start of the node bytes g_decoded points into

const value_string format_vals[] = {{0, "plain"}, {2, "zlib compressed"}, {0, nullptr}};

std::string node_label(const Node &n) {
    std::string s = "<" + std::string(n.tag.text);
    for (const auto &a : n.attrs) {
        s += " " + std::string(a.key.text) + "=\"";
        append_escaped(s, shown_text(a.value));
        s += "\"";
        if (s.size() > 200) break;  // the label only; the fields carry everything
    }
    if (!n.has_children && n.content.kind == ValueKind::Empty) s += "/";
    s += ">";
    return s;
}

void add_value(proto_tree *t, tvbuff_t *tvb, const Value &v) {
    gint off = static_cast<gint>(v.offset), len = static_cast<gint>(v.length);
    if (v.kind == ValueKind::Binary && !v.printable) {
        gint boff = static_cast<gint>(v.bytes.data - g_node_base);
        proto_tree_add_item(t, hf_content_bytes, tvb, boff, static_cast<gint>(v.bytes.size), ENC_NA);
    } else if (v.kind == ValueKind::Jid) {
        proto_tree_add_string(t, hf_content_jid, tvb, off, len, std::string(v.text).c_str());
    } else {
        proto_tree_add_string(t, hf_content_text, tvb, off, len, std::string(v.text).c_str());
    }
}

void add_node(proto_tree *parent, tvbuff_t *tvb, packet_info *pinfo, const Node &n) {
    if (static_cast<gint>(n.depth) >= pref_max_shown_depth) {
        proto_tree_add_expert_format(parent, pinfo, &ei_depth, tvb, static_cast<gint>(n.offset),
                                     static_cast<gint>(n.length), "Nodes deeper than %d levels not shown",
                                     pref_max_shown_depth);
        return;
    }
    std::string label = node_label(n);
    proto_item *ni = proto_tree_add_none_format(parent, hf_node, tvb, static_cast<gint>(n.offset),
                                                static_cast<gint>(n.length), "%s", label.c_str());
    proto_tree *nt = proto_item_add_subtree(ni, ett_node);
    // Filterable (wabinary.depth > 3) without adding a line to every node of the tree.
    proto_item *di = proto_tree_add_uint(nt, hf_depth, tvb, static_cast<gint>(n.offset), 0, n.depth);
    proto_item_set_hidden(di);
    proto_item_set_generated(di);
    proto_tree_add_string(nt, hf_tag, tvb, static_cast<gint>(n.tag.offset), static_cast<gint>(n.tag.length),
                          std::string(n.tag.text).c_str());
    for (const auto &a : n.attrs) {
        const std::string key(a.key.text), v = shown_text(a.value);
        gint off = static_cast<gint>(a.key.offset);
        gint len = static_cast<gint>(a.value.offset + a.value.length - a.key.offset);
        proto_item *ai = proto_tree_add_string_format(nt, hf_attr, tvb, off, len, nullptr, "%s=\"%s\"",
                                                      key.c_str(), v.c_str());
        proto_tree *at = proto_item_add_subtree(ai, ett_attr);
        proto_tree_add_string(at, hf_attr_key, tvb, off, static_cast<gint>(a.key.length), key.c_str());
        proto_tree_add_string(at, hf_attr_value, tvb, static_cast<gint>(a.value.offset),
                              static_cast<gint>(a.value.length), v.c_str());
    }
    if (n.has_children) {
        for (const auto &c : n.children) add_node(nt, tvb, pinfo, c);
    } else if (n.content.kind != ValueKind::Empty) {
        add_value(nt, tvb, n.content);
    }
}

int dissect_wabinary(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    const auto *from = static_cast<const wanoise_frame_info *>(data);
    const int dict_version = from ? from->dict_version : -1;
    const call::Direction direction = from ? from->direction : call::Direction::Unknown;
    guint len = tvb_captured_length(tvb);
    if (len < 1) return 0;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "WABINARY");
    proto_item *ti = proto_tree_add_item(tree, proto_wabinary, tvb, 0, -1, ENC_NA);
    proto_tree *wt = proto_item_add_subtree(ti, ett_wabinary);
    proto_tree_add_item(wt, hf_format, tvb, 0, 1, ENC_NA);

    // Unpack into pinfo->pool memory: the node bytes must outlive this function as a tvb.
    Unpacked up = unpack_frame(ByteView(tvb_get_ptr(tvb, 0, len), len));
    proto_item *ci = proto_tree_add_boolean(wt, hf_compressed, tvb, 0, 1, up.compressed);
    proto_item_set_generated(ci);
    if (!up.ok) {
        expert_add_info_format(pinfo, ti, &ei_inflate, "Cannot unpack frame: %s", up.error.c_str());
        return len;
    }
    tvbuff_t *nodes;
    if (up.compressed) {
        guint8 *copy = static_cast<guint8 *>(wmem_memdup(pinfo->pool, up.node.data, up.node.size));
        nodes = tvb_new_child_real_data(tvb, copy, static_cast<guint>(up.node.size), static_cast<gint>(up.node.size));
        add_new_data_source(pinfo, nodes, "Inflated WABinary");
        proto_item *pi = proto_tree_add_uint(wt, hf_inflated_len, tvb, 1, len - 1, static_cast<guint32>(up.node.size));
        proto_item_set_generated(pi);
    } else {
        nodes = tvb_new_subset_remaining(tvb, 1);
    }

    const Dictionary *dict = dict_version >= 0 ? dictionary_for_version(dict_version) : nullptr;
    if (!dict) {
        dict = default_dictionary();
        if (dict_version >= 0)
            expert_add_info_format(pinfo, ti, &ei_dict, "Unknown WABinary dictionary version %d; decoding with v%d",
                                   dict_version, dict->version);
    }
    proto_item *di = proto_tree_add_uint(wt, hf_dict, tvb, 0, 0, static_cast<guint32>(dict->version));
    proto_item_set_generated(di);

    guint nlen = tvb_captured_length(nodes);
    g_node_base = tvb_get_ptr(nodes, 0, nlen);
    g_decoded = std::make_unique<DecodeResult>(decode_node(ByteView(g_node_base, nlen), dict));
    const DecodeResult &r = *g_decoded;
    if (r.has_root) {
        RenderOptions opt;
        std::string xml = render_xml(r.root, opt);
        proto_item *xi = proto_tree_add_string(wt, hf_xml, nodes, 0, static_cast<gint>(r.consumed ? r.consumed : nlen),
                                               xml.c_str());
        proto_item_set_generated(xi);
        proto_item_append_text(ti, ", %s", node_label(r.root).c_str());
        add_node(wt, nodes, pinfo, r.root);
    }
    if (!r.ok)
        expert_add_info_format(pinfo, ti, &ei_malformed, "Malformed WABinary at offset %u: %s",
                               static_cast<unsigned>(r.error_offset), r.error.c_str());
    else if (r.trailing_bytes)
        expert_add_info_format(pinfo, ti, &ei_trailing, "%u bytes after the root node",
                               static_cast<unsigned>(r.trailing_count));
    // wacall summarises call stanzas in the Info column; any other stanza is summarised here.
    int claimed = 0;
    if (r.ok) wacall_corpus_offer(pinfo, r, dict->version, direction);
    if (r.ok && wacall_handle) {
        wabinary_dissect_info info{&r.root, dict->version, direction};
        claimed = call_dissector_only(wacall_handle, nodes, pinfo, tree, &info);
    }
    if (!claimed && r.has_root) col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", node_label(r.root).c_str());
    return len;
}

}  // namespace

void wabinary_register() {
    static hf_register_info hf[] = {
        {&hf_format, {"Format", "wabinary.format", FT_UINT8, BASE_HEX, VALS(format_vals), 0, nullptr, HFILL}},
        {&hf_compressed, {"Compressed", "wabinary.compressed", FT_BOOLEAN, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_inflated_len, {"Inflated length", "wabinary.inflated_length", FT_UINT32, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_dict, {"Dictionary version", "wabinary.dictionary", FT_UINT8, BASE_DEC, nullptr, 0, nullptr, HFILL}},
        {&hf_xml, {"Stanza", "wabinary.xml", FT_STRING, BASE_NONE, nullptr, 0, "The whole stanza as text", HFILL}},
        {&hf_node, {"Node", "wabinary.node", FT_NONE, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_tag, {"Tag", "wabinary.tag", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_attr, {"Attribute", "wabinary.attr", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_attr_key, {"Name", "wabinary.attr.name", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_attr_value, {"Value", "wabinary.attr.value", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_content_text, {"Content", "wabinary.content", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_content_bytes, {"Content (bytes)", "wabinary.content_bytes", FT_BYTES, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_content_jid, {"Content (JID)", "wabinary.content_jid", FT_STRING, BASE_NONE, nullptr, 0, nullptr, HFILL}},
        {&hf_depth, {"Depth", "wabinary.depth", FT_UINT8, BASE_DEC, nullptr, 0, nullptr, HFILL}},
    };
    static gint *ett[] = {&ett_wabinary, &ett_node, &ett_attr};
    static ei_register_info ei[] = {
        {&ei_malformed, {"wabinary.malformed", PI_MALFORMED, PI_ERROR, "Malformed WABinary", EXPFILL}},
        {&ei_trailing, {"wabinary.trailing", PI_MALFORMED, PI_WARN, "Bytes after the root node", EXPFILL}},
        {&ei_inflate, {"wabinary.unpack_failed", PI_MALFORMED, PI_ERROR, "Cannot unpack frame", EXPFILL}},
        {&ei_dict, {"wabinary.unknown_dictionary", PI_PROTOCOL, PI_WARN, "Unknown dictionary version", EXPFILL}},
        {&ei_depth, {"wabinary.depth.expert", PI_UNDECODED, PI_NOTE, "Nodes too deep to show", EXPFILL}},
    };
    proto_wabinary = proto_register_protocol("WhatsApp Binary XML", "WABINARY", "wabinary");
    proto_register_field_array(proto_wabinary, hf, G_N_ELEMENTS(hf));
    proto_register_subtree_array(ett, G_N_ELEMENTS(ett));
    expert_register_field_array(expert_register_protocol(proto_wabinary), ei, G_N_ELEMENTS(ei));
    module_t *mod = prefs_register_protocol(proto_wabinary, nullptr);
    prefs_register_uint_preference(mod, "max_shown_depth", "Deepest node level shown",
                                   "Nodes nested deeper are summarised (the decoder itself stops at 128)", 10,
                                   reinterpret_cast<guint *>(&pref_max_shown_depth));
    register_dissector("wabinary", dissect_wabinary, proto_wabinary);
    wacall_register_corpus_tap();  // -z wacall,corpus (plugin/corpus_tap.cpp)
}

void wabinary_handoff() { wacall_handle = find_dissector("wacall"); }
