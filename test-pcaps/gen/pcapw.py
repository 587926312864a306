"""Minimal pcap writer (Ethernet + IPv4/IPv6 + TCP/UDP) built on struct only.

Independent of the plugin: the capture generator uses this to lay real protocol bytes into
frames. Timestamps are explicit so captures are byte-for-byte reproducible.
"""
import ipaddress
import struct

LINKTYPE_ETHERNET = 1


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _l4_checksum(src: str, dst: str, proto: int, seg: bytes) -> int:
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if a.version == 4:
        pseudo = a.packed + b.packed + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = a.packed + b.packed + struct.pack("!IxxxB", len(seg), proto)
    return _csum(pseudo + seg)


def ip_packet(src: str, dst: str, proto: int, l4: bytes, ident: int = 0) -> bytes:
    a = ipaddress.ip_address(src)
    if a.version == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident & 0xFFFF, 0x4000, 64, proto, 0,
                          a.packed, ipaddress.ip_address(dst).packed)
        hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
        return hdr + l4
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, a.packed,
                       ipaddress.ip_address(dst).packed) + l4


def ether(payload: bytes, v6: bool = False) -> bytes:
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", 0x86DD if v6 else 0x0800) + payload


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = _l4_checksum(src, dst, 17, seg) or 0xFFFF
    seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return ether(ip_packet(src, dst, 17, seg), ipaddress.ip_address(src).version == 6)


def tcp_frame(src: str, sport: int, dst: str, dport: int, seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + payload
    c = _l4_checksum(src, dst, 6, seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return ether(ip_packet(src, dst, 6, seg), ipaddress.ip_address(src).version == 6)


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


class TcpFlow:
    """One TCP connection. send() appends segments; `frames` is a list of (time, bytes)."""

    def __init__(self, cli, cport, srv, sport, t0=1_700_000_000.0, isn_c=1000, isn_s=50000):
        self.c, self.cp, self.s, self.sp = cli, cport, srv, sport
        self.cseq, self.sseq = isn_c, isn_s
        self.t = t0
        self.frames = []

    def _emit(self, from_client, flags, payload=b""):
        self.t += 0.001
        ack = self.sseq if flags & ACK else 0  # a bare SYN carries no acknowledgment number
        if from_client:
            fr = tcp_frame(self.c, self.cp, self.s, self.sp, self.cseq, ack, flags, payload)
        else:
            fr = tcp_frame(self.s, self.sp, self.c, self.cp, self.sseq, self.cseq, flags, payload)
        self.frames.append((self.t, fr))
        return self.frames[-1]

    def idle(self, seconds):
        """Advances the clock, e.g. to leave room for media between two stanzas."""
        self.t += seconds
        return self

    def handshake(self):
        self._emit(True, SYN)
        self.cseq += 1
        self.t += 0.001
        self.frames.append((self.t, tcp_frame(self.s, self.sp, self.c, self.cp, self.sseq, self.cseq, SYN | ACK, b"")))
        self.sseq += 1
        self._emit(True, ACK)
        return self

    def send(self, from_client: bool, data: bytes, split=None, drop=()):
        """Sends data as one segment, or as segments of the sizes in `split` (the rest goes in
        a last segment). Segment indexes in `drop` are consumed (sequence advances) but not
        written, to simulate a capture that lost them."""
        sizes = list(split or [])
        chunks, pos = [], 0
        for n in sizes:
            chunks.append(data[pos:pos + n])
            pos += n
        if pos < len(data) or not chunks:
            chunks.append(data[pos:])
        # last_sent: one (length, frame tuple or None when dropped) per segment, so callers can
        # map stream offsets to the pcap frames that carry them
        self.last_sent = []
        for i, ch in enumerate(chunks):
            self.last_sent.append((len(ch), None if i in drop else self._emit(from_client, PSH | ACK, ch)))
            if from_client:
                self.cseq += len(ch)
            else:
                self.sseq += len(ch)
        return self

    def close(self):
        self._emit(True, FIN | ACK)
        self.cseq += 1
        self._emit(False, FIN | ACK)
        self.sseq += 1
        self._emit(True, ACK)
        return self


def write_pcap(path, frames):
    """frames: iterable of (timestamp_float, frame_bytes), written in the given order."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for ts, fr in frames:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    """Reads back a pcap written by write_pcap: [(timestamp_float, frame_bytes)]."""
    with open(path, "rb") as f:
        data = f.read()
    out, p = [], 24
    while p + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, p)
        out.append((sec + usec / 1e6, data[p + 16:p + 16 + incl]))
        p += 16 + incl
    return out
