#!/usr/bin/python3
"""media-opus.pcap: a WARP call leg whose s2c audio is REAL Opus, so that the decoded audio is
known: a sine (440 Hz, amplitude 10000, 48 kHz mono) encoded with libopus in 20 ms frames,
sent as PT 111 (Opus RFC 7587, 48 kHz clock) under E2E SRTP exactly like media.py's streams
(same Call, RtpSender, 16-byte 0xDEBE speech header, key log and checks), plus the relay STUN
of the leg and an SRTCP SR+SDES every 1.5 s from the same sender.

The encoder is the system libopus (libopus.so.0) through ctypes: opus_encoder_create(48000, 1,
OPUS_APPLICATION_AUDIO), 64 kbit/s CBR, complexity 10. Its output is deterministic for a given
libopus build. The manifest entry's "opus" block holds the reference: SSRC, packet count, frame
length, the sine's frequency/amplitude/rate and the encoder's lookahead (start-up delay).

make_all.py calls make(); run alone, `media_opus.py OUTDIR` writes the capture, its key log and
OUTDIR/manifest-opus.json.
"""
import ctypes
import ctypes.util
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import media  # noqa: E402
import pcapw  # noqa: E402

SINE = {"freq_hz": 440.0, "amplitude": 10000, "sample_rate": 48000, "channels": 1}
FRAME_MS = 20
N_FRAMES = 150                       # 3 s
BITRATE = 64000
PT_OPUS = 111
SEQ0 = 40000
OPUS_APPLICATION_AUDIO = 2049
OPUS_SET_BITRATE_REQUEST, OPUS_SET_VBR_REQUEST, OPUS_SET_COMPLEXITY_REQUEST = 4002, 4006, 4010
OPUS_GET_LOOKAHEAD_REQUEST = 4027


class OpusEncoder:
    """Minimal ctypes binding of libopus's encoder (opus_encoder_create / _ctl / opus_encode)."""

    def __init__(self, rate, channels, bitrate):
        name = ctypes.util.find_library("opus") or "libopus.so.0"
        self.lib = lib = ctypes.CDLL(name)
        lib.opus_encoder_create.restype = ctypes.c_void_p
        lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.opus_encode.restype = ctypes.c_int32
        lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int,
                                    ctypes.c_char_p, ctypes.c_int32]
        lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_get_version_string.restype = ctypes.c_char_p
        err = ctypes.c_int(0)
        self.enc = lib.opus_encoder_create(rate, channels, OPUS_APPLICATION_AUDIO, ctypes.byref(err))
        if err.value != 0 or not self.enc:
            raise RuntimeError(f"opus_encoder_create failed: {err.value}")
        for req, val in ((OPUS_SET_BITRATE_REQUEST, bitrate), (OPUS_SET_VBR_REQUEST, 0),
                         (OPUS_SET_COMPLEXITY_REQUEST, 10)):
            rc = lib.opus_encoder_ctl(ctypes.c_void_p(self.enc), ctypes.c_int(req), ctypes.c_int32(val))
            if rc != 0:
                raise RuntimeError(f"opus_encoder_ctl({req}) failed: {rc}")
        la = ctypes.c_int32(0)
        lib.opus_encoder_ctl(ctypes.c_void_p(self.enc), ctypes.c_int(OPUS_GET_LOOKAHEAD_REQUEST), ctypes.byref(la))
        self.lookahead = la.value
        self.version = lib.opus_get_version_string().decode()

    def encode(self, pcm):
        n = len(pcm)
        buf = (ctypes.c_int16 * n)(*pcm)
        out = ctypes.create_string_buffer(1500)
        got = self.lib.opus_encode(ctypes.c_void_p(self.enc), buf, n, out, 1500)
        if got < 0:
            raise RuntimeError(f"opus_encode failed: {got}")
        return out.raw[:got]

    def close(self):
        self.lib.opus_encoder_destroy(ctypes.c_void_p(self.enc))


def sine_frames(n_frames=N_FRAMES, frame_ms=FRAME_MS, sine=SINE):
    """The reference signal, frame by frame (int16 samples)."""
    per = sine["sample_rate"] * frame_ms // 1000
    w = 2 * math.pi * sine["freq_hz"] / sine["sample_rate"]
    return [[round(sine["amplitude"] * math.sin(w * (k * per + i))) for i in range(per)] for k in range(n_frames)]


def encode_sine():
    enc = OpusEncoder(SINE["sample_rate"], SINE["channels"], BITRATE)
    try:
        return [enc.encode(f) for f in sine_frames()], enc.lookahead, enc.version
    finally:
        enc.close()


def build(call, trace, t_base_us, frames):
    """Relay STUN of the leg, the Opus stream s2c (20 ms, marker on the first packet) and SRTCP
    from its sender. Returns (sent per direction for the libsrtp cross-check, the RtpSender)."""
    rng = random.Random(7007)
    end_us = media.AUDIO_START_US + len(frames) * FRAME_MS * 1000 + 300_000
    media.stun_exchanges(call, rng, trace, t_base_us, end_us)
    sender = media.RtpSender(call, "s2c", 0, PT_OPUS, seq0=SEQ0)
    flow = media.Flow()
    ts_step = SINE["sample_rate"] * FRAME_MS // 1000
    for i, payload in enumerate(frames):
        wire, meta, plain = sender.packet(media.speech_hdr, payload, ts_step, marker=i == 0, pt=PT_OPUS)
        meta["header_form"] = "speech16"
        meta["_send_us"] = t_base_us + media.AUDIO_START_US + i * FRAME_MS * 1000 + rng.randrange(0, 2000)
        flow.add(meta["_send_us"], wire, meta, plain)
    sent = {"c2s": [], "s2c": [("rtp", p[3], p[1]) for p in flow.pkts]}
    for t_us, wire, meta, _ in flow.impair():
        trace.add(t_us, "s2c", wire, meta)
    rtcp = media.RtcpSender(call, "s2c", sender, flow)
    t = 1_750_000
    while t < end_us:
        t_us = t_base_us + t
        wire, meta, plain = rtcp.packet(["sr", "sdes"], t_us)
        sent["s2c"].append(("rtcp", plain, wire))
        trace.add(t_us, "s2c", wire, meta)
        t += 1_500_000
    return sent, sender


def make(outdir, manifest, selftests):
    """Writes media-opus.pcap and media-opus.keys; appends the manifest entry."""
    try:
        frames, lookahead, version = encode_sine()
    except OSError as e:  # no libopus.so.0
        selftests["media-opus.pcap"] = f"skipped ({e})"
        return None
    call = media.make_call(6006)
    trace = media.Trace(call.client, call.relay)
    sent, sender = build(call, trace, media.T0_US, frames)
    layout, metas, _ = trace.layout()
    pcapw.write_pcap(os.path.join(outdir, "media-opus.pcap"), layout)
    streams = media.stream_table(metas)
    by_number = {i: (ts, media._udp_payload(f)) for i, (ts, f) in enumerate(layout, 1)}
    selftests["media-opus.pcap: libsrtp"] = media.libsrtp_crosscheck(call, sent)
    selftests["media-opus.pcap: tshark rtp,streams"] = media.check_streams_with_tshark(call, metas, by_number, streams)
    media.verify_capture(call, metas, by_number)
    rtp = [m for m in metas if m["kind"] == "rtp"]
    assert [bytes.fromhex(m["payload_hex"]) for m in rtp] == frames, "Opus frames reordered or lost"
    media._write(outdir, "media-opus.keys", media.keylog_text(call, "media-opus.pcap: libopus sine, PT 111"))
    entry = media.capture_entry(
        "media-opus", "media-opus.pcap", "media-opus.keys", call,
        f"s2c Opus stream (PT 111) of a {SINE['freq_hz']:g} Hz sine encoded with libopus in {FRAME_MS} ms frames, "
        "E2E SRTP, relay STUN and SRTCP: the codec plugin must decode the decrypted payloads back to the sine",
        [media.public_meta(m) for m in metas], streams,
        opus={"ssrc": sender.ssrc, "ssrc_hex": f"0x{sender.ssrc:08x}", "pt": PT_OPUS, "frames": len(frames),
              "frame_ms": FRAME_MS, "frame_samples": SINE["sample_rate"] * FRAME_MS // 1000, "first_seq": SEQ0,
              "bitrate": BITRATE, "application": "OPUS_APPLICATION_AUDIO", "cbr": True,
              "encoder_lookahead_samples": lookahead, "libopus": version, "sine": dict(SINE),
              "client_port": call.client[1]})
    manifest["captures"].append(entry)
    selftests["media-opus.pcap"] = f"ok ({len(frames)} Opus frames, {version})"
    return entry


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: media_opus.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    m, st = {"captures": []}, {}
    make(out, m, st)
    m["selftests"] = st
    with open(os.path.join(out, "manifest-opus.json"), "w") as f:
        json.dump(m, f, indent=1)
    for k, v in st.items():
        print(f"{k}: {v}")
