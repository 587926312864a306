"""Imperfect-TCP variants of every raw-TCP signaling capture (manifest["tcp_order"]).

Each variant is the clean capture's own bytes, re-cut into other TCP segments and written in
another order, as a capture point sees a real network: the Noise stream (every byte, every frame)
is the same, only its delivery differs. Variants:

  split3     the 2nd data segment of each direction cut into three, sent last-first
  pairs      every two consecutive data segments of a direction sent in swapped order (where no
             data of the peer lies between them in the capture)
  swap       two consecutive whole-frame segments of each direction swapped
  retrans    every 3rd data segment retransmitted at once (exact copy), and every 4th pair of
             consecutive segments followed by one overlapping both (tail of one, head of the next)
  lost       one whole-frame segment of each direction missing from the capture (the receiver got
             it: later ACKs cover it); `lost` in the entry names the Noise frames it carried
  lostmid    a frame cut into three segments whose middle one is missing (only that frame is lost)

ACK numbers are recomputed for the new order (what the receiver can acknowledge: contiguous data
including segments the capture lost), so a variant is self-consistent TCP. Non-TCP frames (the
sample call's media) keep their place. Independent of the plugin: plain struct parsing.
"""
import os
import shutil
import struct

import pcapw

SOURCES = ["sig-tcp443", "sig-tcp5222-private", "sig-v2dict", "sig-ik", "sig-corrupt", "sig-ack-error", "sample/call"]
VARIANTS = ["split3", "pairs", "swap", "retrans", "lost", "lostmid"]


class Seg:
    """A TCP packet of the capture (or a placeholder for one the capture lost)."""

    def __init__(self, ts, src, sport, dst, dport, seq, ack, flags, payload, v6):
        self.ts, self.src, self.sport, self.dst, self.dport = ts, src, sport, dst, dport
        self.seq, self.ack, self.flags, self.payload, self.v6 = seq, ack, flags, payload, v6
        self.lost = False

    def copy(self, **kw):
        s = Seg(self.ts, self.src, self.sport, self.dst, self.dport, self.seq, self.ack, self.flags, self.payload,
                self.v6)
        s.lost = self.lost
        s.__dict__.update(kw)
        return s

    @property
    def key(self):  # direction key: (src, sport)
        return self.src, self.sport

    def frame(self):
        return pcapw.tcp_frame(self.src, self.sport, self.dst, self.dport, self.seq, self.ack, self.flags,
                               self.payload)


def _addr(b):
    import ipaddress
    return str(ipaddress.ip_address(b))


def parse(ts, fr):
    """A Seg for an Ethernet/IP/TCP frame as pcapw writes them, else None."""
    et = struct.unpack_from("!H", fr, 12)[0]
    if et == 0x0800:
        ihl = (fr[14] & 15) * 4
        if fr[23] != 6:
            return None
        src, dst, l4 = _addr(fr[26:30]), _addr(fr[30:34]), 14 + ihl
        end = 14 + struct.unpack_from("!H", fr, 16)[0]
        v6 = False
    elif et == 0x86DD:
        if fr[20] != 6:
            return None
        src, dst, l4 = _addr(fr[22:38]), _addr(fr[38:54]), 54
        end = 54 + struct.unpack_from("!H", fr, 18)[0]
        v6 = True
    else:
        return None
    sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", fr, l4)
    return Seg(ts, src, sport, dst, dport, seq, ack, flags, bytes(fr[l4 + (off >> 4) * 4:end]), v6)


def fix_acks(items):
    """Sets every ACK to what its sender has received contiguously from the peer so far."""
    rcv = {}     # receiver key -> next expected seq
    ranges = {}  # receiver key -> [(start, end)] received beyond rcv
    for it in items:
        if not isinstance(it, Seg):
            continue
        me, peer = it.key, (it.dst, it.dport)
        length = len(it.payload) + (1 if it.flags & (pcapw.SYN | pcapw.FIN) else 0)
        if it.flags & pcapw.SYN:
            rcv[peer] = it.seq + 1
            ranges[peer] = []
        elif peer in rcv and length:
            ranges[peer].append((it.seq, it.seq + length))
            moved = True
            while moved:
                moved = False
                for a, b in ranges[peer]:
                    if a <= rcv[peer] < b:
                        rcv[peer], moved = b, True
        if it.flags & pcapw.ACK and me in rcv:
            it.ack = rcv[me]


def write(path, items):
    frames, last = [], 0.0
    for it in items:
        if isinstance(it, Seg) and it.lost:
            continue
        ts, fr = (it.ts, it.frame()) if isinstance(it, Seg) else it
        ts = max(ts, last + 1e-6)  # capture order is file order: keep time monotonic
        last = ts
        frames.append((ts, fr))
    pcapw.write_pcap(path, frames)
    return len(frames)


# ---- Noise stream structure (to pick whole-frame segments and name the frames a loss costs) ----
def frame_ranges(stream, from_client):
    """[(start, end)] of each 3-byte-length Noise frame in a direction's byte stream (offsets)."""
    pos = 0
    if from_client:
        if stream[:4] == b"ED\x00\x01":
            pos = 7 + int.from_bytes(stream[4:7], "big")
        pos += 4  # "WA" + protocol + dictionary version
    out = []
    while pos + 3 <= len(stream):
        n = 3 + int.from_bytes(stream[pos:pos + 3], "big")
        out.append((pos, pos + n))
        pos += n
    return out


class Flow:
    """The data segments of one direction of one connection, in clean order."""

    def __init__(self, key, segs, n_handshake):
        self.key, self.segs = key, segs
        base = segs[0].seq
        self.base = base
        stream = b"".join(s.payload for s in segs)
        self.from_client = n_handshake > 1 or stream[:2] in (b"WA", b"ED")
        self.frames = frame_ranges(stream, self.from_client)
        self.n_handshake = n_handshake

    def off(self, s):
        return s.seq - self.base

    def whole(self, s):
        """Indexes of the frames a segment carries when it starts and ends on frame boundaries
        after the handshake, else None."""
        a, b = self.off(s), self.off(s) + len(s.payload)
        idx = [i for i, (x, y) in enumerate(self.frames) if a <= x and y <= b]
        if not idx or self.frames[idx[0]][0] != a or self.frames[idx[-1]][1] != b or idx[0] < self.n_handshake:
            return None
        return idx

    def cost(self, a, b):
        """Noise frames touched by the stream bytes [a, b): (direction, counter) pairs."""
        d = "c2s" if self.from_client else "s2c"
        client = "%s:%d" % (self.key[:2] if self.from_client else self.key[2:])
        return [{"client": client, "direction": d, "counter": i - self.n_handshake} for i, (x, y) in enumerate(self.frames)
                if x < b and y > a and i >= self.n_handshake]


def flows_of(segs, cap):
    """Flow per direction of every connection of the capture."""
    hs = {}
    for con in cap["connections"]:
        c_ip, c_port = con["client"].rsplit(":", 1)
        s_ip, s_port = con["server"].rsplit(":", 1)
        nc = sum(1 for h in con["handshake"] if h["direction"] == "c2s")
        ns = sum(1 for h in con["handshake"] if h["direction"] == "s2c")
        hs[(c_ip, int(c_port))] = nc
        hs[(s_ip, int(s_port), c_ip, int(c_port))] = ns
    out = {}
    for s in segs:
        if s.payload:
            out.setdefault((s.src, s.sport, s.dst, s.dport), []).append(s)
    flows = []
    for (src, sport, dst, dport), ss in out.items():
        n = hs.get((src, sport)) or hs.get((src, sport, dst, dport), 1)
        flows.append(Flow((src, sport, dst, dport), ss, n))
    return flows


# ---- the variants ------------------------------------------------------------------------------
def variant(items, flows, kind, expect):
    """Returns (new items, lost frames) for one variant kind. expect((client, direction, counter))
    is the manifest's expectation of a frame: only intact ("ok") frames are chosen to be lost."""
    lost = []
    where = {id(it): i for i, it in enumerate(items)}

    def between(x, y):  # data segments of the other direction between two segments of one
        return any(isinstance(it, Seg) and it.payload and it.key != x.key for it in items[where[id(x)] + 1:where[id(y)]])

    def intact(fl, s):
        # the frames lost and the one after them are good ones: where the stream resumes after a
        # loss is proven by the next frame's GCM tag, so a corrupted frame there would go too
        cost = fl.cost(fl.off(s), fl.off(s) + len(s.payload))
        nxt = [dict(c, counter=c["counter"] + 1) for c in cost[-1:]]
        return all(expect((c["client"], c["direction"], c["counter"])) in ("ok", None) for c in cost + nxt)
    repl = {}    # id(item) -> list of items replacing it in its slot
    after = {}   # id(item) -> items inserted after it
    for fl in flows:
        segs = fl.segs
        if kind == "split3":
            s = segs[1] if len(segs) > 1 else segs[0]
            p = s.payload
            if len(p) >= 3:
                a, b = len(p) // 3, 2 * len(p) // 3
                parts = [s.copy(payload=p[:a]), s.copy(seq=s.seq + a, payload=p[a:b]),
                         s.copy(seq=s.seq + b, payload=p[b:])]
                repl[id(s)] = parts[::-1]
        elif kind == "pairs":
            # swapped where the capture has them back to back (no reply of the peer in between:
            # a reply to bytes not yet delivered cannot be in a real capture)
            i = 0
            while i < len(segs) - 1:
                x, y = segs[i], segs[i + 1]
                if between(x, y):
                    i += 1
                    continue
                repl[id(x)], repl[id(y)] = [y], [x]
                i += 2
        elif kind == "swap":
            cands = [i for i in range(len(segs) - 1) if fl.whole(segs[i]) and fl.whole(segs[i + 1])]
            if cands:
                x, y = segs[cands[0]], segs[cands[0] + 1]
                repl[id(x)], repl[id(y)] = [y], [x]
        elif kind == "retrans":
            for i, s in enumerate(segs):
                if i % 3 == 2:
                    after.setdefault(id(s), []).append(s.copy())
            for i in range(1, len(segs), 4):
                x, y = segs[i - 1], segs[i]
                if len(x.payload) >= 2 and len(y.payload) >= 2:
                    h = len(x.payload) // 2
                    ov = x.copy(seq=x.seq + h, payload=x.payload[h:] + y.payload[:len(y.payload) // 2])
                    after.setdefault(id(y), []).append(ov)
        elif kind == "lost":
            cands = [s for s in segs[:-1] if fl.whole(s) and intact(fl, s)]
            if cands:
                s = cands[len(cands) // 2]
                repl[id(s)] = [s.copy(lost=True)]
                lost += fl.cost(fl.off(s), fl.off(s) + len(s.payload))
        elif kind == "lostmid":
            cands = [s for s in segs[:-1] if fl.whole(s) and len(fl.whole(s)) == 1 and len(s.payload) >= 30
                     and intact(fl, s)]
            if cands:
                s = cands[len(cands) // 2]
                p = s.payload
                a, b = len(p) // 3, 2 * len(p) // 3
                repl[id(s)] = [s.copy(payload=p[:a]), s.copy(seq=s.seq + a, payload=p[a:b], lost=True),
                               s.copy(seq=s.seq + b, payload=p[b:])]
                lost += fl.cost(fl.off(s), fl.off(s) + len(p))
    out = []
    for it in items:
        slot = it.ts if isinstance(it, Seg) else it[0]
        # whatever is written in a slot takes the slot's time: only the order changes
        for n in repl.get(id(it), [it]) + after.get(id(it), []):
            out.append(n.copy(ts=slot) if isinstance(n, Seg) else n)
    fix_acks(out)
    return out, lost


def make(outdir, manifest, selftests):
    by_name = {c["name"]: c for c in manifest["captures"]}
    entries = []
    for name in SOURCES:
        cap = by_name[name]
        raw = pcapw.read_pcap(os.path.join(outdir, cap["pcap"]))
        items = []
        for ts, fr in raw:
            s = parse(ts, fr)
            items.append(s if s is not None else (ts, fr))
        # self-check: re-serialising the clean capture (ACKs recomputed) gives the same bytes
        clean = [it.copy() if isinstance(it, Seg) else it for it in items]
        fix_acks(clean)
        for it, (ts, fr) in zip(clean, raw):
            if isinstance(it, Seg):
                assert it.frame() == fr, f"tcp_order: {name} does not re-serialise"
        flows = flows_of([it for it in items if isinstance(it, Seg)], cap)
        expects = {(con["client"], f["direction"], f["counter"]): f.get("expect", "ok")
                   for con in cap["connections"] for f in con["frames"]}
        for kind in VARIANTS:
            new, lost = variant(items, flows, kind, expects.get)
            pcap = f"tcp-order/{name.replace('/', '-')}-{kind}.pcap"
            path = os.path.join(outdir, pcap)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            n = write(path, new)
            keylog = None
            if cap.get("keylog"):
                keylog = f"tcp-order/{os.path.basename(cap['keylog'])}"
                src_keys = os.path.join(outdir, cap["keylog"])
                shutil.copyfile(src_keys, os.path.join(outdir, keylog))
            entries.append({"name": f"{name}-{kind}", "source": name, "variant": kind, "pcap": pcap,
                            "keylog": keylog, "pcap_frames": n, "lost": lost})
    manifest["tcp_order"] = {"variants": VARIANTS, "sources": SOURCES, "captures": entries,
                             "doc": __doc__.strip()}
    selftests["tcp_order"] = f"ok ({len(entries)} variants of {len(SOURCES)} captures)"
