// Plugin entry: the ABI symbols Wireshark's loader looks for, and registration of every protocol.
#include "ws_includes.h"
#include "wacall_plugin.h"

#ifndef WACALL_VERSION
#define WACALL_VERSION "0.0.0"
#endif

// `extern "C"` on each definition: a namespace-scope const would otherwise have internal linkage
// and the loader would report a missing "plugin_version" symbol.
extern "C" WS_DLL_PUBLIC_DEF const gchar plugin_version[] = WACALL_VERSION;
extern "C" WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
extern "C" WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WACALL_PLUGIN_DESCRIBE(WS_PLUGIN_DESC_DISSECTOR | WS_PLUGIN_DESC_TAP_LISTENER)
extern "C" {
WS_DLL_PUBLIC void plugin_register(void);
}

static void register_all_protocols() {
    wanoise_register();
    wabinary_register();
    wacall_register();
    wastun_register();
    warp_register();
}

static void register_all_handoffs() {
    wanoise_handoff();
    wabinary_handoff();
    wacall_handoff();
    wastun_handoff();
    warp_handoff();
}

extern "C" void plugin_register(void) {
    static proto_plugin plug;
    plug.register_protoinfo = register_all_protocols;
    plug.register_handoff = register_all_handoffs;
    proto_register_plugin(&plug);

    static tap_plugin tplug;
    tplug.register_tap_listener = wacall_register_tap_listeners;
    tap_register_plugin(&tplug);
}
