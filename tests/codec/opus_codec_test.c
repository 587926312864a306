/* Headless test of the wacall_opus codec plugin, loaded the way Wireshark loads it.
 *
 *   opus_codec_test [--freq HZ] [--amplitude A] [--frame-samples N] [--skip-ms MS] [--min-snr DB]
 *                   [--expect-plugin-dir DIR] [--wav OUT.wav] PAYLOADS.txt
 *
 * PAYLOADS.txt: one decrypted RTP packet per line, "seq<TAB>payload-hex", in capture order
 * (tshark -T fields -e rtp.seq -e rtp.payload through the wacall plugin). The program
 *   1. runs wsutil's own plugin loader: init_process_policies(), configuration_init(), then
 *      codecs_init(), which loads every codec plugin under $WIRESHARK_PLUGIN_DIR/4.0/codecs
 *      (as root Wireshark ignores that variable: run it through scripts/tshark-dev.sh with
 *      WACALL_TOOL=<this binary>, which uses a user namespace);
 *   2. checks the plugin directory is the expected one and that find_codec() resolves "OPUS"
 *      (the name warp announces for PT 111) and "opus" (SDP spelling), 1 channel, 48 kHz;
 *   3. checks the API contract the RTP player relies on: the size query, and packet-loss
 *      concealment for an empty payload (a frame's worth of samples);
 *   4. decodes the stream through codec_decode() exactly as ui/rtp_media.c does (size query,
 *      then decode), with PLC for every sequence number missing from the file, and compares the
 *      output with a sine of the given frequency and amplitude: the frequency maximising a
 *      least-squares sine fit must be within 2 Hz, the fit's SNR (fit power / residual power)
 *      above --min-snr after the codec's start-up (--skip-ms), its amplitude within 15 %, and
 *      the total length exactly packets x frame samples.
 * Exit status 0 when every check passes; each check prints one line.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <ws_version.h>
#include <wsutil/codecs.h>
#include <wsutil/filesystem.h>
#include <wsutil/privileges.h>
#include <wsutil/wslog.h>

static int failures;

static void check(int ok, const char *what, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void check(int ok, const char *what, const char *fmt, ...)
{
    va_list ap;
    printf("%s %s: ", ok ? "ok  " : "FAIL", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok) failures++;
}

typedef struct {
    unsigned seq;
    guint8 *data;
    size_t len;
} packet_t;

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads "seq<TAB>hex" lines; ':' separators in the hex (tshark's bytes format) are skipped. */
static GArray *read_payloads(const char *path)
{
    gchar *text = NULL;
    GError *err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "cannot read %s: %s\n", path, err->message);
        exit(2);
    }
    GArray *pkts = g_array_new(FALSE, TRUE, sizeof(packet_t));
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        gchar *line = g_strstrip(*l);
        if (!*line || *line == '#') continue;
        gchar *tab = strpbrk(line, "\t ");
        packet_t p = {0, NULL, 0};
        p.seq = (unsigned)strtoul(line, NULL, 10);
        const char *hex = tab ? tab + 1 : "";
        p.data = g_malloc(strlen(hex) / 2 + 1);
        int hi = -1;
        for (const char *c = hex; *c; c++) {
            int v = hexval((unsigned char)*c);
            if (v < 0) continue;
            if (hi < 0) {
                hi = v;
            } else {
                p.data[p.len++] = (guint8)(hi << 4 | v);
                hi = -1;
            }
        }
        g_array_append_val(pkts, p);
    }
    g_strfreev(lines);
    g_free(text);
    return pkts;
}

/* One packet through the codec the way decode_rtp_packet() does it; appends to out. */
static size_t decode_one(codec_handle_t h, void *ctx, const guint8 *data, size_t len, GArray *out)
{
    size_t need = codec_decode(h, ctx, data, len, NULL, NULL);
    if (need == 0) return 0;
    gint16 *buf = g_malloc(need);
    size_t have = need;
    size_t got = codec_decode(h, ctx, data, len, buf, &have);
    if (got) g_array_append_vals(out, buf, (guint)(got / sizeof(gint16)));
    g_free(buf);
    return got;
}

/* Least-squares fit of a*cos + b*sin at frequency f over x[0..n): returns the fit's power
 * (mean square) and its amplitude. */
static double sine_fit(const gint16 *x, size_t n, double f, double rate, double *amp, double *residual)
{
    double cc = 0, ss = 0, cs = 0, xc = 0, xs = 0, xx = 0;
    double w = 2 * G_PI * f / rate, cw = cos(w), sw = sin(w), c = 1, s = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if ((i & 1023) == 0) { /* re-anchor the rotation: no drift over long inputs */
            c = cos(w * (double)i);
            s = sin(w * (double)i);
        }
        cc += c * c;
        ss += s * s;
        cs += c * s;
        xc += v * c;
        xs += v * s;
        xx += v * v;
        double c1 = c * cw - s * sw;
        s = s * cw + c * sw;
        c = c1;
    }
    double det = cc * ss - cs * cs;
    double a = (xc * ss - xs * cs) / det, b = (xs * cc - xc * cs) / det;
    double fit = a * xc + b * xs; /* energy explained by the fit */
    if (amp) *amp = sqrt(a * a + b * b);
    if (residual) *residual = (xx - fit) / (double)n;
    return fit / (double)n;
}

static double best_frequency(const gint16 *x, size_t n, double rate, double lo, double hi, double step)
{
    double best = lo, best_p = -1;
    for (double f = lo; f <= hi; f += step) {
        double p = sine_fit(x, n, f, rate, NULL, NULL);
        if (p > best_p) {
            best_p = p;
            best = f;
        }
    }
    return best;
}

static void write_wav(const char *path, const GArray *pcm, unsigned rate)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    guint32 data_len = pcm->len * 2, u32;
    guint16 u16;
    fwrite("RIFF", 1, 4, f);
    u32 = GUINT32_TO_LE(36 + data_len), fwrite(&u32, 4, 1, f);
    fwrite("WAVEfmt ", 1, 8, f);
    u32 = GUINT32_TO_LE(16), fwrite(&u32, 4, 1, f);
    u16 = GUINT16_TO_LE(1), fwrite(&u16, 2, 1, f);
    u16 = GUINT16_TO_LE(1), fwrite(&u16, 2, 1, f);
    u32 = GUINT32_TO_LE(rate), fwrite(&u32, 4, 1, f);
    u32 = GUINT32_TO_LE(rate * 2), fwrite(&u32, 4, 1, f);
    u16 = GUINT16_TO_LE(2), fwrite(&u16, 2, 1, f);
    u16 = GUINT16_TO_LE(16), fwrite(&u16, 2, 1, f);
    fwrite("data", 1, 4, f);
    u32 = GUINT32_TO_LE(data_len), fwrite(&u32, 4, 1, f);
    for (guint i = 0; i < pcm->len; i++) {
        u16 = GUINT16_TO_LE((guint16)g_array_index(pcm, gint16, i));
        fwrite(&u16, 2, 1, f);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    double freq = 440, amplitude = 0, skip_ms = 100, min_snr = 30;
    long frame_samples = 960;
    const char *expect_dir = NULL, *wav = NULL, *payloads = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--freq") && v) freq = atof(v), i++;
        else if (!strcmp(a, "--amplitude") && v) amplitude = atof(v), i++;
        else if (!strcmp(a, "--frame-samples") && v) frame_samples = atol(v), i++;
        else if (!strcmp(a, "--skip-ms") && v) skip_ms = atof(v), i++;
        else if (!strcmp(a, "--min-snr") && v) min_snr = atof(v), i++;
        else if (!strcmp(a, "--expect-plugin-dir") && v) expect_dir = v, i++;
        else if (!strcmp(a, "--wav") && v) wav = v, i++;
        else if (a[0] != '-' && !payloads) payloads = a;
        else {
            fprintf(stderr, "usage: %s [--freq HZ] [--amplitude A] [--frame-samples N] [--skip-ms MS] "
                            "[--min-snr DB] [--expect-plugin-dir DIR] [--wav OUT] PAYLOADS.txt\n", argv[0]);
            return 2;
        }
    }
    if (!payloads) {
        fprintf(stderr, "no payload file\n");
        return 2;
    }

    /* 1. Wireshark's loader: the same calls tshark/wireshark make before codecs_init(). */
    ws_log_init("opus_codec_test", NULL);
    init_process_policies();
    char *cfg_err = configuration_init(argv[0], NULL);
    if (cfg_err) {
        fprintf(stderr, "configuration_init: %s\n", cfg_err);
        g_free(cfg_err);
    }
    check(!started_with_special_privs(), "unprivileged",
          "started_with_special_privs() is false, so WIRESHARK_PLUGIN_DIR is honoured");
    const char *dir = get_plugins_dir_with_version();
    if (expect_dir) {
        gchar *want = g_build_filename(expect_dir, G_STRINGIFY(WIRESHARK_VERSION_MAJOR) "."
                                       G_STRINGIFY(WIRESHARK_VERSION_MINOR), NULL);
        check(dir && !strcmp(dir, want), "plugin dir", "%s (want %s)", dir ? dir : "(null)", want);
        gchar *so = g_build_filename(want, "codecs", "wacall_opus.so", NULL);
        check(g_file_test(so, G_FILE_TEST_EXISTS), "plugin file", "%s", so);
        g_free(so);
        g_free(want);
    }
    codecs_init();

    /* 2. Names, channels, rate. */
    codec_handle_t h = find_codec("OPUS");
    check(h != NULL, "find_codec(\"OPUS\")", "%s", h ? "found" : "not registered");
    check(find_codec("opus") != NULL, "find_codec(\"opus\")", "%s", find_codec("opus") ? "found" : "not registered");
    if (!h) return 1;
    void *ctx = codec_init(h);
    check(ctx != NULL, "codec_init", "%p", ctx);
    if (!ctx) return 1;
    unsigned ch = codec_get_channels(h, ctx), rate = codec_get_frequency(h, ctx);
    check(ch == 1, "channels", "%u", ch);
    check(rate == 48000, "frequency", "%u", rate);

    GArray *pkts = read_payloads(payloads);
    check(pkts->len > 10, "payloads", "%u packets in %s", pkts->len, payloads);
    if (pkts->len == 0) return 1;

    /* 3. API contract on a separate context: size query; PLC for an empty payload. */
    {
        void *c2 = codec_init(h);
        packet_t *p0 = &g_array_index(pkts, packet_t, 0);
        size_t q = codec_decode(h, c2, p0->data, p0->len, NULL, NULL);
        check(q == (size_t)frame_samples * 2, "size query", "%zu bytes for a %ld-sample frame", q, frame_samples);
        GArray *tmp = g_array_new(FALSE, FALSE, sizeof(gint16));
        decode_one(h, c2, p0->data, p0->len, tmp);
        size_t plc = decode_one(h, c2, NULL, 0, tmp);
        check(plc == (size_t)frame_samples * 2, "PLC on an empty payload", "%zu bytes", plc);
        g_array_free(tmp, TRUE);
        codec_release(h, c2);
    }

    /* 4. The stream, in sequence order, PLC for missing sequence numbers (none expected). */
    GArray *pcm = g_array_new(FALSE, FALSE, sizeof(gint16));
    unsigned prev = 0, missing = 0, decoded_pkts = 0;
    for (guint i = 0; i < pkts->len; i++) {
        packet_t *p = &g_array_index(pkts, packet_t, i);
        if (i > 0) {
            unsigned gap = (p->seq - prev - 1) & 0xFFFF;
            if (gap < 1000) {
                for (unsigned k = 0; k < gap; k++, missing++) decode_one(h, ctx, NULL, 0, pcm);
            }
        }
        prev = p->seq;
        if (decode_one(h, ctx, p->data, p->len, pcm)) decoded_pkts++;
    }
    check(decoded_pkts == pkts->len, "decoded packets", "%u of %u (%u concealed)", decoded_pkts, pkts->len, missing);
    size_t want_len = (size_t)(pkts->len + missing) * (size_t)frame_samples;
    check(pcm->len == want_len, "length", "%u samples (want %zu)", pcm->len, want_len);
    if (wav) write_wav(wav, pcm, rate);

    size_t skip = (size_t)(skip_ms * rate / 1000.0);
    if (pcm->len > skip + rate / 10) {
        const gint16 *x = (const gint16 *)pcm->data + skip;
        size_t n = pcm->len - skip;
        /* coarse over the audio band on a 0.5 s window, then fine around the peak on all of it */
        size_t n1 = n < rate / 2 ? n : rate / 2;
        double f0 = best_frequency(x, n1, rate, 50, 4000, 1.0);
        double f = best_frequency(x, n, rate, f0 - 2, f0 + 2, 0.01);
        double amp = 0, res = 0;
        double p = sine_fit(x, n, f, rate, &amp, &res);
        double snr = 10 * log10(p / (res > 1e-9 ? res : 1e-9));
        check(fabs(f - freq) <= 2.0, "dominant frequency", "%.2f Hz (want %.2f +- 2)", f, freq);
        check(snr >= min_snr, "SNR", "%.1f dB (want >= %.1f) after %.0f ms", snr, min_snr, skip_ms);
        if (amplitude > 0)
            check(fabs(amp - amplitude) <= 0.15 * amplitude, "amplitude", "%.0f (want %.0f +- 15%%)", amp, amplitude);
    } else {
        check(0, "samples", "too few decoded samples (%u)", pcm->len);
    }

    for (guint i = 0; i < pkts->len; i++) g_free(g_array_index(pkts, packet_t, i).data);
    g_array_free(pkts, TRUE);
    g_array_free(pcm, TRUE);
    codec_release(h, ctx);
    codecs_cleanup();
    printf("%s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}
