// Capture-wide state shared by the dissectors: the key store, the call registry and the media
// receiver. C++ objects
// with destructors live here (not in wmem, which runs no destructors), and are reset when a
// capture file is closed, so every file starts from the same state.
#include "wacall_plugin.h"

#include "call/inferred.h"
#include "call/registry.h"
#include "keys/keylog.h"
#include "media_state.h"

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

wacall::keys::KeyStore g_keys;
wacall::call::CallRegistry *g_calls = nullptr;
std::set<std::string> g_reported;  // key log messages already shown (file:line: message)
uint64_t g_serial_seen = ~uint64_t(0);
size_t g_suppressed_reported = 0;
wacall::call::InferredCalls g_inferred;
std::unordered_map<guint32, std::string> g_frame_calls;  // signaling frames -> call id
std::vector<wacall_frame_call_source> g_frame_call_sources;
std::vector<void (*)()> g_reset_hooks;
const char *const *g_keylog_pref = nullptr;

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

wacall::call::InferredCalls &wacall_inferred() { return g_inferred; }

namespace {

// The one reset (cleanup routine, and the second half of the init routine).
void capture_reset() {
    delete g_calls;
    g_calls = nullptr;
    wacall_media().reset();
    g_inferred.clear();
    g_frame_calls.clear();
    for (auto reset : g_reset_hooks) reset();
}

void capture_open() {
    // First: a new key-log path drops keys, which the media receiver's reset then notes.
    if (g_keylog_pref) wacall_keys_set_path(*g_keylog_pref);
    capture_reset();
}

}  // namespace

void wacall_register_capture_state(const char *const *keylog_pref) {
    g_keylog_pref = keylog_pref;
    register_init_routine(capture_open);
    register_cleanup_routine(capture_reset);
}

void wacall_on_capture_reset(void (*reset)()) { g_reset_hooks.push_back(reset); }

void wacall_note_frame_call(guint32 frame, const std::string &call_id) {
    if (!call_id.empty()) g_frame_calls.emplace(frame, call_id);
}

void wacall_add_frame_call_source(const wacall_frame_call_source &source) { g_frame_call_sources.push_back(source); }

const std::string *wacall_frame_call(packet_info *pinfo) {
    auto it = g_frame_calls.find(pinfo->num);
    if (it != g_frame_calls.end()) return &it->second;
    for (const auto &s : g_frame_call_sources)
        if (const std::string *id = s.call_id(pinfo)) return id;
    return nullptr;
}

guint32 wacall_frame_inferred_index(packet_info *pinfo) {
    for (const auto &s : g_frame_call_sources)
        if (guint32 i = s.inferred_index(pinfo)) return i;
    return 0;
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
