// Shared declarations of the plugin glue: registration entry points of each protocol and the
// capture-wide state every dissector reads (key store, call registry).
#pragma once

#include "ws_includes.h"

namespace wacall {
namespace keys { class KeyStore; }
namespace call { class CallRegistry; }
}  // namespace wacall

void wacall_register_keys();
void wanoise_register();
void wanoise_handoff();
void wabinary_register();
void wabinary_handoff();
void wacall_register();
void wacall_handoff();
void wastun_register();
void wastun_handoff();
void warp_register();
void warp_handoff();
void wacall_register_tap_listeners();

// The key store behind the `wacall.keylog_file` preference. wacall_keys_refresh() re-reads the
// file when it changed (cheap stat otherwise) and reports each new unusable line once.
wacall::keys::KeyStore &wacall_keys();
void wacall_keys_refresh();

// The call model of the open capture file (filled on the first pass, in frame order).
wacall::call::CallRegistry &wacall_calls();

// What the wabinary dissector hands to wacall (via the `data` pointer).
namespace wacall::wabinary { struct Node; }
struct wabinary_dissect_info {
    const wacall::wabinary::Node *root;  // decoded top-level node (owned by the caller)
    int dict_version;
};

extern int proto_wacall;
extern int proto_wanoise;
extern int proto_wabinary;
extern int proto_wastun;
extern int proto_warp;
