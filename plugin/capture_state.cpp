// Capture-wide state shared by the dissectors: the key store and the call registry. C++ objects
// with destructors live here (not in wmem, which runs no destructors), and are reset when a
// capture file is closed, so every file starts from the same state.
#include "wacall_plugin.h"

#include "call/registry.h"
#include "keys/keylog.h"
#include "media_state.h"

#include <set>
#include <string>

namespace {

wacall::keys::KeyStore g_keys;
wacall::call::CallRegistry *g_calls = nullptr;
std::set<std::string> g_reported;  // key log problems already shown (file:line: message)

void report_new_problems() {
    for (const auto &p : g_keys.problems()) {
        std::string text = p.file + (p.line ? ":" + std::to_string(p.line) : std::string()) + ": " + p.message;
        if (g_reported.insert(text).second) report_warning("wacall key log: %s", text.c_str());
    }
}

}  // namespace

wacall::keys::KeyStore &wacall_keys() { return g_keys; }

void wacall_keys_refresh() {
    if (g_keys.refresh()) report_new_problems();
}

wacall::call::CallRegistry &wacall_calls() {
    if (!g_calls) g_calls = new wacall::call::CallRegistry();
    return *g_calls;
}

// Called from the wacall protocol's init/cleanup routines.
void wacall_capture_state_reset() {
    delete g_calls;
    g_calls = nullptr;
    wacall_media().reset();
}

void wacall_keys_set_path(const char *path) {
    std::string p = path ? path : "";
    if (p != g_keys.path()) {
        g_keys.set_path(p);
        g_reported.clear();
    }
    wacall_keys_refresh();
}
