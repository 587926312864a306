/* wacall_opus: an Opus codec plugin for Wireshark 4.0 (libopus), so that the RTP Player can
 * play, and "Export > Audio", the decrypted Opus streams of WhatsApp calls. Debian's Wireshark
 * 4.0 ships no Opus codec (only g711, g722, g726, g729, l16mono, sbc).
 *
 * Codec plugin ABI of 4.0 (wsutil/codecs.h): the loader finds plugin_version,
 * plugin_want_major/minor and plugin_register in a .so under <plugins>/4.0/codecs/;
 * plugin_register() hands a codecs_plugin to codecs_register_plugin(), and codecs_init() later
 * calls its register_codec_module(), which registers the decoder by name with register_codec().
 *
 * Names. ui/rtp_media.c:decode_rtp_packet() looks the codec up with find_codec() under the
 * stream's encoding name (rtp_info->info_payload_type_str, from the dynamic payload-type map:
 * the warp dissector announces PT 111 as "OPUS"/48000, an SDP rtpmap usually says "opus"), and
 * falls back to the static PT's short name. 4.0's codec table is a g_str_hash/g_str_equal hash,
 * so the lookup is case-sensitive: both spellings are registered. PT 120 ("WA-AUDIO") is not:
 * WhatsApp's default audio is MLow, a different codec sharing the stream with Opus frames
 * (shared/docs/spec-digest-wacrg.md §4.5-4.6; reference-digest table "120 = MLOW, or native
 * Opus at a 16 kHz clock"); libopus would turn MLow frames into noise.
 *
 * Output: 48 kHz (covers every Opus bandwidth; the player uses the codec's rate as the RTP clock,
 * which is right for RFC 7587's fixed 48 kHz clock) and ONE channel: 4.0's RTP player and its
 * audio export treat decoded buffers as mono samples (speex_resampler_init(1, ...), sample count =
 * bytes / 2), so a stereo stream is downmixed by libopus, as Wireshark's own later opus_dec does.
 *
 * Loss: an empty payload (or a packet libopus rejects) is a lost frame: libopus packet-loss
 * concealment fills the duration of the last good frame (20 ms before any), so the timeline
 * keeps its length. The player calls decode twice per packet, first without an output buffer to
 * size it; that query never touches the decoder state.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <opus.h>

#define WS_BUILD_DLL
#include <ws_symbol_export.h>
#include <ws_version.h>
#include <wsutil/codecs.h>

#ifndef WACALL_VERSION
#define WACALL_VERSION "0.0.0"
#endif

#define OPUS_RATE 48000
#define DEFAULT_FRAME_SAMPLES (OPUS_RATE / 50) /* 20 ms */
#define MAX_FRAME_SAMPLES (OPUS_RATE * 120 / 1000) /* the longest Opus packet: 120 ms */

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = WACALL_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

typedef struct {
    OpusDecoder *dec;
    int last_frame_samples; /* of the last good packet, at 48 kHz */
} opus_ctx_t;

static void *opus_codec_init(void)
{
    int err = OPUS_INTERNAL_ERROR;
    opus_ctx_t *ctx = g_new0(opus_ctx_t, 1);
    ctx->dec = opus_decoder_create(OPUS_RATE, 1, &err);
    if (err != OPUS_OK || !ctx->dec) {
        g_free(ctx);
        return NULL;
    }
    ctx->last_frame_samples = DEFAULT_FRAME_SAMPLES;
    return ctx;
}

static void opus_codec_release(void *context)
{
    opus_ctx_t *ctx = (opus_ctx_t *)context;
    if (!ctx) return;
    opus_decoder_destroy(ctx->dec);
    g_free(ctx);
}

static unsigned opus_codec_get_channels(void *context _U_)
{
    return 1;
}

static unsigned opus_codec_get_frequency(void *context _U_)
{
    return OPUS_RATE;
}

/* Samples per channel the packet decodes to, or -1 if libopus does not accept it. */
static int packet_samples(const opus_ctx_t *ctx, const unsigned char *data, size_t len)
{
    if (!data || len == 0 || len > 0x7FFFFFFF) return -1;
    int n = opus_decoder_get_nb_samples(ctx->dec, data, (opus_int32)len);
    return n > 0 && n <= MAX_FRAME_SAMPLES ? n : -1;
}

static size_t opus_codec_decode(void *context, const void *input, size_t input_len, void *output,
                                size_t *output_len)
{
    opus_ctx_t *ctx = (opus_ctx_t *)context;
    if (!ctx) return 0;
    const unsigned char *data = (const unsigned char *)input;
    int n = packet_samples(ctx, data, input_len);
    int lost = n < 0;
    if (lost) n = ctx->last_frame_samples;

    if (!output || !output_len) return (size_t)n * sizeof(opus_int16);
    if (*output_len < (size_t)n * sizeof(opus_int16)) return 0;

    opus_int16 *pcm = (opus_int16 *)output;
    int got = lost ? opus_decode(ctx->dec, NULL, 0, pcm, n, 0)
                   : opus_decode(ctx->dec, data, (opus_int32)input_len, pcm, n, 0);
    if (got < 0) { /* concealment failed too: keep the timeline with silence */
        memset(pcm, 0, (size_t)n * sizeof(opus_int16));
        got = n;
    } else if (!lost) {
        ctx->last_frame_samples = got;
    }
    *output_len = (size_t)got * sizeof(opus_int16);
    return *output_len;
}

static void register_opus_codecs(void)
{
    /* 4.0's codec table is case-sensitive: "opus" (SDP rtpmap, Wireshark's own opus_dec) and
     * "OPUS" (what the warp dissector announces for PT 111). */
    register_codec("opus", opus_codec_init, opus_codec_release, opus_codec_get_channels,
                   opus_codec_get_frequency, opus_codec_decode);
    register_codec("OPUS", opus_codec_init, opus_codec_release, opus_codec_get_channels,
                   opus_codec_get_frequency, opus_codec_decode);
}

void plugin_register(void)
{
    static codecs_plugin plug;
    plug.register_codec_module = register_opus_codecs;
    codecs_register_plugin(&plug);
}
