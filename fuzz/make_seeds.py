#!/usr/bin/env python3
"""Seed corpora for the libFuzzer targets, from the generated test captures and the KAT vectors.

    make_seeds.py CAPTURES_DIR OUT_DIR [--kats voip-kats.json]

CAPTURES_DIR is the output of test-pcaps/gen/make_all.py (captures, key logs, manifest.json).
Writes OUT_DIR/<target>/<sha1> files; each target's input layout is described in its
fuzz/fuzz_<target>.cpp. Standard library only.
"""
import argparse
import hashlib
import json
import os
import struct
import sys

MAX_SEED = 65536
MAX_PER_TARGET = 400


class Seeds:
    def __init__(self, out):
        self.out = out
        self.count = {}

    def add(self, target, data):
        if not data or len(data) > MAX_SEED:
            return
        if self.count.get(target, 0) >= MAX_PER_TARGET:
            return
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, hashlib.sha1(data).hexdigest())
        if os.path.exists(path):
            return
        with open(path, "wb") as f:
            f.write(data)
        self.count[target] = self.count.get(target, 0) + 1


def read_pcap(path):
    """[(linktype, frame bytes)] of a classic pcap file (either byte order)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []  # pcapng: not produced by the generator
    linktype = struct.unpack_from(e + "I", data, 20)[0]
    out, p = [], 24
    while p + 16 <= len(data):
        _s, _u, incl, _o = struct.unpack_from(e + "IIII", data, p)
        out.append((linktype, data[p + 16:p + 16 + incl]))
        p += 16 + incl
    return out


def l4(linktype, frame):
    """(proto, src, dst, payload) for IPv4/IPv6 TCP/UDP in Ethernet, raw IP or Linux SLL."""
    if linktype == 1:
        if len(frame) < 14:
            return None
        et, p = struct.unpack_from(">H", frame, 12)[0], 14
        while et == 0x8100 and len(frame) >= p + 4:
            et, p = struct.unpack_from(">H", frame, p + 2)[0], p + 4
    elif linktype == 113:
        if len(frame) < 16:
            return None
        et, p = struct.unpack_from(">H", frame, 14)[0], 16
    elif linktype in (101, 228, 229):
        et, p = (0x0800 if frame and frame[0] >> 4 == 4 else 0x86DD), 0
    else:
        return None
    if et == 0x0800 and len(frame) >= p + 20:
        ihl = (frame[p] & 15) * 4
        total = struct.unpack_from(">H", frame, p + 2)[0]
        proto = frame[p + 9]
        src, dst = frame[p + 12:p + 16], frame[p + 16:p + 20]
        end = min(len(frame), p + total) if total else len(frame)
        p += ihl
    elif et == 0x86DD and len(frame) >= p + 40:
        plen = struct.unpack_from(">H", frame, p + 4)[0]
        proto = frame[p + 6]
        src, dst = frame[p + 8:p + 24], frame[p + 24:p + 40]
        end = min(len(frame), p + 40 + plen)
        p += 40
    else:
        return None
    if proto == 17 and end >= p + 8:
        sp, dp = struct.unpack_from(">HH", frame, p)
        return "udp", (src, sp), (dst, dp), frame[p + 8:end]
    if proto == 6 and end >= p + 20:
        sp, dp = struct.unpack_from(">HH", frame, p)
        off = (frame[p + 12] >> 4) * 4
        return "tcp", (src, sp), (dst, dp), frame[p + off:end]
    return None


def is_stun(b):
    return len(b) >= 20 and b[0] & 0xC0 == 0 and b[4:8] == b"\x21\x12\xa4\x42"


def is_rtp_or_rtcp(b):
    return len(b) >= 8 and b[0] >> 6 == 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("captures")
    ap.add_argument("out")
    ap.add_argument("--kats", default=None)
    a = ap.parse_args()
    s = Seeds(a.out)
    with open(os.path.join(a.captures, "manifest.json")) as f:
        manifest = json.load(f)

    # ---- signaling, from the manifest --------------------------------------------------------
    keyset = {"XX": 0, "IK": 1, "IK+XXfallback": 2}
    for cap in manifest["captures"]:
        conns = cap.get("connections")
        if not isinstance(conns, list):
            continue
        for conn in conns:
            dv = conn.get("dict_version", 3)
            hs = [bytes.fromhex(h["hex"]) for h in conn.get("handshake", [])]
            ks = keyset.get(conn.get("pattern"), 0)
            seed = bytes([ks])
            for m in hs:
                seed += struct.pack(">H", len(m)) + m
                s.add("fuzz_noise_handshake", bytes([0x80 | ks]) + m)
            s.add("fuzz_noise_handshake", seed)
            intro = b""
            if conn.get("edge_routing_hex"):
                er = bytes.fromhex(conn["edge_routing_hex"])
                intro = b"ED\x00\x01" + struct.pack(">I", len(er))[1:] + er
            intro += bytes([0x57, 0x41, 6, dv])
            stream = intro
            for m in hs[:1]:
                stream += struct.pack(">I", len(m))[1:] + m
            s.add("fuzz_noise_intro", stream)
            for fr in conn.get("frames", []):
                payload = bytes.fromhex(fr.get("payload_hex") or "")
                plain = bytes.fromhex(fr.get("plaintext_hex") or "")
                if payload:
                    s.add("fuzz_wabinary_v%d" % dv if dv in (2, 3) else "fuzz_wabinary_v3", payload)
                    s.add("fuzz_noise_transport", struct.pack(">I", fr.get("counter", 0)) + payload)
                if plain and dv == 3:
                    s.add("fuzz_call_stanza", plain)

    # ---- every capture: TCP stream starts and UDP datagrams ----------------------------------
    pcaps = sorted({c["pcap"] for c in manifest["captures"] if c.get("pcap")})
    keylogs = sorted({c[k] for c in manifest["captures"] for k in ("keylog", "tls_keylog") if c.get(k)})
    for name in pcaps:
        streams = {}
        for lt, frame in read_pcap(os.path.join(a.captures, name)):
            r = l4(lt, frame)
            if not r:
                continue
            proto, src, dst, payload = r
            if not payload:
                continue
            if proto == "tcp":
                key = (src, dst)
                if len(streams.get(key, b"")) < 4096:
                    streams[key] = streams.get(key, b"") + payload
                continue
            b = bytes(payload)
            if is_stun(b):
                s.add("fuzz_stun", b)
            s.add("fuzz_rtp", b)
            if is_rtp_or_rtcp(b) or b[:1] == b"\x09":
                for opt in (0x04, 0x0A, 0x84):
                    s.add("fuzz_srtp", bytes([opt]) + b"\x00\x00\x00\x00" + b)
                s.add("fuzz_hbh", b"\x00\x00\x00\x00\x00" + b)
                s.add("fuzz_hbh", b"\x90\x00\x00\x00\x00" + b)
                if len(b) > 12:
                    s.add("fuzz_sframe", b"\x00" + b"\x00" * 8 + b[12:])
        for data in streams.values():
            s.add("fuzz_noise_intro", data[:4096])

    # ---- key logs ------------------------------------------------------------------------------
    for name in keylogs:
        with open(os.path.join(a.captures, name), "rb") as f:
            s.add("fuzz_keylog", f.read())

    # ---- KAT vectors ---------------------------------------------------------------------------
    if a.kats and os.path.exists(a.kats):
        with open(a.kats) as f:
            kats = json.load(f)

        def hexes(obj):
            if isinstance(obj, dict):
                for v in obj.values():
                    yield from hexes(v)
            elif isinstance(obj, str) and len(obj) >= 8 and len(obj) % 2 == 0:
                try:
                    yield bytes.fromhex(obj)
                except ValueError:
                    pass

        for b in hexes(kats.get("stun", {})):
            if is_stun(b):
                s.add("fuzz_stun", b)
        for b in hexes(kats.get("stun_proto", {})):
            # a lone attribute value wrapped in a minimal STUN message (type 0x4024)
            attr = struct.pack(">HH", 0x4024, len(b)) + b + b"\x00" * (-len(b) % 4)
            s.add("fuzz_stun", struct.pack(">HHI", 0x0003, len(attr), 0x2112A442) + b"\xa0" * 12 + attr)
        for section in ("rtp", "rtcp"):
            for b in hexes(kats.get(section, {})):
                s.add("fuzz_rtp", b)
                s.add("fuzz_srtp", b"\x04\x00\x00\x00\x00" + b)
        sample = kats.get("inputs", {}).get("samplePacket")
        if sample:
            b = bytes.fromhex(sample)
            s.add("fuzz_rtp", b)
            s.add("fuzz_srtp", b"\x04\x00\x00\x00\x00" + b)
            s.add("fuzz_hbh", b"\x00\x00\x00\x00\x00" + b)
        enc = kats.get("sframe", {}).get("encrypt_out")
        if enc:
            s.add("fuzz_sframe", b"\x00" + struct.pack(">Q", 5) + bytes.fromhex(enc))

    # ---- a few hand-made edge cases -------------------------------------------------------------
    s.add("fuzz_wabinary_v3", b"\x00\xf8\x01\x03")                        # smallest node
    s.add("fuzz_wabinary_v2", b"\x00\xf8\x01\x03")
    s.add("fuzz_call_stanza", b"\xf8\x01\x03")
    s.add("fuzz_keylog", b"WA_CALL_KEY c " + b"00" * 32 + b"\r\n{\"call_id\":\"j\",\"call_key_hex\":\"" +
          b"11" * 32 + b"\"}\n")
    for t in sorted(s.count):
        print("%-24s %d seeds" % (t, s.count[t]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
