// The single place where Wireshark's C headers enter C++ (and, in ws_compat.h, where their API
// differs between versions).
// GLib first (outside extern "C": in C++ mode it pulls in templates); then every Wireshark
// header inside one extern "C" block, because ~100 of them (reassemble.h, wmem.h, packet-rtp.h,
// ...) lack C++ guards and would otherwise link as mangled C++ symbols.
#pragma once

#include <glib.h>
#include <gmodule.h>
#define WS_BUILD_DLL  // the plugin exports its entry points (WS_DLL_PUBLIC_DEF)
#include <ws_version.h>
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
// From 4.2 wireshark.h pulls in C++ templates (jtckdint.h, <limits>) that must not get C
// linkage; its own headers carry C++ guards, so it is included first, outside the block.
#include <wireshark.h>
#include <wsutil/plugins.h>  // WS_PLUGIN_DESC_*, for plugin_describe()
#endif

extern "C" {
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h>  // prefs_get_bool_value: another protocol's preference
#include <epan/expert.h>
#include <epan/conversation.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/stats_tree.h>
#include <epan/stat_tap_ui.h>
#include <epan/tap-voip.h>
#include <epan/conversation_filter.h>
#include <epan/export_object.h>
#include <epan/reassemble.h>
#include <epan/to_str.h>
#include <epan/addr_resolv.h>
#include <wsutil/report_message.h>
#include <epan/dissectors/packet-tcp.h>
#include <epan/dissectors/packet-udp.h>
#include <epan/dissectors/packet-rtp.h>
#include <epan/dissectors/packet-rtcp.h>
}

#include "ws_compat.h"
