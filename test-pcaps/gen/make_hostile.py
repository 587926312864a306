#!/usr/bin/env python3
"""A capture of hostile signaling plaintexts behind a valid Noise session (issue 5).

    /usr/bin/python3 make_hostile.py OUTDIR   -> OUTDIR/sig-hostile.pcap, sig-hostile.keys, hostile.json

The frames decrypt (GCM tags are good) but their WABinary is built to hurt a decoder: a zlib bomb
(64 MiB of zeros in ~64 KiB), a zlib bomb of tiny nodes (65,535 x 17 nodes), nesting 1,000 deep,
declared sizes of 4 GiB / 1 MiB / 65,535 children with nothing behind them, and a frame whose
Noise length says 16 MiB when the capture ends. Good call stanzas before and after show that the
session survives (every bad frame still consumes its counter). hostile.json lists, per frame,
the expert text the plugin is expected to show.
"""
import json
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_all as M  # noqa: E402
import pcapw  # noqa: E402
import signaling as S  # noqa: E402
from carriers import Capture, TcpCarrier  # noqa: E402


def leaf():
    return b"\xf8\x01\x03"


class Datagrams:
    """Hostile UDP datagrams to the relay port 3478, after the signaling."""

    def __init__(self, t0):
        self.frames, self.t = [], t0

    def add(self, payload):
        self.t += 0.001
        self.frames.append((self.t, pcapw.udp_frame(M.CLIENT4, 50500, "203.0.113.10", 3478, payload)))


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    out = M.Out(outdir)
    cap = Capture()
    conn = M.Conn(TcpCarrier(cap.add(M.flow(44301, 443, M.T0 + 5000))), "hostile", "hostile").open()
    conn.handshake_xx()
    c = S.Call(M.sid("hostile", 32), M.ALICE_DEV)
    conn.tx("c2s", M.call(S.offer(c, [(M.BOB_DEV0, S.enc(S.det_bytes("he", 60)))]), to=f"{M.BOB}@lid",
                          id=M.sid("ho")))
    expect = []

    def bad(payload, kind, text):
        conn.send("s2c", conn.frame("s2c", payload=payload, expect=kind, why=text))
        expect.append({"counter": conn.ctr["s2c"] - 1, "expert": text})

    # 1. zlib bomb: 64 MiB of zeros.
    bad(b"\x02" + zlib.compress(b"\x00" * (64 << 20), 9), "zlib_error", "inflated size exceeds 16777216 bytes")
    # 2. a bomb of tiny nodes, under the inflate cap: root with 65,535 children of 16 leaves each.
    child = b"\xf8\x02\x03\xf9\x00\x10" + leaf() * 16
    nodes = b"\xf8\x02\x03\xf9\xff\xff" + child * 0xFFFF
    bad(b"\x02" + zlib.compress(nodes, 9), "malformed", "element limit")
    # 3. nesting 1,000 deep.
    bad(b"\x00" + b"\xf8\x02\x03\xf8\x01" * 1000 + leaf(), "malformed", "nesting deeper than 128")
    # 4. declared sizes far beyond the frame.
    bad(b"\x00\xf8\x02\x03\xfe\xff\xff\xff\xff", "malformed", "BINARY_32 length 4294967295")
    bad(b"\x00\xf8\x02\x03\xfd\x0f\xff\xff", "malformed", "BINARY_20 length 1048575")
    bad(b"\x00\xf8\x02\x03\xf9\xff\xff", "malformed", "truncated")
    bad(b"\x00\xf9\xff\xff\x03", "malformed", "truncated")
    # 5. the session goes on.
    conn.tx("s2c", M.inbound(S.accept(c), M.BOB_DEV0, M.sid("ha"), conn.carrier.flow.t))
    conn.tx("c2s", M.call(S.terminate(c), to=M.BOB_DEV0))
    # 6. relay media: an RTP header that fills the packet (15 CSRCs, no payload), an extension
    # declaring 65,535 words, RTCP with a length word of 65,535 and 31 report blocks, STUN whose
    # length and attribute lengths exceed the datagram, group envelopes with short or bad bodies,
    # an empty datagram.
    media = cap.add(Datagrams(M.T0 + 5010))
    # A WhatsApp STUN request first (its 0x4024 attribute marks the flow as relay media); its
    # body claims 65,532 bytes, its attributes 65,535 and 65,280.
    stun = bytes.fromhex("0001fffc2112a442") + bytes(12) + bytes.fromhex("4024ffff0a0208") + bytes.fromhex("0008ff00")
    media.add(stun)
    hdr = bytes.fromhex("8f780001000000001234abcd")
    media.add(hdr + b"\x11" * 60)
    media.add(bytes.fromhex("90780002000000001234abcd") + b"\xbe\xde\xff\xff" + b"\x22" * 8)
    media.add(bytes.fromhex("9fc9ffff1234abcd") + b"\x00" * 12)
    media.add(bytes.fromhex("0907") + bytes(12))
    media.add(bytes.fromhex("0902") + bytes(6) + hdr)
    media.add(b"")
    # 7. a Noise frame header announcing 16 MiB - 1, then the capture ends.
    conn.carrier.write(True, b"\xff\xff\xff" + b"\x00" * 32, None, ())
    out.keylog("sig-hostile.keys", [conn.traffic_line()])
    out.capture("sig-hostile.pcap", cap, [conn], "sig-hostile.keys", "hostile WABinary behind a valid session")
    with open(os.path.join(outdir, "hostile.json"), "w") as f:
        json.dump({"bad_frames": expect, "good_actions": ["offer", "accept", "terminate"],
                   "media_experts": ["Malformed STUN: ", "Malformed RTP header",
                                     "Group envelope: group envelope: inner packet shorter than an RTP header"]},
                  f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_hostile.py OUTDIR")
    main(sys.argv[1])
