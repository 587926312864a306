// `tshark -q -z wacall,corpus[,FILE][,technique=T][,confidence=C]`: every decrypted call stanza as
// a sanitised record of the wacrg capture schema (src/corpus, docs/corpus.md), printed as a YAML
// stream at the end of the run (or written to FILE).
//
// The wabinary dissector calls wacall_corpus_offer() with each decoded top-level node and the
// Noise frame's direction (from wanoise, through wabinary); only when this tap has a listener does
// it keep the decoded node of a call-related stanza until the packet's taps ran and queue it. The
// listener sanitises them in frame order (once per frame and stanza, so `-2` and repeated
// dissection give the same export): the pseudonym tables of one export live in the listener,
// which is why the sanitising is not done in the dissector.
#include "ws_includes.h"
#include "wacall_plugin.h"

extern "C" {
#include <epan/epan.h>
#include <epan/epan_dissect.h>
#include <epan/stat_tap_ui.h>
}

#include "call/call.h"
#include "call/registry.h"
#include "corpus/corpus.h"
#include "wabinary/decoder.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>

#ifndef WACALL_VERSION
#define WACALL_VERSION "0.0.0"
#endif

namespace {

using namespace wacall;

int corpus_tap = -1;
constexpr guint32 kIndexKey = 0xC0;  // p_add_proto_data key (proto_wabinary, pinfo->pool): stanzas queued

// What the dissector queues (pinfo->pool memory). `decoded` is freed with pinfo->pool, after
// the packet's taps ran; its node bytes live at least as long (pinfo->pool or file scope).
struct corpus_item_t {
    guint32 frame;
    guint32 index;
    double rel_time;
    int dict_version;
    const wabinary::DecodeResult *decoded;
    corpus::Direction direction;
};

struct Listener {
    std::string file;
    FILE *out = nullptr;  // opened when the option is read, so a bad path fails before the capture is read
    corpus::Exporter exporter;
    std::set<std::pair<guint32, guint32>> seen;
    explicit Listener(corpus::Options o) : exporter(std::move(o)) {}
};

tap_packet_status corpus_packet(void *tapdata, packet_info *, epan_dissect_t *, const void *data, tap_flags_t) {
    auto *l = static_cast<Listener *>(tapdata);
    const auto *it = static_cast<const corpus_item_t *>(data);
    if (!it || !it->decoded || !l->seen.insert({it->frame, it->index}).second) return TAP_PACKET_DONT_REDRAW;
    corpus::Context ctx;
    ctx.frame = it->frame;
    ctx.index = it->index;
    ctx.rel_time = it->rel_time;
    ctx.dict_version = it->dict_version;
    ctx.direction = it->direction;
    l->exporter.add(it->decoded->root, ctx);
    return TAP_PACKET_REDRAW;
}

void corpus_draw(void *tapdata) {
    auto *l = static_cast<Listener *>(tapdata);
    std::string text = l->exporter.yaml();
    if (l->file.empty()) {
        std::fputs(text.c_str(), stdout);
        std::fflush(stdout);
        return;
    }
    FILE *f = l->out;
    l->out = nullptr;
    errno = 0;
    bool ok = std::fputs(text.c_str(), f) >= 0 && std::fflush(f) == 0;
    int err = errno;
    if (std::fclose(f) != 0 && ok) ok = false, err = errno;
    if (!ok) {
        // A write error (disk full, quota) after the capture was read: said with its reason, and
        // tshark exits non-zero as it does when -w cannot be written.
        std::fflush(stdout);
        std::fprintf(stderr, "tshark: wacall corpus: cannot write %s: %s\n", l->file.c_str(),
                     err ? g_strerror(err) : "write error");
        std::exit(2);
    }
    std::printf("wacall corpus: %zu record(s) written to %s\n", l->exporter.size(), l->file.c_str());
}

void corpus_finish(void *tapdata) {
    auto *l = static_cast<Listener *>(tapdata);
    if (l->out) std::fclose(l->out);
    delete l;
}

[[noreturn]] void usage_error(const std::string &msg) {
    std::fprintf(stderr,
                 "tshark: %s\n  usage: -z wacall,corpus[,FILE][,file=FILE][,technique=T][,confidence=C]\n"
                 "  technique: websocket-capture baileys-instrumentation frida-hooking mitm-tls "
                 "static-smali-analysis memory-dump wasm-analysis\n"
                 "  confidence: confirmed probable speculative unknown\n",
                 msg.c_str());
    std::exit(1);
}

// opt_arg is the whole -z argument: "wacall,corpus[,...]".
bool corpus_init(const char *opt_arg, void *) {
    static const char prefix[] = "wacall,corpus";
    std::string rest = opt_arg ? opt_arg : "";
    rest = rest.size() > sizeof prefix - 1 ? rest.substr(sizeof prefix - 1) : std::string();
    if (!rest.empty() && rest[0] != ',') usage_error("invalid -z argument \"" + std::string(opt_arg) + "\"");
    corpus::Options o;
    o.tools = {std::string("wacall@") + WACALL_VERSION, std::string("wireshark@") + epan_get_version()};
    std::string file;
    size_t pos = 0;
    while (pos < rest.size()) {
        size_t next = rest.find(',', pos + 1);
        std::string item = rest.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
        pos = next == std::string::npos ? rest.size() : next;
        if (item.empty()) continue;
        if (item.rfind("technique=", 0) == 0) {
            o.technique = item.substr(10);
            if (!corpus::valid_technique(o.technique)) usage_error("unknown technique \"" + o.technique + "\"");
        } else if (item.rfind("confidence=", 0) == 0) {
            o.confidence = item.substr(11);
            if (!corpus::valid_confidence(o.confidence)) usage_error("unknown confidence \"" + o.confidence + "\"");
        } else if (item.rfind("file=", 0) == 0) {
            file = item.substr(5);
        } else if (file.empty()) {
            file = item;
        } else {
            usage_error("unexpected argument \"" + item + "\"");
        }
    }
    auto *l = new Listener(std::move(o));
    l->file = file;
    if (!file.empty()) {
        errno = 0;
        l->out = std::fopen(file.c_str(), "w");
        if (!l->out) {
            int err = errno;
            delete l;
            // Like stock taps and -w: a file that cannot be written stops tshark before the capture is read.
            std::fprintf(stderr, "tshark: wacall corpus: cannot write %s: %s\n", file.c_str(),
                         err ? g_strerror(err) : "cannot open");
            std::exit(1);
        }
    }
    GString *err = register_tap_listener("wacall_corpus", l, "wabinary", TL_REQUIRES_PROTO_TREE,
                                         nullptr, corpus_packet, corpus_draw, corpus_finish);
    if (err) {
        std::string m = err->str;
        g_string_free(err, TRUE);
        if (l->out) std::fclose(l->out);
        delete l;
        usage_error("cannot register the wacall corpus tap: " + m);
    }
    return true;
}

}  // namespace

void wacall_register_corpus_tap() {
    static bool done = false;
    if (done) return;
    done = true;
    if (corpus_tap < 0) corpus_tap = register_tap("wacall_corpus");
    static stat_tap_ui ui = {REGISTER_PACKET_STAT_GROUP_UNSORTED, "WhatsApp call corpus export (sanitised YAML)",
                             "wacall,corpus", wacall_stat_tap_init<corpus_init>(), 0, nullptr};
    register_stat_tap_ui(&ui, nullptr);
}

namespace {

// Frees a queued stanza's decode result with the packet's pool (after the taps ran).
wmem_cb_result_t free_decoded(wmem_allocator_t *, wmem_cb_event_t, void *p) {
    delete static_cast<wabinary::DecodeResult *>(p);
    return false;  // once
}

corpus::Direction corpus_direction(call::Direction d) {
    switch (d) {
    case call::Direction::ClientToServer: return corpus::Direction::Outgoing;
    case call::Direction::ServerToClient: return corpus::Direction::Incoming;
    default: return corpus::Direction::Unknown;
    }
}

}  // namespace

void wacall_corpus_offer(packet_info *pinfo, const wacall::wabinary::DecodeResult &decoded, int dict_version,
                         wacall::call::Direction direction) {
    if (corpus_tap < 0 || !have_tap_listener(corpus_tap) || !decoded.ok) return;
    if (!call::parse_stanza(decoded.root).is_call_related()) return;
    guint32 index = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_wabinary, kIndexKey));
    p_add_proto_data(pinfo->pool, pinfo, proto_wabinary, kIndexKey, GUINT_TO_POINTER(index + 1));
    auto *it = wmem_new0(pinfo->pool, corpus_item_t);
    it->frame = pinfo->num;
    it->index = index;
    it->rel_time = nstime_to_sec(&pinfo->rel_ts);
    it->dict_version = dict_version;
    // A copy shares the decoded tree (wabinary reuses its own holder for the next stanza).
    auto *copy = new wabinary::DecodeResult(decoded);
    wmem_register_callback(pinfo->pool, free_decoded, copy);
    it->decoded = copy;
    it->direction = corpus_direction(direction);
    tap_queue_packet(corpus_tap, pinfo, it);
}
