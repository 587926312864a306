#!/usr/bin/python3
"""Long media captures for the performance comparison (docs/performance.md), generated on demand.

    /usr/bin/python3 make_long.py OUTDIR                 # 100,000 packets (the issue's figures)
    /usr/bin/python3 make_long.py --packets 4000 OUTDIR  # the quick/CI size

Writes into OUTDIR:

  one_call.pcap / one_call.keys   a 1:1 call: N WARP RTP packets, two directions (one audio SSRC
                                  each, 40..120-byte payloads, the 16-byte 0xDEBE header), E2E
                                  SRTP with 4-byte WARP tags; key log = WA_CALL_KEY + two
                                  WA_PARTICIPANT lines (media-only capture: no signaling).
  one_call_clear.pcap             its cleartext twin: the same frames with the same RTP headers,
                                  the plaintext payloads and no tags (decode with
                                  `-d udp.port==3478,rtp`).
  many_calls.pcap / .keys         50 concurrent 1:1 calls (own client address and port each),
                                  the same total N packets, interleaved in time.
  many_calls_clear.pcap           its cleartext twin.
  keys10k.keys                    10,000 calls: WA_CALL_KEY + two WA_PARTICIPANT lines each
                                  (the one-call capture's lines among them).
  manifest.json                   what was generated (packet counts, seeds), read by
                                  scripts/bench-tshark.sh.

Independent of the plugin: the crypto is srtp_ref.py (pinned to the digests' vectors and
cross-checked against libsrtp by media.py), the wire formats warp_wire.py and pcapw.py.
Deterministic (fixed seeds): a rerun writes identical files.
"""
import argparse
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pcapw  # noqa: E402
import srtp_ref as sr  # noqa: E402
import warp_wire as ww  # noqa: E402

RELAY = ("198.51.100.7", 3478)
T0 = 1_700_000_000.0
PACKET_INTERVAL_S = 0.020  # per SSRC: 20 ms audio frames
TAG_LEN = sr.DEFAULT_WARP_TAG_LEN


class LongCall:
    """One 1:1 call between client (self) and relay (peer's media forwarded), audio only."""

    def __init__(self, index: int, seed: int, call_id=None, self_jid=None, peer_jid=None):
        rng = random.Random(seed * 1_000_003 + index)
        self.call_id = rng.randbytes(16).hex().upper()
        self.call_key = rng.randbytes(32)
        self.self_jid = f"{48213377210000 + index}@lid"
        self.peer_jid = f"{39517204880000 + index}:7@lid"
        # make_collision.py picks the ids (the draws above still run: same keys for a given seed)
        self.call_id = call_id or self.call_id
        self.self_jid = self_jid or self.self_jid
        self.peer_jid = peer_jid or self.peer_jid
        self.client = (f"192.0.{2 + index // 200}.{10 + index % 200}", 50000 + index)
        self.keys = {"c2s": sr.SenderKeys(self.call_key, self.self_jid),
                     "s2c": sr.SenderKeys(self.call_key, self.peer_jid)}
        self.ssrc = {"c2s": sr.derive_ssrc(self.call_id, self.self_jid, 0),
                     "s2c": sr.derive_ssrc(self.call_id, self.peer_jid, 0)}
        self.rng = rng
        # c2s starts close to the wrap so every long capture exercises the ROC (65535 -> 0).
        self.seq = {"c2s": 65536 - 1000, "s2c": rng.randrange(0, 30000)}
        self.ts = {"c2s": rng.randrange(0, 1 << 32), "s2c": rng.randrange(0, 1 << 32)}
        self.roc = {"c2s": 0, "s2c": 0}
        self.pt = {"c2s": 120, "s2c": 111}
        self.ts_step = {"c2s": 320, "s2c": 960}
        self.first = {"c2s": True, "s2c": True}

    def keylog_lines(self):
        return [f"WA_CALL_KEY {self.call_id} {self.call_key.hex()}",
                f"WA_PARTICIPANT {self.call_id} {self.self_jid}",
                f"WA_PARTICIPANT {self.call_id} {self.peer_jid}"]

    def next_packet(self, direction: str):
        """(protected wire bytes, plain RTP bytes) of the next packet of one direction."""
        d = direction
        header = ww.speech_header(self.pt[d], self.seq[d], self.ts[d], self.ssrc[d], self.first[d])
        payload = self.rng.randbytes(self.rng.randrange(40, 121))
        plain = header + payload
        wire = sr.protect_rtp(self.keys[d].rtp, plain, self.roc[d], TAG_LEN)
        self.first[d] = False
        self.seq[d] = (self.seq[d] + 1) & 0xFFFF
        if self.seq[d] == 0:
            self.roc[d] += 1
        self.ts[d] = (self.ts[d] + self.ts_step[d]) & 0xFFFFFFFF
        return wire, plain


def build(calls, total: int, start_offset_s: float):
    """Interleaves `total` packets over the calls (round robin over call x direction, each SSRC
    every 20 ms); returns (encrypted frames, cleartext frames) as [(ts, frame)]."""
    enc, clear = [], []
    slots = [(c, d) for c in calls for d in ("c2s", "s2c")]
    step = PACKET_INTERVAL_S / len(slots)
    for i in range(total):
        call, d = slots[i % len(slots)]
        wire, plain = call.next_packet(d)
        ts = round(T0 + start_offset_s + i * step, 6)
        src, dst = (call.client, RELAY) if d == "c2s" else (RELAY, call.client)
        enc.append((ts, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], wire)))
        clear.append((ts, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], plain)))
    return enc, clear


def check_roundtrip(calls, frames, n=200):
    """Reads a few packets back with srtp_ref's own unprotect (catches a layout slip)."""
    by_ssrc = {c.ssrc[d]: c.keys[d] for c in calls for d in ("c2s", "s2c")}
    for _, fr in frames[:n]:
        pkt = fr[14 + 20 + 8:]
        ssrc, = struct.unpack_from(">I", pkt, 8)
        _, ok = sr.unprotect_rtp(by_ssrc[ssrc].rtp, pkt, 0, TAG_LEN)
        assert ok, "generated packet does not verify"


def write_keys(path, calls, title):
    with open(path, "w") as f:
        f.write(f"# {title}\n# generated by test-pcaps/gen/make_long.py\n")
        for c in calls:
            f.write("\n".join(c.keylog_lines()) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--packets", type=int, default=100_000, help="WARP packets per capture (default 100000)")
    ap.add_argument("--calls", type=int, default=50, help="concurrent calls of many_calls.pcap (default 50)")
    ap.add_argument("--keylog-calls", type=int, default=10_000, help="calls in keys10k.keys (default 10000)")
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    out = lambda name: os.path.join(a.outdir, name)  # noqa: E731

    one = [LongCall(0, a.seed)]
    enc, clear = build(one, a.packets, 0.0)
    check_roundtrip(one, enc)
    pcapw.write_pcap(out("one_call.pcap"), enc)
    pcapw.write_pcap(out("one_call_clear.pcap"), clear)
    write_keys(out("one_call.keys"), one, "one 1:1 call, media only")
    del enc, clear

    many = [LongCall(i, a.seed + 1) for i in range(a.calls)]
    per_call = a.packets - a.packets % (2 * a.calls)  # every call gets the same count
    enc, clear = build(many, per_call, 0.0)
    check_roundtrip(many, enc)
    pcapw.write_pcap(out("many_calls.pcap"), enc)
    pcapw.write_pcap(out("many_calls_clear.pcap"), clear)
    write_keys(out("many_calls.keys"), many, f"{a.calls} concurrent 1:1 calls, media only")
    del enc, clear

    # 10,000 calls' keys; the one-call capture's call is the last one, so a lookup cannot be
    # satisfied by the first lines read.
    big = [LongCall(i, a.seed + 2) for i in range(a.keylog_calls - 1)] + one
    write_keys(out("keys10k.keys"), big, f"{a.keylog_calls} calls")

    manifest = {"packets_one_call": a.packets, "packets_many_calls": per_call, "calls": a.calls,
                "keylog_calls": a.keylog_calls, "seed": a.seed, "relay_port": RELAY[1],
                "payload_bytes": [40, 120], "tag_len": TAG_LEN,
                "files": ["one_call.pcap", "one_call_clear.pcap", "one_call.keys", "many_calls.pcap",
                          "many_calls_clear.pcap", "many_calls.keys", "keys10k.keys"]}
    with open(out("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"make_long: {a.packets} + {per_call} packets, {a.calls} calls, {a.keylog_calls}-call key log -> {a.outdir}")


if __name__ == "__main__":
    main()
