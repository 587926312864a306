#!/usr/bin/python3
"""Media-plane capture generator: the relay's STUN dialect, WARP RTP/SRTCP with E2E SRTP,
SFrame and the group envelope, between one client and one relay, plus the key logs and a
manifest of what the plugin must show for every UDP frame.

Independent of the plugin's C++ (crypto in srtp_ref.py, wire formats in warp_wire.py, both
written from the docs and pinned to their vectors). make_all.py calls make_captures(); run
alone, `media.py OUTDIR` writes the media captures and OUTDIR/manifest.json.

Everything is deterministic: fixed seeds, fixed clocks, integer-microsecond timestamps.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pcapw  # noqa: E402
import srtp_ref as sr  # noqa: E402
import warp_wire as ww  # noqa: E402

CLIENT = ("192.0.2.10", 50000)
RELAY = ("198.51.100.7", 3478)
T0_US = 1_700_000_000_000_000
SFRAME_FIRST_COUNTER = 125      # crosses 127 inside the burst: 1- and 2-byte varint headers


# ---- the call ------------------------------------------------------------------------------

class Call:
    """A 1:1 call as the media plane sees it. `self_jid` is the captured client's device, the
    sender of c2s media; `peer_jid` is the other device, whose media the relay forwards s2c.
    The jids are kept as written in the key log; participant ids are their normalised form."""

    def __init__(self, call_id, call_key, self_jid, peer_jid, relay_key_text, relay_token, tag_len,
                 client=CLIENT, relay=RELAY):
        self.client, self.relay = client, relay
        self.call_id, self.call_key = call_id, call_key
        self.self_jid, self.peer_jid = self_jid, peer_jid
        self.relay_key_text, self.relay_token, self.tag_len = relay_key_text, relay_token, tag_len
        self.keys = {"c2s": sr.SenderKeys(call_key, self_jid), "s2c": sr.SenderKeys(call_key, peer_jid)}
        self.ssrcs = {d: sr.participant_ssrcs(call_id, k.pid) for d, k in self.keys.items()}
        # SFrame on s2c: the peer seals with the key of the RECEIVER (the captured client).
        self.sframe_key = sr.sframe_key(call_key, self_jid)

    @property
    def mi_key(self) -> bytes:
        return self.relay_key_text.encode("ascii")

    def participants_json(self):
        return {d: {"jid": j, "participant": self.keys[d].pid,
                    "ssrcs": {sr.SLOT_NAMES[w]: s for w, s in self.ssrcs[d].items()}}
                for d, j in (("c2s", self.self_jid), ("s2c", self.peer_jid))}


def make_call(seed: int, tag_len: int = 4, call_id: str = None) -> Call:
    rng = random.Random(seed)
    cid = call_id or rng.randbytes(16).hex().upper()
    return Call(cid, rng.randbytes(32), "48213377210045@lid", "39517204881230:7@lid",
                base64.b64encode(rng.randbytes(16)).decode(), rng.randbytes(16), tag_len)


# ---- collecting datagrams --------------------------------------------------------------------

class Trace:
    """UDP datagrams with their manifest metadata. Frame numbers are assigned when the capture
    is laid out (sorted by time), so builders may emit in any order."""

    def __init__(self, client=CLIENT, relay=RELAY):
        self.items, self.client, self.relay = [], client, relay

    def add(self, t_us, direction, payload, meta):
        self.items.append((t_us, len(self.items), direction, payload, meta))

    def layout(self, extra_frames=()):
        """Returns (pcap frames [(ts, bytes)], metas with 'frame' set, frame number of each extra
        frame in input order). extra_frames: already built (ts_float, bytes) frames, e.g.
        signaling TCP, merged by time (an extra frame goes first on a tie)."""
        rows = [(round(ts * 1e6), -1, i, fr, None) for i, (ts, fr) in enumerate(extra_frames)]
        for t_us, order, direction, payload, meta in self.items:
            src, dst = (self.client, self.relay) if direction == "c2s" else (self.relay, self.client)
            fr = pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)
            meta = dict(meta, direction=direction, src=f"{src[0]}:{src[1]}", dst=f"{dst[0]}:{dst[1]}",
                        time_us=t_us, udp_len=len(payload))
            rows.append((t_us, 0, order, fr, meta))
        rows.sort(key=lambda r: r[:3])
        frames, metas, extra_numbers = [], [], [0] * len(extra_frames)
        for n, (t_us, _, order, fr, meta) in enumerate(rows, 1):
            frames.append((t_us / 1e6, fr))
            if meta is None:
                extra_numbers[order] = n
            else:
                meta["frame"] = n
                metas.append(meta)
        return frames, metas, extra_numbers


# ---- RTP senders -----------------------------------------------------------------------------

class RtpSender:
    """One SSRC of one participant: sequence, timestamp and ROC as the sender keeps them (ROC
    increments when seq wraps), and E2E protection with that participant's keys."""

    def __init__(self, call: Call, direction: str, slot_word: int, pt: int, seq0: int, ts0: int = 0):
        self.call, self.direction, self.slot_word, self.pt = call, direction, slot_word, pt
        self.keys = call.keys[direction]
        self.ssrc = call.ssrcs[direction][slot_word]
        self.seq, self.ts, self.roc = seq0, ts0, 0

    def packet(self, header_fn, payload: bytes, ts_step: int, marker=False, sframe_counter=None, **hdr_kw):
        """Builds and protects the next packet; returns (wire, meta, plain_rtp)."""
        header = header_fn(seq=self.seq, ts=self.ts, ssrc=self.ssrc, marker=marker, **hdr_kw)
        inner = payload
        if sframe_counter is not None:
            payload = sr.sframe_encrypt(self.call.sframe_key, sframe_counter, inner)
        plain = header + payload
        wire = sr.protect_rtp(self.keys.rtp, plain, self.roc, self.call.tag_len)
        meta = {"kind": "rtp", "ssrc": self.ssrc, "seq": self.seq, "ts": self.ts, "pt": self.pt,
                "marker": bool(marker), "participant": self.keys.pid, "slot": sr.SLOT_NAMES[self.slot_word],
                "slot_word": self.slot_word, "roc": self.roc, "index": (self.roc << 16) | self.seq,
                "header_len": len(header), "tag_len": self.call.tag_len, "tag_valid": True,
                "expect_decrypted": True, "payload_hex": inner.hex(), "srtp_payload_hex": payload.hex(),
                "sframe": None if sframe_counter is None else
                {"counter": sframe_counter, "key_participant": sr.participant_id(self.call.self_jid)},
                "envelope_len": None, "_payload_len": len(payload)}
        self.seq = (self.seq + 1) & 0xFFFF
        if self.seq == 0:
            self.roc += 1
        self.ts = (self.ts + ts_step) & 0xFFFFFFFF
        return wire, meta, plain


def speech_hdr(seq, ts, ssrc, marker, pt):
    return ww.speech_header(pt, seq, ts, ssrc, marker)


def dtx_hdr(seq, ts, ssrc, marker, pt):
    return ww.dtx_header(pt, seq, ts, ssrc, marker)


def video_hdr(seq, ts, ssrc, marker, pt, **kw):
    return ww.video_header(seq, ts, ssrc, marker, pt=pt, **kw)


# Audio codecs of the two directions: MLOW at the 16 kHz clock (PT 120) and Opus RFC 7587
# (PT 111, 48 kHz). The frame bytes are random behind a plausible first byte: MLOW 60 ms TOCs
# are 0x50..0x57 and its DTX has (b0 & 0xC0) == 0x80; Opus DTX is <= 2 bytes.
AUDIO = {
    "mlow16k": {"pt": 120, "ts_step": 960,
                "speech": lambda r: bytes([0x50 + r.randrange(8)]) + r.randbytes(r.randrange(30, 90)),
                "dtx": lambda r: bytes([0x88]) + r.randbytes(r.randrange(0, 3))},
    "opus48k": {"pt": 111, "ts_step": 2880,
                "speech": lambda r: bytes([0xFB, 0x03]) + r.randbytes(r.randrange(40, 110)),
                "dtx": lambda r: bytes([0xF8])},
}


class Flow:
    """Packets of one stream in send order, as (t_us, wire, meta, plain), before the network."""

    def __init__(self):
        self.pkts = []

    def add(self, t_us, wire, meta, plain):
        self.pkts.append([t_us, wire, meta, plain])

    def impair(self, drop=(), swap=(), forge=(), envelope=None, filler=b""):
        """Network and test effects by send index: swap exchanges the arrival times of i and i+1,
        forge flips a ciphertext byte after protection, envelope wraps in a 0x09 header of the
        given length. Returns the packets that reach the capture."""
        for i in swap:
            self.pkts[i][0], self.pkts[i + 1][0] = self.pkts[i + 1][0], self.pkts[i][0]
        for i in forge:
            t, wire, meta, plain = self.pkts[i]
            w = bytearray(wire)
            w[meta["header_len"]] ^= 0x01
            meta.update(tag_valid=False, expect_decrypted=False, payload_hex=None, srtp_payload_hex=None,
                        forged=True, original_payload_hex=meta["payload_hex"])
            self.pkts[i][1] = bytes(w)
        for i, hl in (envelope or {}).items():
            self.pkts[i][1] = ww.group_envelope(self.pkts[i][1], hl, filler)
            self.pkts[i][2]["envelope_len"] = hl
        return [p for i, p in enumerate(self.pkts) if i not in set(drop)]


def audio_flow(sender: RtpSender, codec: dict, rng, t_start_us, n, dtx_range, offset_us) -> Flow:
    """n packets at 60 ms with a little jitter; DTX (20-byte header) inside dtx_range; the marker
    is on the first packet and on the first speech packet after DTX."""
    flow, prev_dtx = Flow(), False
    for i in range(n):
        is_dtx = i in dtx_range
        marker = i == 0 or (prev_dtx and not is_dtx)
        payload = codec["dtx" if is_dtx else "speech"](rng)
        wire, meta, plain = sender.packet(dtx_hdr if is_dtx else speech_hdr, payload, codec["ts_step"],
                                          marker=marker, pt=codec["pt"])
        meta["header_form"] = "dtx20" if is_dtx else "speech16"
        meta["_send_us"] = t_start_us + offset_us + i * 60_000 + rng.randrange(0, 4000)
        flow.add(meta["_send_us"], wire, meta, plain)
        prev_dtx = is_dtx
    return flow


def h264_access_units(rng, n_delta):
    """[(is_idr, [nal, ...])]: one IDR access unit (SPS, PPS, a large IDR slice) then deltas."""
    aus = [(True, [b"\x67\x42\xc0\x1f" + rng.randbytes(8), b"\x68\xce\x3c\x80",
                   b"\x65" + rng.randbytes(1900)])]
    aus += [(False, [b"\x41" + rng.randbytes(rng.randrange(150, 1300))]) for _ in range(n_delta)]
    return aus


def rfc6184_packets(nal: bytes, max_payload=800):
    """Single NAL unit if it fits, else FU-A fragments of 798 bytes (as h264.rs sends)."""
    if len(nal) <= max_payload:
        return [nal]
    ind, typ, body = (nal[0] & 0xE0) | 28, nal[0] & 0x1F, nal[1:]
    chunks = [body[i:i + max_payload - 2] for i in range(0, len(body), max_payload - 2)]
    return [bytes([ind, (0x80 if k == 0 else 0) | (0x40 if k == len(chunks) - 1 else 0) | typ]) + c
            for k, c in enumerate(chunks)]


def video_flow(sender: RtpSender, rng, t_start_us, n_delta, sframe: bool) -> Flow:
    """A burst at 15 fps (ts += 6000): marker on the last packet of each access unit, frame
    info 0x09 on the IDR unit and 0x01 on deltas, a per-sender transport sequence."""
    flow, tseq, counter = Flow(), rng.randrange(0x0100, 0xF000), SFRAME_FIRST_COUNTER
    t = t_start_us
    for au_i, (idr, nals) in enumerate(h264_access_units(rng, n_delta)):
        payloads = [p for nal in nals for p in rfc6184_packets(nal)]
        for k, p in enumerate(payloads):
            last = k == len(payloads) - 1
            ext = {"frame_info": ww.VIDEO_IDR if idr else ww.VIDEO_DELTA,
                   "bandwidth": 500 if au_i == 0 and k == 0 else 0, "offset": 3 * k + au_i, "tseq": tseq}
            wire, meta, plain = sender.packet(video_hdr, p, 0, marker=last, pt=97,
                                              sframe_counter=counter if sframe else None, **ext)
            meta.update(header_form="video28", video=dict(ext, idr=idr))
            flow.add(t, wire, meta, plain)
            t += 1_500
            tseq = (tseq + 1) & 0xFFFF
            counter += 1 if sframe else 0
        sender.ts = (sender.ts + 6000) & 0xFFFFFFFF
        t += 66_667 - 1_500 * len(payloads)
    return flow


def app_data_flow(sender: RtpSender, t_start_us, emojis) -> Flow:
    """PT 119 reactions, ts stride 50, the 16-byte header."""
    flow = Flow()
    for i, e in enumerate(emojis):
        wire, meta, plain = sender.packet(speech_hdr, ww.reaction(i + 1, e), 50, pt=119)
        meta["header_form"] = "speech16"
        flow.add(t_start_us + i * 500_000, wire, meta, plain)
    return flow


# ---- RTCP ------------------------------------------------------------------------------------

class RtcpSender:
    """SRTCP of one participant: sender SSRC = its audio SSRC, E2E SRTCP keys, index from 1."""

    def __init__(self, call: Call, direction: str, audio: RtpSender, audio_flow: Flow):
        self.call, self.direction, self.audio, self.audio_flow = call, direction, audio, audio_flow
        self.keys = call.keys[direction]
        self.ssrc = audio.ssrc
        self.remote = call.ssrcs["s2c" if direction == "c2s" else "c2s"][0]
        self.index = 0
        self.cname = ww.cname_from_entropy(random.Random(self.ssrc).randbytes(12))

    def sent_by(self, t_us):
        """(RTP ts of the last audio packet sent, packets, payload octets) at t_us: the SR's view."""
        sent = [p[2] for p in self.audio_flow.pkts if p[2]["_send_us"] <= t_us]
        return (sent[-1]["ts"] if sent else 0, len(sent), sum(m["_payload_len"] for m in sent))

    def packet(self, parts, t_us):
        """parts: list of 'sr', 'sdes', 'sdes_empty', '208', '209'. Returns (wire, meta, plain)."""
        build = {"sr": lambda: ww.rtcp_sr(self.ssrc, t_us // 1000, *self.sent_by(t_us)),
                 "sdes": lambda: ww.rtcp_sdes(self.ssrc, self.cname),
                 "sdes_empty": lambda: ww.rtcp_sdes(self.ssrc),
                 "208": lambda: ww.rtcp_compact208(self.ssrc, self.remote),
                 "209": lambda: ww.rtcp_compact209(self.ssrc)}
        plain = b"".join(build[p]() for p in parts)
        self.index += 1
        wire = sr.protect_srtcp(self.keys.rtcp, plain, self.index)
        meta = {"kind": "rtcp", "ssrc": self.ssrc, "participant": self.keys.pid, "slot": "audio", "slot_word": 0,
                "srtcp_index": self.index, "rtcp_pts": [plain[o + 1] for o in _rtcp_offsets(plain)],
                "tag_len": sr.SRTCP_TAG_LEN, "tag_valid": True, "expect_decrypted": True,
                "plaintext_hex": plain.hex()}
        return wire, meta, plain


def _rtcp_offsets(compound: bytes):
    o = 0
    while o < len(compound):
        yield o
        o += 4 + 4 * struct.unpack_from(">H", compound, o + 2)[0]


def forge_rtcp(wire: bytes, meta: dict) -> bytes:
    """Flips the first encrypted byte; the SRTCP tag no longer verifies."""
    meta.update(tag_valid=False, expect_decrypted=False, forged=True,
                original_plaintext_hex=meta["plaintext_hex"], plaintext_hex=None)
    w = bytearray(wire)
    w[8] ^= 0x01
    return bytes(w)


# ---- STUN ------------------------------------------------------------------------------------

def stun_meta(msg: bytes, integrity: str, fingerprint: str, **extra) -> dict:
    mtype, _ = struct.unpack_from(">HH", msg)
    attrs, o = [], 20
    while o < len(msg):
        t, ln = struct.unpack_from(">HH", msg, o)
        attrs.append(t)
        o += 4 + ln + (-ln % 4)
    return dict({"kind": "stun", "stun_type": mtype, "txid": msg[8:20].hex(), "attrs": attrs,
                 "integrity": integrity, "fingerprint": fingerprint}, **extra)


def stun_exchanges(call: Call, rng, trace: Trace, t_base_us, t_end_us):
    """Relay STUN of the client's leg: a rejected Allocate (stale token, 0x0113 401), the
    accepted Allocate and its Success, keepalives every second (the identical Allocate re-sent,
    ping/pong), two relay Binding Requests with answers; one request carries a wrong
    FINGERPRINT and its answer a wrong MESSAGE-INTEGRITY."""
    key = call.mi_key
    own = call.ssrcs["c2s"]
    ssrcs = [own[w] for w in sr.SLOT_WORDS]

    def emit(t_rel_us, direction, msg, integrity, fingerprint, **extra):
        trace.add(t_base_us + t_rel_us, direction, msg, stun_meta(msg, integrity, fingerprint, **extra))

    stale = ww.wasm_allocate(rng.randbytes(12), rng.randbytes(16), ssrcs, *call.relay, key)
    emit(0, "c2s", stale, "good", "absent", note="allocate with a stale token (WASM shape, no FINGERPRINT)")
    err = ww.stun_message(ww.ALLOCATE_ERROR, stale[8:20], [ww.error_code(401, "Unauthorized")], fingerprint=True)
    emit(30_000, "s2c", err, "absent", "good", error_code=401)

    alloc = ww.wasm_allocate(rng.randbytes(12), call.relay_token, ssrcs, *call.relay, key, fingerprint=True)
    success = ww.stun_message(ww.ALLOCATE_SUCCESS, alloc[8:20],
                              [ww.stun_attr(ww.ATTR_XOR_MAPPED_ADDRESS, ww.xor_address(*call.client))], key, True)
    emit(100_000, "c2s", alloc, "good", "good")
    emit(130_000, "s2c", success, "good", "good")
    t = 1_100_000
    while t < t_end_us:
        ping = ww.stun_message(ww.WA_PING, rng.randbytes(12))
        emit(t, "c2s", alloc, "good", "good", note="keepalive: identical Allocate (same txid)")
        emit(t + 1_000, "c2s", ping, "absent", "absent")
        emit(t + 15_000, "s2c", ww.stun_message(ww.WA_PONG, ping[8:20]), "absent", "absent")
        emit(t + 21_000, "s2c", success, "good", "good")
        t += 1_000_000
    for t_req, bad in ((2_500_000, False), (8_500_000, True)):
        req = ww.stun_message(ww.BINDING_REQUEST, rng.randbytes(12), (), key, True, corrupt_fp=bad)
        emit(t_req, "s2c", req, "good", "bad" if bad else "good")
        ans = ww.stun_message(ww.BINDING_SUCCESS, req[8:20], (), key, True, corrupt_mi=bad)
        emit(t_req + 2_000, "c2s", ans, "bad" if bad else "good", "good")


# ---- the media of one call ------------------------------------------------------------------

AUDIO_START_US = 500_000

# FULL: every effect the plugin must cope with. CLEAN: the README sample, a short tidy call.
FULL = dict(n_audio=300, c2s_seq0=65500, impair=True, video_c2s_s=6.0, video_s2c_s=9.0, app_s=12.0)
CLEAN = dict(n_audio=140, c2s_seq0=1, impair=False, video_c2s_s=3.0, video_s2c_s=5.0, app_s=7.0)


def media_duration_us(scenario) -> int:
    return AUDIO_START_US + scenario["n_audio"] * 60_000


def build_call_media(call: Call, seed: int, trace: Trace, t_base_us: int = T0_US, scenario=None):
    """Lays the relay leg of `call` into `trace`, starting at t_base_us. Returns each sender's
    plain packets in send order (for the libsrtp cross-check):
    {direction: [(kind, plain, wire before network effects)]}."""
    sc = scenario or FULL
    rng = random.Random(seed)
    n, end_us = sc["n_audio"], media_duration_us(sc)
    stun_exchanges(call, rng, trace, t_base_us, end_us)
    sent = {"c2s": [], "s2c": []}
    audio = {"c2s": RtpSender(call, "c2s", 0, 120, seq0=sc["c2s_seq0"]),
             "s2c": RtpSender(call, "s2c", 0, 111, seq0=1)}
    # FULL c2s: wraps after 36 packets; loss, reorders (one across the wrap), one forged tag.
    # FULL s2c: loss of a run, a reorder, three packets in group envelopes of 8/12/18 bytes.
    effects = ({"c2s": dict(drop=(50, 51, 170), swap=(35, 140), forge=(250,)),
                "s2c": dict(drop=(80, 200, 201, 202), swap=(120,), envelope={150: 8, 160: 12, 161: 18},
                            filler=rng.randbytes(16))}
               if sc["impair"] else {"c2s": {}, "s2c": {}})
    flows = [
        ("c2s", audio_flow(audio["c2s"], AUDIO["mlow16k"], rng, t_base_us + AUDIO_START_US, n,
                           range(n // 3, n // 3 + 20), 0), effects["c2s"]),
        ("s2c", audio_flow(audio["s2c"], AUDIO["opus48k"], rng, t_base_us + AUDIO_START_US, n,
                           range(3 * n // 5, 3 * n // 5 + 20), 23_000), effects["s2c"]),
        ("c2s", video_flow(RtpSender(call, "c2s", 2, 97, seq0=0), rng, t_base_us + round(sc["video_c2s_s"] * 1e6),
                           6, sframe=False), {}),
        ("s2c", video_flow(RtpSender(call, "s2c", 2, 97, seq0=0), rng, t_base_us + round(sc["video_s2c_s"] * 1e6),
                           6, sframe=True), {}),
        ("c2s", app_data_flow(RtpSender(call, "c2s", 6, 119, seq0=1), t_base_us + round(sc["app_s"] * 1e6),
                              ["\U0001F44D", "\u2764\ufe0f", "\U0001F602"]), {}),
    ]
    for direction, flow, eff in flows:
        sent[direction] += [("rtp", p[3], p[1]) for p in flow.pkts]
        for t_us, wire, meta, _ in flow.impair(**eff):
            trace.add(t_us, direction, wire, meta)
    rtcp_schedule(call, {d: (audio[d], flows[i][1]) for i, d in ((0, "c2s"), (1, "s2c"))}, trace, sent,
                  t_base_us, end_us, forge=sc["impair"])
    return sent


def rtcp_schedule(call, audio, trace, sent, t_base_us, end_us, forge):
    """Per participant: 209 and an SDES at session start, then SR+SDES every 1.5 s and a 208
    every 3 s; with `forge`, the second c2s 208 is forged. audio: {direction: (RtpSender, Flow)}."""
    for direction, skew in (("c2s", 0), ("s2c", 7_000)):
        tx = RtcpSender(call, direction, *audio[direction])
        plan = [(200_000, ["209"]), (210_000, ["sdes_empty"])]
        t = 1_750_000
        while t < end_us:
            plan.append((t, ["sr", "sdes"]))
            if (t - 1_750_000) % 3_000_000 == 0:
                plan.append((t + 5_000, ["208"]))
            t += 1_500_000
        n208 = 0
        for t_rel, parts in plan:
            t_us = t_base_us + t_rel + skew
            wire, meta, plain = tx.packet(parts, t_us)
            sent[direction].append(("rtcp", plain, wire))
            n208 += parts == ["208"]
            if forge and direction == "c2s" and parts == ["208"] and n208 == 2:
                wire = forge_rtcp(wire, meta)
            trace.add(t_us, direction, wire, meta)


# ---- what -z rtp,streams will say ------------------------------------------------------------

def stock_wireshark_version():
    """(major, minor) of the stock tshark the model is checked against, (4, 0) without one."""
    global _STOCK_VERSION
    if _STOCK_VERSION is None:
        _STOCK_VERSION = (4, 0)
        try:
            out = subprocess.run(STOCK_TSHARK + ["-v"], capture_output=True, text=True, check=True).stdout
            m = re.search(r"\b(\d+)\.(\d+)\.\d+", out)
            if m:
                _STOCK_VERSION = (int(m.group(1)), int(m.group(2)))
        except (OSError, subprocess.CalledProcessError):
            pass
    return _STOCK_VERSION


_STOCK_VERSION = None


def rtp_stream_stats(pkts, version=None):
    """Packets/lost as Wireshark's rtppacket_analyse() (ui/tap-rtp-analysis.c) computes them for
    -z rtp,streams; it changed after 4.0, so the model follows the stock tshark in use.

    4.0: lost = expected - received, expected = stop_seq + 65536·cycles - start_seq + 1, where
    stop_seq is the LAST packet's seq (not the highest) and a cycle is counted whenever a packet
    has seq < start_seq while the `under` flag is clear; a packet with seq > start_seq clears it.
    4.0 does not look at timestamps here, so a reorder across the wrap (…65534, 0, 65535, 1…)
    counts two cycles and reports ~65536 extra lost.
    4.4 and 4.6: the RTP dissector's extended sequence number (each seq unwrapped to within half
    the space of the previous packet's) replaces the cycle count: expected = ext(last) -
    ext(first) + 1. Both verified against stock tshark (4.0.17, 4.4.19, 4.6.9) by
    check_streams_with_tshark(). pkts: [(seq, ts)] in frame order."""
    version = version or stock_wireshark_version()
    start = stop = None
    cycles, under, total = 0, False, 0
    ext_first = ext = None
    for seq, _ts in pkts:
        total += 1
        ext = seq + 0x10000 if ext is None else ext + ((seq - (ext & 0xFFFF) + 0x8000) & 0xFFFF) - 0x8000
        if ext_first is None:
            ext_first = ext
        if start is None:
            start = stop = seq
            continue
        if seq < start and not under:
            cycles, under = cycles + 1, True
        elif seq == 0 and stop == 65535 and not under:
            cycles, under = cycles + 1, True
        elif seq > start and under:
            under = False
        stop = seq
    if start is None:
        return {"packets": 0, "lost": 0, "first_seq": None, "last_seq": None, "seq_cycles": 0}
    if version >= (4, 2):
        expected = ext - ext_first + 1
        cycles = (ext >> 16) - (ext_first >> 16)
    else:
        expected = stop + 65536 * cycles - start + 1
    return {"packets": total, "lost": expected - total, "first_seq": start, "last_seq": stop,
            "seq_cycles": cycles}


def actual_lost(metas):
    """Sequence numbers the sender sent that never show up decrypted (extended by ROC)."""
    idx = sorted(m["index"] for m in metas)
    return idx[-1] - idx[0] + 1 - len(set(idx)) if idx else 0


def stream_table(metas):
    """Per (direction, SSRC): the expected -z rtp,streams row of the stock tshark in use. `packets`/`lost` count
    only frames the plugin decrypts; *_all_headers count every RTP header (what -z rtp,streams
    shows: the plugin hands packets left encrypted to RTP as SRTP, with or without keys); lost_actual is the true number of missing indexes (differs from `lost` where 4.0's
    cycle heuristic misfires, see rtp_stream_stats)."""
    streams = {}
    for m in metas:
        if m["kind"] == "rtp":
            streams.setdefault((m["direction"], m["ssrc"]), []).append(m)
    out = []
    for (direction, ssrc), ms in sorted(streams.items(), key=lambda kv: kv[1][0]["frame"]):
        decrypted = [m for m in ms if m["expect_decrypted"]]
        good = rtp_stream_stats([(m["seq"], m["ts"]) for m in decrypted])
        every = rtp_stream_stats([(m["seq"], m["ts"]) for m in ms])
        out.append(dict(good, direction=direction, src=ms[0]["src"], dst=ms[0]["dst"], ssrc=ssrc,
                        ssrc_hex=f"0x{ssrc:08x}", pt=ms[0]["pt"], participant=ms[0]["participant"],
                        slot=ms[0]["slot"], lost_actual=actual_lost(decrypted),
                        packets_all_headers=every["packets"], lost_all_headers=every["lost"]))
    return out


# Stock Wireshark, never one that loads an installed wacall (scripts/demo.sh installs it system-wide
# as root): the project's runner gives tshark an empty plugin folder and a configuration of its own.
STOCK_TSHARK = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "tshark-stock.sh")]


def check_streams_with_tshark(call, metas, frames_by_number, expected):
    """Stock tshark's own -z rtp,streams on a capture of only the RTP frames (envelopes removed,
    decoded as RTP by port) must give the counts of stream_table(). Skipped without tshark."""
    try:
        subprocess.run(STOCK_TSHARK + ["-v"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "skipped (no tshark)"
    rows = []
    for m in metas:
        if m["kind"] != "rtp" or not m["expect_decrypted"]:
            continue
        ts, payload = frames_by_number[m["frame"]]
        payload = payload[m["envelope_len"] or 0:]
        src, dst = (call.client, call.relay) if m["direction"] == "c2s" else (call.relay, call.client)
        rows.append((ts, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rtp-only.pcap")
        pcapw.write_pcap(path, rows)
        out = subprocess.run(STOCK_TSHARK + ["-r", path, "-q", "-d", f"udp.port=={call.client[1]},rtp", "-z", "rtp,streams"],
                             capture_output=True, text=True, check=True).stdout
    got = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) > 10 and f[6].startswith("0x"):
            got[(f[2], int(f[3]), int(f[6], 16))] = (int(f[8]), int(f[9]))
    want = {(s["src"].split(":")[0], int(s["src"].split(":")[1]), s["ssrc"]): (s["packets"], s["lost"])
            for s in expected}
    assert got == want, f"rtp,streams mismatch:\n tshark {got}\n model  {want}\n{out}"
    return f"ok ({len(want)} streams)"


def check_fingerprints_with_tshark(path, metas):
    """Stock Wireshark verifies STUN FINGERPRINT itself (stun.att.crc32.status, 1 good / 0 bad);
    every message it dissects must agree with the manifest. It skips the 0x08xx ping/pong."""
    try:
        out = subprocess.run(STOCK_TSHARK + ["-r", path, "-Y", "stun.att.crc32", "-T", "fields", "-e", "frame.number",
                              "-e", "stun.att.crc32.status"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "skipped (no tshark)"
    got = {int(a): {"1": "good", "0": "bad"}[b] for a, b in (line.split() for line in out.splitlines())}
    want = {m["frame"]: m["fingerprint"] for m in metas if m["kind"] == "stun" and m["fingerprint"] != "absent"}
    assert got == want, f"stun fingerprint mismatch: tshark {got} manifest {want}"
    return f"ok ({len(got)} messages)"


# ---- cross-check with libsrtp ---------------------------------------------------------------

def libsrtp_crosscheck(call: Call, sent) -> str:
    """Protects every plain packet of each sender, in send order, with libsrtp keyed by master
    key ‖ master salt: AES_CM_128_HMAC_SHA1_32 (tag 4) or _80 (tag 10) for RTP, and SRTCP
    (HMAC-SHA1-80, index from 1) for RTCP. Every byte must equal what srtp_ref produced."""
    try:
        import pylibsrtp
    except ImportError:
        return "skipped (no pylibsrtp)"
    profile = {4: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
               10: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80}.get(call.tag_len)
    n = 0
    for direction, pkts in sent.items():
        policy = pylibsrtp.Policy(key=call.keys[direction].libsrtp_key,
                                  ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                  srtp_profile=profile or pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        session = pylibsrtp.Session(policy)
        for kind, plain, wire in pkts:
            if kind == "rtp" and profile is None:
                continue
            got = session.protect(plain) if kind == "rtp" else session.protect_rtcp(plain)
            assert got == wire, f"libsrtp differs ({direction} {kind}): {got.hex()} != {wire.hex()}"
            n += 1
    return f"ok ({n} packets byte-identical)"


# ---- key logs and captures --------------------------------------------------------------------

def keylog_text(call: Call, title: str, call_key: bytes = None, tag_len_line=False) -> str:
    """Contract key log plus our extensions. Upper-case hex and a tab separator on purpose:
    the contract accepts both."""
    ck = (call_key or call.call_key).hex().upper()
    lines = [f"# {title}", "# generated by test-pcaps/gen/media.py; contract.md format plus WA_RELAY_KEY and",
             "# WA_WARP_TAG_LEN (extensions). The first participant is bare NNN@lid (normalised to NNN:0@lid).",
             f"WA_CALL_KEY {call.call_id} {ck}",
             f"WA_PARTICIPANT\t{call.call_id}\t{call.self_jid}",
             f"WA_PARTICIPANT {call.call_id} {call.peer_jid}",
             f"WA_RELAY_KEY {call.call_id} {call.relay_key_text}"]
    if tag_len_line:
        lines.append(f"WA_WARP_TAG_LEN {call.call_id} {call.tag_len}")
    return "\n".join(lines) + "\n"


def keylog_json(call: Call) -> str:
    return json.dumps({"call_id": call.call_id, "call_key_hex": call.call_key.hex(),
                       "self_lid": call.self_jid, "peer_lid": call.peer_jid}) + "\n"


def public_meta(m):
    return {k: v for k, v in m.items() if not k.startswith("_")}


def write_media_capture(outdir, name, call: Call, seed: int, selftests: dict, extra_frames=(), t_base_us=T0_US,
                        scenario=None):
    """Builds, writes and checks one call's media capture (merged with extra_frames, e.g. the
    signaling); returns (metas, streams, frame numbers of the extra frames)."""
    trace = Trace(call.client, call.relay)
    sent = build_call_media(call, seed, trace, t_base_us, scenario)
    frames, metas, extra_numbers = trace.layout(extra_frames)
    pcapw.write_pcap(os.path.join(outdir, name), frames)
    streams = stream_table(metas)
    by_number = {i: fr for i, fr in enumerate(((ts, _udp_payload(f)) for ts, f in frames), 1)}
    selftests[f"{name}: libsrtp"] = libsrtp_crosscheck(call, sent)
    with ThreadPoolExecutor(2) as pool:  # two tshark start-ups overlap: most of the run time
        rtp = pool.submit(check_streams_with_tshark, call, metas, by_number, streams)
        fp = pool.submit(check_fingerprints_with_tshark, os.path.join(outdir, name), metas)
        selftests[f"{name}: tshark rtp,streams"] = rtp.result()
        selftests[f"{name}: tshark stun fingerprint"] = fp.result()
    verify_capture(call, metas, by_number)
    return [public_meta(m) for m in metas], streams, extra_numbers


def _udp_payload(frame: bytes) -> bytes:
    """Ethernet + IPv4 (20 bytes, no options, as pcapw writes) + UDP header."""
    return frame[14 + 20 + 8:]


def stun_status(msg: bytes, key: bytes):
    """(integrity, fingerprint) of a STUN message read back from its bytes, each good / bad /
    absent: a parse independent of stun_message(), so the manifest's statuses are checked."""
    status, o = {"integrity": "absent", "fingerprint": "absent"}, 20
    while o < len(msg):
        atype, ln = struct.unpack_from(">HH", msg, o)
        if atype == ww.ATTR_MESSAGE_INTEGRITY:
            pseudo = msg[:2] + struct.pack(">H", o - 20 + 24) + msg[4:o]
            good = hmac.new(key, pseudo, hashlib.sha1).digest() == msg[o + 4:o + 24]
            status["integrity"] = "good" if good else "bad"
        elif atype == ww.ATTR_FINGERPRINT:
            pseudo = msg[:2] + struct.pack(">H", o - 20 + 8) + msg[4:o]
            good = (zlib.crc32(pseudo) ^ 0x5354554E) == struct.unpack_from(">I", msg, o + 4)[0]
            status["fingerprint"] = "good" if good else "bad"
        o += 4 + ln + (-ln % 4)
    return status["integrity"], status["fingerprint"]


def verify_capture(call: Call, metas, by_number):
    """Re-reads every frame from the written bytes: STUN integrity/fingerprint are recomputed and
    RTP/RTCP decrypted with the receiver's view (ROC from the manifest), so the manifest cannot
    drift from the capture."""
    for m in metas:
        payload = by_number[m["frame"]][1]
        if m["kind"] == "stun":
            assert stun_status(payload, call.mi_key) == (m["integrity"], m["fingerprint"]), m
            continue
        keys = call.keys[m["direction"]]
        if m["kind"] == "rtp":
            pkt = payload[m["envelope_len"] or 0:]
            plain, ok = sr.unprotect_rtp(keys.rtp, pkt, m["roc"], m["tag_len"])
            assert ok == m["tag_valid"], m
            body = plain[m["header_len"]:]
            if m["sframe"]:
                body = sr.sframe_decrypt(call.sframe_key, body)
            assert not ok or body.hex() == m["payload_hex"], m
        else:
            plain, index, ok = sr.unprotect_srtcp(keys.rtcp, payload)
            assert index == m["srtcp_index"] and ok == m["tag_valid"], m
            assert not ok or plain.hex() == m["plaintext_hex"], m


def capture_entry(name, pcap, keylog, call: Call, description, metas, streams, **extra):
    return dict({"name": name, "pcap": pcap, "keylog": keylog, "description": description,
                 **media_facts(call), "frames": metas, "streams": streams}, **extra)


def media_facts(call: Call):
    return {"call_id": call.call_id, "warp_tag_len": call.tag_len, "relay": f"{call.relay[0]}:{call.relay[1]}",
            "client": f"{call.client[0]}:{call.client[1]}", "participants": call.participants_json(),
            "relay_key_text": call.relay_key_text}


def make_nonwa(outdir, manifest):
    """Traffic that is NOT WhatsApp and that no wacall/wastun/warp heuristic may claim: RFC 5389
    Binding with ICE attributes, RTP 0x80 without extension, RTP with the RFC 8285 0xBEDE
    profile, plain SRTP with an 80-bit tag, plain RTCP SR, and a DTLS ClientHello-like datagram
    (its first byte 0x16 passes the (b0 & 0xC0) == 0 STUN test but it has no magic cookie)."""
    rng = random.Random(5005)
    trace = []
    host, stun_srv, peer = ("10.0.0.5", 54321), ("203.0.113.50", 19302), ("10.0.0.9", 40002)

    def add(t, src, dst, payload, kind, note):
        trace.append((t, src, dst, payload, {"kind": kind, "note": note, "expect_claimed": False}))

    ice = [ww.stun_attr(ww.ATTR_USERNAME, b"abcd:efgh"), ww.stun_attr(ww.ATTR_PRIORITY, struct.pack(">I", 0x6E7F1EFF)),
           ww.stun_attr(ww.ATTR_ICE_CONTROLLING, rng.randbytes(8)), ww.stun_attr(ww.ATTR_SOFTWARE, b"libjuice")]
    req = ww.stun_message(ww.BINDING_REQUEST, rng.randbytes(12), ice, b"ice-password-0123456789", True)
    add(0.0, host, stun_srv, req, "stun", "RFC 5389 Binding Request with ICE attributes")
    resp = ww.stun_message(ww.BINDING_SUCCESS, req[8:20], [ww.stun_attr(ww.ATTR_XOR_MAPPED_ADDRESS,
                                                                         ww.xor_address(*host))],
                           b"ice-password-0123456789", True)
    add(0.02, stun_srv, host, resp, "stun", "RFC 5389 Binding Success")
    dtls = bytes.fromhex("16fefd0000000000000000") + struct.pack(">H", 60) + b"\x01" + rng.randbytes(59)
    add(0.05, host, peer, dtls, "other", "DTLS 1.2 ClientHello-like record")
    for i in range(10):
        rtp = ww.rtp_fixed(0, 1000 + i, 160 * i, 0x0BADCAFE, first=0x80) + rng.randbytes(160)
        add(0.1 + 0.02 * i, host, peer, rtp, "rtp", "plain RTP, PCMU, no extension")
        bede = ww.rtp_fixed(111, 7 + i, 960 * i, 0x51515151) + b"\xbe\xde\x00\x01\x10\x2a\x00\x00" + rng.randbytes(40)
        add(0.105 + 0.02 * i, peer, host, bede, "rtp", "RTP with the RFC 8285 0xBEDE profile, PT 111")
        srtp = ww.rtp_fixed(96, 300 + i, 3000 * i, 0x77777777, first=0x80) + rng.randbytes(60) + rng.randbytes(10)
        add(0.11 + 0.02 * i, ("10.0.0.5", 61000), ("10.0.0.7", 62000), srtp, "rtp", "SRTP, 80-bit tag")
    add(0.5, host, peer, ww.rtcp_sr(0x0BADCAFE, 1_700_000_000_500, 1600, 10, 1600), "rtcp", "plain RTCP SR")
    rows = sorted(trace, key=lambda r: r[0])
    frames, metas = [], []
    for n, (t, src, dst, payload, meta) in enumerate(rows, 1):
        frames.append((T0_US / 1e6 + t, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)))
        metas.append(dict(meta, frame=n, src=f"{src[0]}:{src[1]}", dst=f"{dst[0]}:{dst[1]}", udp_len=len(payload)))
    pcapw.write_pcap(os.path.join(outdir, "media-nonwa.pcap"), frames)
    manifest["captures"].append({"name": "media-nonwa", "pcap": "media-nonwa.pcap", "keylog": None,
                                 "description": make_nonwa.__doc__.split("\n\n")[0].replace("\n", " "),
                                 "frames": metas, "streams": [],
                                 "expect": {"wastun_frames": 0, "warp_frames": 0, "wacall_frames": 0}})


def fill_sample(outdir, manifest, selftests):
    """Adds the media plane to make_all.py's sample/call.pcap: a CLEAN call inside the entry's
    media_window, on the relay its signaling names (te2[0]: the first outbound candidate, its
    token_id's token), participants caller (self, the captured client) and callee (the answering
    device). Renumbers the signaling frames of the entry and appends WA_CALL_KEY to its key log."""
    entry = next((c for c in manifest["captures"] if c.get("pcap") == "sample/call.pcap"), None)
    if entry is None:
        return "skipped (no sample/call.pcap in the manifest)"
    import make_all  # the sample's relay (token table) is defined there
    info, relay = entry["call"], make_all.sample_relay()
    ep = relay.endpoints[0]
    assert (ep.ip, ep.port, relay.key_text) == (info["relay_ip"], info["relay_port"], info["relay_key"])
    call = Call(info["call_id"], random.Random(8008).randbytes(32), info["caller"], info["callee"], relay.key_text,
                relay.tokens[int(dict(ep.attrs)["token_id"])], int(info["warp_mi_tag_len"]),
                client=(info["client_ip"], 50000), relay=(ep.ip, ep.port))
    start, end = info["media_window"]
    assert media_duration_us(CLEAN) <= (end - start) * 1e6, "sample media does not fit its window"
    path = os.path.join(outdir, entry["pcap"])
    old = pcapw.read_pcap(path)
    metas, streams, renum = write_media_capture(outdir, entry["pcap"], call, 9009, selftests, extra_frames=old,
                                                t_base_us=round(start * 1e6), scenario=CLEAN)
    for conn in entry.get("connections", []):
        for e in conn.get("handshake", []) + conn.get("frames", []):
            if e.get("pcap_frame"):
                e["pcap_frame"] = renum[e["pcap_frame"] - 1]
    entry["pcap_frames"] = len(old) + len(metas)
    with open(os.path.join(outdir, entry["keylog"]), "a", newline="\n") as f:
        f.write(f"WA_CALL_KEY {call.call_id} {call.call_key.hex()}\n")
    entry.update(media=media_facts(call), frames=metas, streams=streams)
    return f"ok ({len(metas)} media frames added)"


def make_captures(outdir, manifest, selftests=None):
    """Writes media-only.pcap (+ .keys, media-json.keys, media-wrongkey.keys), media-tag10.pcap
    (+ .keys), media-nonwa.pcap, media-dialect(-v6).pcap (+ .keys) and call-full.pcap (+ .keys) into outdir and appends their entries to manifest['captures'].
    Runs every selftest first; any failure raises."""
    selftests = run_selftests() if selftests is None else selftests
    os.makedirs(outdir, exist_ok=True)

    call = make_call(1001)
    metas, streams, _ = write_media_capture(outdir, "media-only.pcap", call, 2002, selftests)
    _write(outdir, "media-only.keys", keylog_text(call, "media-only.pcap: 1:1 call, media only"))
    manifest["captures"].append(capture_entry(
        "media-only", "media-only.pcap", "media-only.keys", call,
        "1:1 call without signaling: STUN dialect, E2E SRTP audio both ways (wrap, loss, reorder, DTX, "
        "one forged tag, group envelopes), video IDR+delta both ways (s2c under SFrame), app data, SRTCP.",
        metas, streams))
    _write(outdir, "media-json.keys", keylog_json(call))
    manifest["captures"].append({
        "name": "media-json", "pcap": "media-only.pcap", "keylog": "media-json.keys", "same_frames_as": "media-only",
        "description": "media-only.pcap with a JSON-line key log (call key, self_lid, peer_lid; no relay key)",
        "overrides": {"stun_integrity_when_present": "unverified"}})
    wrong = bytes(b ^ 0x5A for b in call.call_key)
    _write(outdir, "media-wrongkey.keys", keylog_text(call, "media-only.pcap with a WRONG call key", call_key=wrong))
    manifest["captures"].append({
        "name": "media-wrongkey", "pcap": "media-only.pcap", "keylog": "media-wrongkey.keys",
        "same_frames_as": "media-only",
        "description": "media-only.pcap with a wrong call key: SSRC attribution still works (it needs no key), "
                       "every RTP/RTCP tag is Bad, nothing decrypted, no rtp streams; STUN as in media-only",
        "overrides": {"tag_valid": False, "expect_decrypted": False, "payload_hex": None, "streams": []}})

    call10 = make_call(3003, tag_len=10)
    metas, streams, _ = write_media_capture(outdir, "media-tag10.pcap", call10, 4004, selftests)
    _write(outdir, "media-tag10.keys", keylog_text(call10, "media-tag10.pcap: warp_mi_tag_len 10", tag_len_line=True))
    manifest["captures"].append(capture_entry(
        "media-tag10", "media-tag10.pcap", "media-tag10.keys", call10,
        "same shape as media-only, WARP MI tag of 10 bytes (WA_WARP_TAG_LEN)", metas, streams))

    make_nonwa(outdir, manifest)
    import media_layers  # HBH layer and group epochs
    media_layers.make(outdir, manifest, selftests)
    import media_dtls  # the web path: DataChannel over DTLS
    media_dtls.make(outdir, manifest, selftests)
    import media_dialect  # real clients' relay dialects 2015-2023, IPv4 and IPv6
    media_dialect.make(outdir, manifest, selftests)
    try:  # the signaling modules are another engineer's; call-full needs them
        import call_full
    except ImportError as e:
        selftests["call-full.pcap"] = f"skipped ({e})"
    else:
        call_full.make(outdir, manifest, selftests)
    selftests["sample/call.pcap media"] = fill_sample(outdir, manifest, selftests)
    manifest.setdefault("selftests", {}).update(selftests)
    return manifest


def _write(outdir, name, text):
    with open(os.path.join(outdir, name), "w", newline="\n") as f:
        f.write(text)


def run_selftests() -> dict:
    """Vector selftests of both reference modules; raise on the first mismatch."""
    return {"srtp_ref vectors": f"ok ({sr.selftest()} checks)", "warp_wire vectors": f"ok ({ww.selftest()} checks)"}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: media.py OUTDIR")
    out = sys.argv[1]
    m = make_captures(out, {"captures": []})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=1)
    for k, v in m["selftests"].items():
        print(f"{k}: {v}")
