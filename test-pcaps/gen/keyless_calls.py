#!/usr/bin/python3
"""keyless-two-calls.pcap: two WhatsApp calls back to back with NO key log and no signaling, and
the model of what an analyst can learn from it (issue 15 part 2): for each call the client's
media socket, the relays allocated (RTT, XOR-MAPPED, relayed address, relay token), the
peer-to-peer checks, which path carried media when, and every stream's packets, bytes, loss,
jitter, first/last time and gaps.

Call 1: client 192.0.2.20:41000 allocates on relay A and relay B (same relay token); media on A,
then a relay switch to B (plus a short video stream on B). Call 2, 2 s after call 1's media ends,
from a new client socket: relay A with a new token, then Binding checks with a peer and the media
moves to the peer-to-peer path (plus app data).

Independent of the plugin: the wire is built with warp_wire.py, the model computed here from the
datagrams in capture order (RFC 3550 loss and jitter written out below). Payloads are random bytes
standing for ciphertext: no key exists for them.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pcapw  # noqa: E402
import warp_wire as ww  # noqa: E402

T0_US = 1_700_000_100_000_000
CLIENT1 = ("192.0.2.20", 41000)
CLIENT2 = ("192.0.2.20", 41002)
NAT1, NAT2 = ("203.0.113.77", 61000), ("203.0.113.77", 61002)   # the XOR-MAPPED (public) sockets
RELAY_A = ("198.51.100.7", 3478)
RELAY_B = ("203.0.113.9", 3478)
PEER = ("198.51.100.200", 52000)
CLOCK = {120: 16000, 111: 48000, 97: 90000}
KIND = {120: "audio", 111: "audio", 97: "video", 119: "app data"}
GAP_S = 0.3  # the plugin reports arrival gaps of at least this long


class Capture:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.items = []  # (t_us, order, src, dst, payload, meta)

    def add(self, t_us, src, dst, payload, meta):
        self.items.append((t_us, len(self.items), src, dst, payload, meta))

    # ---- relay STUN ----
    def allocate(self, call, t_us, client, relay, token, nat, relayed, rtt_us):
        txid = self.rng.randbytes(12)
        req = ww.stun_message(ww.ALLOCATE_REQUEST, txid, [ww.stun_attr(ww.ATTR_RELAY_TOKEN, token)])
        ok = ww.stun_message(ww.ALLOCATE_SUCCESS, txid, [ww.stun_attr(ww.ATTR_XOR_MAPPED_ADDRESS, ww.xor_address(*nat)),
                                                          ww.stun_attr(ww.ATTR_WASM_RELAY_ENDPOINT, ww.xor_address(*relayed))])
        self.add(t_us, client, relay, req, {"call": call, "kind": "stun", "stun": "allocate"})
        self.add(t_us + rtt_us, relay, client, ok, {"call": call, "kind": "stun", "stun": "allocate-ok", "rtt_us": rtt_us})

    def ping(self, call, t_us, client, relay, rtt_us):
        txid = self.rng.randbytes(12)
        self.add(t_us, client, relay, ww.stun_message(ww.WA_PING, txid), {"call": call, "kind": "stun", "stun": "ping"})
        self.add(t_us + rtt_us, relay, client, ww.stun_message(ww.WA_PONG, txid),
                 {"call": call, "kind": "stun", "stun": "pong", "rtt_us": rtt_us})

    def binding(self, call, t_us, client, peer, rtt_us):
        txid = self.rng.randbytes(12)
        self.add(t_us, client, peer, ww.stun_message(ww.BINDING_REQUEST, txid), {"call": call, "kind": "stun", "stun": "binding"})
        self.add(t_us + rtt_us, peer, client,
                 ww.stun_message(ww.BINDING_SUCCESS, txid, [ww.stun_attr(ww.ATTR_XOR_MAPPED_ADDRESS, ww.xor_address(*client))]),
                 {"call": call, "kind": "stun", "stun": "binding-ok", "rtt_us": rtt_us})

    # ---- media ----
    def stream(self, call, ssrc, pt, seq0, legs, step_us, drop=(), pause=None):
        """legs: [(t_start_us, t_end_us, src, dst)] carried in turn; the RTP clock advances with
        the send time. pause: (t0_us, t1_us) with nothing sent (silence). Arrival = send time plus
        a random delay of 0-8 ms (jitter)."""
        seq, i = seq0, 0
        for t_start, t_end, src, dst in legs:
            t = t_start
            while t < t_end:
                if not (pause and pause[0] <= t < pause[1]):
                    ts = (t - T0_US) * CLOCK.get(pt, 90000) // 1_000_000
                    first = pt == 97
                    hdr = (ww.video_header(seq, ts, ssrc, False, ww.VIDEO_DELTA, 500, 0, seq, pt=97) if first
                           else ww.speech_header(pt, seq, ts, ssrc, i == 0))
                    wire = hdr + self.rng.randbytes(self.rng.randrange(30, 120)) + self.rng.randbytes(4)
                    if i not in drop:
                        self.add(t + self.rng.randrange(0, 8000), src, dst, wire,
                                 {"call": call, "kind": "rtp", "ssrc": ssrc, "pt": pt, "seq": seq, "ts": ts})
                    seq, i = (seq + 1) & 0xFFFF, i + 1
                t += step_us

    def layout(self):
        self.items.sort(key=lambda r: r[:2])
        frames, metas = [], []
        for n, (t_us, _, src, dst, payload, meta) in enumerate(self.items, 1):
            frames.append((t_us / 1e6, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)))
            metas.append(dict(meta, frame=n, t_us=t_us, src=f"{src[0]}:{src[1]}", dst=f"{dst[0]}:{dst[1]}",
                              bytes=len(payload)))
        return frames, metas


def ep(a):
    return f"{a[0]}:{a[1]}"


def build():
    cap = Capture(15_002)
    s = 1_000_000
    t1 = T0_US
    # ---- call 1: relay A, then B ----
    tok1 = cap.rng.randbytes(16)
    cap.allocate(1, t1, CLIENT1, RELAY_A, tok1, NAT1, ("198.51.100.7", 40001), 30_000)
    cap.allocate(1, t1 + 100_000, CLIENT1, RELAY_B, tok1, NAT1, ("203.0.113.9", 40002), 45_000)
    for k in range(1, 5):
        cap.ping(1, t1 + k * s, CLIENT1, RELAY_A, 20_000)
    for k in range(5, 10):
        cap.ping(1, t1 + k * s + 500_000, CLIENT1, RELAY_B, 44_000)
    on_a, on_b = (t1 + 500_000, t1 + 5 * s), (t1 + 5 * s, t1 + 10 * s)
    cap.stream(1, 0x1A2B3C01, 120, 65500, [(*on_a, CLIENT1, RELAY_A), (*on_b, CLIENT1, RELAY_B)], 60_000,
               pause=(t1 + 3 * s, t1 + 3 * s + 600_000))
    cap.stream(1, 0x5E6F7A02, 111, 100, [(on_a[0] + 23_000, on_a[1], RELAY_A, CLIENT1),
                                          (on_b[0] + 23_000, on_b[1], RELAY_B, CLIENT1)], 60_000, drop=(10, 11, 90))
    cap.stream(1, 0x1A2B3C03, 97, 0, [(t1 + 6 * s, t1 + 7 * s, CLIENT1, RELAY_B)], 100_000)
    # ---- call 2: 2 s after call 1, a new socket, relay A with a new token, then peer-to-peer ----
    t2 = t1 + 12 * s
    tok2 = cap.rng.randbytes(16)
    cap.allocate(2, t2, CLIENT2, RELAY_A, tok2, NAT2, ("198.51.100.7", 40003), 25_000)
    cap.ping(2, t2 + s, CLIENT2, RELAY_A, 21_000)
    cap.binding(2, t2 + 1_500_000, CLIENT2, PEER, 40_000)
    cap.binding(2, t2 + 1_700_000, CLIENT2, PEER, 38_000)
    on_a, on_p = (t2 + 300_000, t2 + 2 * s), (t2 + 2 * s, t2 + 8 * s)
    cap.stream(2, 0x7C000001, 120, 1, [(*on_a, CLIENT2, RELAY_A), (*on_p, CLIENT2, PEER)], 60_000)
    cap.stream(2, 0x7C000002, 120, 40000, [(on_a[0] + 11_000, on_a[1], RELAY_A, CLIENT2),
                                            (on_p[0] + 11_000, on_p[1], PEER, CLIENT2)], 60_000, drop=(50,))
    cap.stream(2, 0x7C000006, 119, 1, [(t2 + 4 * s, t2 + 5 * s, CLIENT2, PEER)], 250_000)
    return cap.layout()


def model(metas):
    """The calls as the capture shows them, computed from the datagrams in capture order."""
    t_first = metas[0]["t_us"]
    rel = lambda m: (m["t_us"] - t_first) / 1e6  # noqa: E731
    calls = {}
    for m in metas:
        c = calls.setdefault(m["call"], {"index": m["call"], "frames": [], "start": rel(m), "end": rel(m),
                                         "relays": {}, "peers": {}, "paths": {}, "streams": {}, "local": []})
        c["frames"].append(m["frame"])
        c["end"] = rel(m)
        client = {1: ep(CLIENT1), 2: ep(CLIENT2)}[m["call"]]
        if client not in c["local"]:
            c["local"].append(client)
        remote = m["dst"] if m["src"] == client else m["src"]
        is_relay = remote.endswith(":3478")
        if m["kind"] == "stun":
            if is_relay:
                r = c["relays"].setdefault(remote, {"allocations": 0, "ok": 0, "rtts_ms": [], "mapped": "unknown",
                                                    "relayed": "unknown", "token": False})
                if m["stun"] == "allocate":
                    r["allocations"] += 1
                    r["token"] = True
                if m["stun"] == "allocate-ok":
                    r["ok"] += 1
            else:
                r = c["peers"].setdefault(remote, {"messages": 0, "rtts_ms": []})
                r["messages"] += 1
            if "rtt_us" in m:
                r["rtts_ms"].append(m["rtt_us"] / 1000)
            continue
        p = c["paths"].setdefault(remote, {"relay": is_relay, "first": rel(m), "last": rel(m), "packets": 0})
        p["last"], p["packets"] = rel(m), p["packets"] + 1
        s = c["streams"].get(m["ssrc"])
        if s is None:
            s = c["streams"][m["ssrc"]] = {"ssrc": m["ssrc"], "dir": "sent" if m["src"] == client else "received",
                                           "kind": KIND[m["pt"]], "pt": m["pt"], "packets": 0, "bytes": 0,
                                           "first": rel(m), "last": rel(m), "seqs": [], "gaps": 0,
                                           "longest_gap": 0.0, "jitter": 0.0, "_prev": None}
        if s["packets"]:
            gap = rel(m) - s["last"]
            if gap >= GAP_S:
                s["gaps"] += 1
                s["longest_gap"] = max(s["longest_gap"], gap)
        s["packets"] += 1
        s["bytes"] += m["bytes"]
        s["last"] = rel(m)
        s["seqs"].append(m["seq"])
        if m["pt"] in CLOCK:  # RFC 3550 A.8: J += (|D| - J) / 16 over transit = arrival - ts / rate
            transit = m["t_us"] / 1e6 - m["ts"] / CLOCK[m["pt"]]
            if s["_prev"] is not None:
                s["jitter"] += (abs(transit - s["_prev"]) - s["jitter"]) / 16
            s["_prev"] = transit
    relayed = {}  # from the allocations: (client, relay) → (mapped, relayed)
    out = []
    for c in calls.values():
        for s in c["streams"].values():
            # The stream's sequence numbers unwrapped (they cross 65535 in call 1): loss = expected - received.
            ext, base, prev = [], 0, None
            for q in s["seqs"]:
                if prev is not None and q < prev and prev - q > 0x8000:
                    base += 0x10000
                ext.append(base + q)
                prev = q
            s["lost"] = (max(ext) - min(ext) + 1) - len(ext)
            s["jitter_ms"] = round(s["jitter"] * 1e3, 3) if s["pt"] in CLOCK else None
            s["ssrc_hex"] = f"0x{s['ssrc']:08X}"
            for k in ("seqs", "_prev", "jitter"):
                del s[k]
        c["duration"] = c["end"] - c["start"]
        frames = c.pop("frames")
        c["first_frame"], c["last_frame"] = min(frames), max(frames)
        c["streams"] = list(c["streams"].values())
        c["paths"] = [dict(v, remote=k) for k, v in sorted(c["paths"].items(), key=lambda kv: kv[1]["first"])]
        out.append(c)
    del relayed
    # XOR-MAPPED and relayed addresses as written into the Allocate successes.
    for c, allocs in ((out[0], {ep(RELAY_A): (NAT1, ("198.51.100.7", 40001)), ep(RELAY_B): (NAT1, ("203.0.113.9", 40002))}),
                      (out[1], {ep(RELAY_A): (NAT2, ("198.51.100.7", 40003))})):
        for relay, (nat, rel_addr) in allocs.items():
            c["relays"][relay].update(mapped=ep(nat), relayed=ep(rel_addr))
    return out


def wire_details(rows, client, t_first_us, relay_names, mapped):
    """What the wire shows of ONE call whose datagrams (relay STUN and RTP of the client socket
    `client`) are `rows`, in capture order: the details a keyed call's entry carries next to its
    signaling (issue 15: merged, not listed twice). rows: dicts with frame, t_us, src, dst, kind
    ("stun"/"rtp"), bytes, and stun_type/txid (STUN) or ssrc/pt/seq/ts (RTP). The generator knows
    the relay's name (its signaled relay block) and the XOR-MAPPED address it wrote, passed in.
    A response's RTT is from the latest unanswered request with its transaction id (RFC 5389
    classes: 0x0100/0x0110 bits, WhatsApp's pong 0x0802 and 0x0805)."""
    rel = lambda r: (r["t_us"] - t_first_us) / 1e6  # noqa: E731
    d = {"start": rel(rows[0]), "end": rel(rows[-1]), "first_frame": rows[0]["frame"], "last_frame": rows[-1]["frame"],
         "local": [client], "relays": {}, "peers": {}, "paths": {}, "streams": {}}
    d["duration"] = d["end"] - d["start"]
    pending = {}
    for r in rows:
        remote = r["dst"] if r["src"] == client else r["src"]
        if r["kind"] == "stun":
            t = r["stun_type"]
            x = d["relays"].setdefault(remote, {"allocations": 0, "ok": 0, "errors": 0, "rtts_ms": [],
                                                "mapped": mapped.get(remote, "unknown"), "relayed": "unknown",
                                                "token": False, "name": relay_names.get(remote)})
            x["allocations"] += t == 0x0003
            x["token"] = x["token"] or (t == 0x0003 and r["src"] == client)
            x["ok"] += t == 0x0103
            x["errors"] += t == 0x0113
            response = (t & 0x0110) in (0x0100, 0x0110) or t in (0x0802, 0x0805)
            if response:
                if r["txid"] in pending:
                    x["rtts_ms"].append((r["t_us"] - pending.pop(r["txid"])) / 1000)
            else:
                pending[r["txid"]] = r["t_us"]
            continue
        p = d["paths"].setdefault(remote, {"relay": remote.endswith(":3478") or remote in d["relays"],
                                           "first": rel(r), "last": rel(r), "packets": 0})
        p["last"], p["packets"] = rel(r), p["packets"] + 1
        s = d["streams"].get(r["ssrc"])
        if s is None:
            s = d["streams"][r["ssrc"]] = {"ssrc": r["ssrc"], "ssrc_hex": f"0x{r['ssrc']:08X}",
                                           "dir": "sent" if r["src"] == client else "received",
                                           "kind": KIND.get(r["pt"], "unknown"), "pt": r["pt"], "packets": 0, "bytes": 0,
                                           "first": rel(r), "last": rel(r), "gaps": 0, "longest_gap": 0.0,
                                           "_j": 0.0, "_prev": None, "_ext": []}
        if s["packets"] and rel(r) - s["last"] >= GAP_S:
            s["gaps"] += 1
            s["longest_gap"] = max(s["longest_gap"], rel(r) - s["last"])
        s["packets"] += 1
        s["bytes"] += r["bytes"]
        s["last"] = rel(r)
        # Extended sequence number nearest the previous one (the streams cross 65535).
        q = r["seq"] if not s["_ext"] else s["_ext"][-1] + ((r["seq"] - s["_ext"][-1]) + 0x8000) % 0x10000 - 0x8000
        s["_ext"].append(q)
        if r["pt"] in CLOCK:  # RFC 3550 A.8 in arrival order
            transit = r["t_us"] / 1e6 - r["ts"] / CLOCK[r["pt"]]
            if s["_prev"] is not None:
                s["_j"] += (abs(transit - s["_prev"]) - s["_j"]) / 16
            s["_prev"] = transit
    for s in d["streams"].values():
        s["lost"] = max(0, max(s["_ext"]) - min(s["_ext"]) + 1 - len(s["_ext"]))
        s["jitter_ms"] = round(s["_j"] * 1e3, 3) if s["pt"] in CLOCK else None
        for k in ("_j", "_prev", "_ext"):
            del s[k]
    d["streams"] = list(d["streams"].values())
    d["paths"] = [dict(v, remote=k) for k, v in d["paths"].items()]
    return d


def make(outdir, manifest, selftests):
    frames, metas = build()
    pcapw.write_pcap(os.path.join(outdir, "keyless-two-calls.pcap"), frames)
    calls = model(metas)
    assert [c["index"] for c in calls] == [1, 2]
    assert calls[1]["start"] - calls[0]["end"] > 1.5, "call 2 is meant to follow call 1 closely"
    manifest["captures"].append({
        "name": "keyless-two-calls", "pcap": "keyless-two-calls.pcap", "keylog": None,
        "description": "two calls back to back without keys or signaling: call 1 with a relay switch (A to B, "
                       "same relay token), call 2 from a new client socket with a new token, moving to a "
                       "peer-to-peer path after Binding checks",
        "inferred_calls": calls,
        "frame_calls": {str(m["frame"]): m["call"] for m in metas}})
    selftests["keyless-two-calls.pcap"] = f"{len(frames)} frames, {len(calls)} calls"


if __name__ == "__main__":
    import json
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    m = {"captures": []}
    make(out, m, {})
    print(json.dumps(m["captures"][0]["inferred_calls"], indent=1)[:3000])
