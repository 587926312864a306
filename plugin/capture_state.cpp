// Capture-wide state shared by the dissectors: the key store, the call registry and the media
// receiver. C++ objects
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
std::set<std::string> g_reported;  // key log messages already shown (file:line: message)
uint64_t g_serial_seen = ~uint64_t(0);
size_t g_suppressed_reported = 0;

// report_failure/report_warning: tshark prints them on stderr, the GUI shows a dialog. Every
// problem is shown once, whatever refresh() returned (a missing file loads nothing new but must
// still be said).
void report_new_problems() {
    if (g_keys.problem_serial() == g_serial_seen) return;  // nothing new: no scan per packet
    g_serial_seen = g_keys.problem_serial();
    for (const auto &p : g_keys.problems()) {
        std::string text = p.file + (p.line ? ":" + std::to_string(p.line) : std::string()) + ": " + p.message;
        if (!g_reported.insert(text).second) continue;
        if (p.kind == wacall::keys::Problem::File)
            report_failure("wacall key log: %s", text.c_str());
        else
            report_warning("wacall key log: %s", text.c_str());
    }
    if (g_keys.suppressed() > g_suppressed_reported) {
        g_suppressed_reported = g_keys.suppressed();
        report_warning("wacall key log: %s: %zu more problem(s) not shown (only the first %zu of each kind are)",
                       g_keys.source().c_str(), g_suppressed_reported, wacall::keys::KeyStore::kMaxProblems);
    }
}

}  // namespace

wacall::keys::KeyStore &wacall_keys() { return g_keys; }

void wacall_keys_refresh() {
    g_keys.refresh();
    report_new_problems();
}

void wacall_keys_report_used(uint32_t line, const std::string &what) {
    std::string text = g_keys.source() + ":" + std::to_string(line) + ": " + what;
    if (g_reported.insert(text).second) report_warning("wacall key log: %s", text.c_str());
}

// A plain global (no guard on every call: warp asks for it several times per packet); its
// KeySource is a function-local static, made on first use whatever the initialisation order.
namespace {
wacall::media::MediaReceiver g_receiver(wacall_key_source());
}  // namespace

wacall::media::MediaReceiver &wacall_media() { return g_receiver; }

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
        g_serial_seen = ~uint64_t(0);
        g_suppressed_reported = 0;
    }
    wacall_keys_refresh();
}
