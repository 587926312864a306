// XML-ish text of a decoded node tree, e.g.
//   <call to="222222222222222:0@lid" id="3EB0..."><offer ...><audio enc="opus" rate="16000"/>
//   <capability ver="1">0105f709e0bb13</capability></offer></call>
// Non-printable binary is lowercase hex (truncated past max_binary_bytes); text is escaped.
#pragma once

#include "wabinary/node.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace wacall::wabinary {

struct RenderOptions {
    bool pretty = false;             // one element per line, indented; otherwise a single line
    unsigned indent = 2;             // spaces per level when pretty
    size_t max_binary_bytes = 256;   // hex beyond this many bytes becomes "…(N bytes)"
    bool show_zero_device = true;    // AD_JID with device 0 as "user:0@server" (see jid_text)
};

std::string render_xml(const Node &n, const RenderOptions &opt = RenderOptions());
// The text of one value as the renderer shows it (unescaped).
std::string render_value(const Value &v, const RenderOptions &opt = RenderOptions());
// The text of one value as the dissector trees show it: non-printable binary as hex (all of
// it, untruncated), anything else its text.
std::string shown_text(const Value &v);
// Appends s with &, <, > and " escaped (control characters as &#N;).
void append_escaped(std::string &out, std::string_view s);

}  // namespace wacall::wabinary
