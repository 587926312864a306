/* Headless test of the "WhatsApp Call" conversation filter (Analyze › Conversation Filter, and
 * the packet list's context menu), which only the GUI calls.
 *
 *   conv_filter_test CAPTURE [PREF ...]      PREF: "name:value", e.g. wacall.keylog_file:/path
 *
 * Loads libwireshark with its plugins the way the GUI does (run it through scripts/tshark-dev.sh
 * with WACALL_TOOL=<this binary>: as root Wireshark ignores WIRESHARK_PLUGIN_DIR), reads the
 * capture with a sequential first pass, then dissects every frame again as when it is selected,
 * last frame first (random access: no frame right after its predecessor), and asks the filter,
 * as the GUI's menu does, whether it applies to that frame's packet_info and what expression it
 * builds. Prints one line per frame: "frame<TAB>1<TAB>expression" or "frame<TAB>0<TAB>".
 * Exit status 2 when libwireshark, the capture or a preference cannot be set up, or when the
 * filter is not registered (the plugin did not load).
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <epan/packet_info.h> /* before conversation_filter.h, which only forward-declares it */
#include <epan/conversation_filter.h>
#include <epan/epan.h>
#include <epan/epan_dissect.h>
#include <epan/frame_data.h>
#include <epan/prefs.h>
#include <epan/tvbuff.h>
#include <wiretap/wtap.h>
#include <wsutil/filesystem.h>
#include <wsutil/privileges.h>
#include <wsutil/wslog.h>

#include <ws_version.h>

#define FILTER_NAME "WhatsApp Call"

/* Where libwireshark's embedding API differs between the versions wacall supports (the plugin's
 * side of this is plugin/ws_compat.h). */
#define WS_AT_LEAST(major, minor)                                                                     \
    (WIRESHARK_VERSION_MAJOR > (major) || (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

/* 4.2: the conversation-filter callbacks gained a user-data argument. */
#if WS_AT_LEAST(4, 2)
#define FILTER_CALL(filter, fn, pinfo) (filter)->fn((pinfo), (filter)->user_data)
#else
#define FILTER_CALL(filter, fn, pinfo) (filter)->fn(pinfo)
#endif

/* 4.6: a record carries its own data buffer (epan builds the tvb from it); logging and
 * configuration set-up lost an argument. */
#if WS_AT_LEAST(4, 5)
#define REC_INIT(rec) wtap_rec_init((rec), 1514)
#define REC_READ(wth, rec, buf, err, info, off) wtap_read((wth), (rec), (err), (info), (off))
#define REC_SEEK_READ(wth, seek, rec, buf, err, info) wtap_seek_read((wth), (seek), (rec), (err), (info))
#define LOG_INIT(name) ws_log_init(NULL)
#define CONFIGURATION_INIT(arg0) configuration_init(arg0)
#else
#define REC_INIT(rec) wtap_rec_init(rec)
#define REC_READ(wth, rec, buf, err, info, off) wtap_read((wth), (rec), (buf), (err), (info), (off))
#define REC_SEEK_READ(wth, seek, rec, buf, err, info) wtap_seek_read((wth), (seek), (rec), (buf), (err), (info))
#define LOG_INIT(name) ws_log_init((name), NULL)
#define CONFIGURATION_INIT(arg0) configuration_init((arg0), NULL)
#endif

/* The frames read so far: what the GUI's frame_data_sequence gives epan (time references). */
struct packet_provider_data {
    GPtrArray *frames; /* frame_data *, index = number - 1 */
};

static const nstime_t *get_frame_ts(struct packet_provider_data *prov, guint32 num)
{
    if (num == 0 || num > prov->frames->len) return NULL;
    return &((frame_data *)g_ptr_array_index(prov->frames, num - 1))->abs_ts;
}

static const conversation_filter_t *find_filter(void)
{
    for (GList *l = packet_conv_filter_list; l; l = l->next) {
        const conversation_filter_t *f = (const conversation_filter_t *)l->data;
        if (strcmp(f->display_name, FILTER_NAME) == 0) return f;
    }
    return NULL;
}

static void dissect(epan_dissect_t *edt, int file_type, wtap_rec *rec, Buffer *buf, frame_data *fd)
{
#if WS_AT_LEAST(4, 5)
    (void)buf;
    epan_dissect_run(edt, file_type, rec, fd, NULL);
#else
    tvbuff_t *tvb = tvb_new_real_data(ws_buffer_start_ptr(buf), fd->cap_len, fd->pkt_len);
    epan_dissect_run(edt, file_type, rec, tvb, fd, NULL);
#endif
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CAPTURE [PREF ...]\n", argv[0]);
        return 2;
    }
    LOG_INIT("conv_filter_test");
    init_process_policies();
    char *err = CONFIGURATION_INIT(argv[0]);
    if (err) {
        fprintf(stderr, "conv_filter_test: %s\n", err);
        g_free(err);
    }
    wtap_init(TRUE);
    if (!epan_init(NULL, NULL, TRUE)) {
        fprintf(stderr, "conv_filter_test: epan_init failed\n");
        return 2;
    }
    epan_load_settings();
    for (int i = 2; i < argc; i++) {
        char *errmsg = NULL;
        if (prefs_set_pref(argv[i], &errmsg) != PREFS_SET_OK) {
            fprintf(stderr, "conv_filter_test: cannot set %s%s%s\n", argv[i], errmsg ? ": " : "", errmsg ? errmsg : "");
            return 2;
        }
    }
    prefs_apply_all();
    const conversation_filter_t *filter = find_filter();
    if (!filter) {
        fprintf(stderr, "conv_filter_test: no \"%s\" conversation filter (is the plugin loaded?)\n", FILTER_NAME);
        return 2;
    }

    int werr = 0;
    gchar *werr_info = NULL;
    wtap *wth = wtap_open_offline(argv[1], WTAP_TYPE_AUTO, &werr, &werr_info, TRUE);
    if (!wth) {
        fprintf(stderr, "conv_filter_test: cannot open %s (error %d%s%s)\n", argv[1], werr, werr_info ? ": " : "",
                werr_info ? werr_info : "");
        return 2;
    }
    const int file_type = wtap_file_type_subtype(wth);
    struct packet_provider_data prov = {g_ptr_array_new_with_free_func(g_free)};
    static const struct packet_provider_funcs funcs = {.get_frame_ts = get_frame_ts};
    epan_t *session = epan_new(&prov, &funcs);
    epan_dissect_t *edt = epan_dissect_new(session, TRUE, TRUE);

    wtap_rec rec;
    Buffer buf;
    REC_INIT(&rec);
    ws_buffer_init(&buf, 1514);
    gint64 offset = 0;
    guint32 cum_bytes = 0;
    nstime_t elapsed = NSTIME_INIT_ZERO;
    const frame_data *ref = NULL, *prev_dis = NULL;
    while (REC_READ(wth, &rec, &buf, &werr, &werr_info, &offset)) {  /* first pass, in order */
        frame_data *fd = g_new0(frame_data, 1);
        g_ptr_array_add(prov.frames, fd);
        frame_data_init(fd, prov.frames->len, &rec, offset, cum_bytes);
        frame_data_set_before_dissect(fd, &elapsed, &ref, prev_dis);
        dissect(edt, file_type, &rec, &buf, fd);
        frame_data_set_after_dissect(fd, &cum_bytes);
        prev_dis = fd;
        epan_dissect_reset(edt);
        wtap_rec_reset(&rec);
    }
    if (werr) {
        fprintf(stderr, "conv_filter_test: read error %d%s%s\n", werr, werr_info ? ": " : "", werr_info ? werr_info : "");
        return 2;
    }

    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    for (guint i = prov.frames->len; i > 0; i--) {  /* "selecting" each frame, last first */
        frame_data *fd = (frame_data *)g_ptr_array_index(prov.frames, i - 1);
        if (!REC_SEEK_READ(wth, fd->file_off, &rec, &buf, &werr, &werr_info)) {
            fprintf(stderr, "conv_filter_test: cannot reread frame %u\n", i);
            return 2;
        }
        dissect(edt, file_type, &rec, &buf, fd);
        gboolean valid = FILTER_CALL(filter, is_filter_valid, &edt->pi);
        gchar *expr = valid ? FILTER_CALL(filter, build_filter_string, &edt->pi) : NULL;
        g_ptr_array_add(lines, g_strdup_printf("%u\t%d\t%s", i, valid ? 1 : 0, expr ? expr : ""));
        g_free(expr);
        epan_dissect_reset(edt);
        wtap_rec_reset(&rec);
    }
    for (guint i = lines->len; i > 0; i--) puts((const char *)g_ptr_array_index(lines, i - 1));

    g_ptr_array_free(lines, TRUE);
    epan_dissect_free(edt);
    epan_free(session);
    for (guint i = 0; i < prov.frames->len; i++) frame_data_destroy((frame_data *)g_ptr_array_index(prov.frames, i));
    g_ptr_array_free(prov.frames, TRUE);
    wtap_rec_cleanup(&rec);
    ws_buffer_free(&buf);
    wtap_close(wth);
    epan_cleanup();
    wtap_cleanup();
    return 0;
}
