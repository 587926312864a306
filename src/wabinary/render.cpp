#include "wabinary/render.h"

#include "wabinary/decoder.h"

namespace wacall::wabinary {

namespace {

const char kHexLower[] = "0123456789abcdef";

void append_hex(std::string &out, ByteView b, size_t max_bytes) {
    size_t n = b.size < max_bytes ? b.size : max_bytes;
    out.reserve(out.size() + 2 * n + 24);
    for (size_t i = 0; i < n; i++) {
        out += kHexLower[b[i] >> 4];
        out += kHexLower[b[i] & 15];
    }
    if (n < b.size) {
        out += "\xE2\x80\xA6(";  // U+2026 HORIZONTAL ELLIPSIS
        out += std::to_string(b.size);
        out += " bytes)";
    }
}

void append_value(std::string &out, const Value &v, const RenderOptions &opt) {
    if (v.kind == ValueKind::Binary && !v.printable) {
        append_hex(out, v.bytes, opt.max_binary_bytes);
    } else if (v.kind == ValueKind::Jid) {
        append_escaped(out, jid_text(v, opt.show_zero_device));
    } else {
        append_escaped(out, v.text);
    }
}

void render_node(std::string &out, const Node &n, const RenderOptions &opt, unsigned level) {
    if (opt.pretty) out.append(size_t(level) * opt.indent, ' ');
    out += '<';
    append_escaped(out, n.tag.text);
    for (const Attribute &a : n.attrs) {
        out += ' ';
        append_escaped(out, a.key.text);
        out += "=\"";
        append_value(out, a.value, opt);
        out += '"';
    }
    if (n.has_children && !n.children.empty()) {
        out += '>';
        if (opt.pretty) out += '\n';
        for (const Node &c : n.children) {
            render_node(out, c, opt, level + 1);
            if (opt.pretty) out += '\n';
        }
        if (opt.pretty) out.append(size_t(level) * opt.indent, ' ');
    } else if (!n.has_children && n.content.kind != ValueKind::Empty) {
        out += '>';
        append_value(out, n.content, opt);
    } else {
        out += "/>";
        return;
    }
    out += "</";
    append_escaped(out, n.tag.text);
    out += '>';
}

}  // namespace

void append_escaped(std::string &out, std::string_view s) {
    for (char ch : s) {
        switch (ch) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default:
            if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t') {
                out += "&#";
                out += std::to_string(static_cast<unsigned char>(ch));
                out += ';';
            } else {
                out += ch;
            }
        }
    }
}

std::string shown_text(const Value &v) {
    return v.kind == ValueKind::Binary ? text_or_hex(v.bytes, v.printable) : std::string(v.text);
}

std::string render_value(const Value &v, const RenderOptions &opt) {
    std::string out;
    if (v.kind == ValueKind::Binary && !v.printable)
        append_hex(out, v.bytes, opt.max_binary_bytes);
    else if (v.kind == ValueKind::Jid)
        out = jid_text(v, opt.show_zero_device);
    else
        out = v.text;
    return out;
}

std::string render_xml(const Node &n, const RenderOptions &opt) {
    std::string out;
    out.reserve(n.length * 2 + 16);
    render_node(out, n, opt, 0);
    return out;
}

}  // namespace wacall::wabinary
