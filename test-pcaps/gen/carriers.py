"""Byte carriers for a Noise stream: raw TCP, WebSocket over TCP, WebSocket over real TLS.

Every carrier has ``open()``, ``write(from_client, data, split=None, drop=())`` and ``close()``.
``write`` cuts ``data`` at the ``split`` sizes into units (TCP segments for raw TCP, WebSocket
messages for WS/WSS) and returns one ``(length, frame or None)`` per unit: the pcap frame that
completes the unit, or None if the unit was dropped. ``Capture`` merges flows into one pcap and
numbers the frames, so callers can tell tests on which frame a Noise frame completes.
"""
import base64
import datetime
import hashlib
import os
import ssl
import tempfile

import pcapw

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Capture:
    def __init__(self):
        self.flows = []
        self.numbers = {}

    def add(self, flow):
        self.flows.append(flow)
        return flow

    def write(self, path):
        frames = sorted((fr for f in self.flows for fr in f.frames), key=lambda x: x[0])
        pcapw.write_pcap(path, frames)
        self.numbers = {id(fr): i + 1 for i, fr in enumerate(frames)}
        return len(frames)

    def number(self, fr):
        return None if fr is None else self.numbers[id(fr)]


def mss_split(n, mss=1400):
    """Segment sizes that cut n bytes into MSS-sized TCP segments."""
    return [mss] * ((n - 1) // mss)


def _cut(data, split):
    chunks, pos = [], 0
    for n in split or []:
        chunks.append(data[pos:pos + n])
        pos += n
    if pos < len(data) or not chunks:
        chunks.append(data[pos:])
    return chunks


class TcpCarrier:
    kind = "tcp"

    def __init__(self, flow):
        self.flow = flow

    def open(self):
        self.flow.handshake()

    def write(self, from_client, data, split=None, drop=()):
        self.flow.send(from_client, data, mss_split(len(data)) if split is None else split, drop)
        return self.flow.last_sent

    def close(self):
        self.flow.close()


def ws_frame(payload, mask=None, opcode=2):
    """One FIN WebSocket frame (RFC 6455); client frames carry a mask."""
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([0x80 | opcode, mbit | n])
    elif n < 65536:
        hdr = bytes([0x80 | opcode, mbit | 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([0x80 | opcode, mbit | 127]) + n.to_bytes(8, "big")
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        hdr += mask
    return hdr + payload


class WsCarrier:
    """WebSocket binary messages over plain TCP after an HTTP/1.1 upgrade of GET /ws/chat."""
    kind = "ws"

    def __init__(self, flow, host="web.whatsapp.com", path="/ws/chat", seed="ws"):
        self.flow, self.host, self.path, self.seed = flow, host, path, seed
        self.nmask = 0

    def _xmit(self, from_client, data, split=None):
        """Sends bytes of the layer under WebSocket; returns the last pcap frame written."""
        self.flow.send(from_client, data, split)
        return self.flow.last_sent[-1][1]

    def _upgrade(self):
        key = base64.b64encode(hashlib.sha256(self.seed.encode()).digest()[:16]).decode()
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self._xmit(True, (f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nConnection: Upgrade\r\n"
                          f"Upgrade: websocket\r\nOrigin: https://web.whatsapp.com\r\nSec-WebSocket-Version: 13\r\n"
                          f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
        self._xmit(False, (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())

    def open(self):
        self.flow.handshake()
        self._upgrade()

    def _mask(self):
        self.nmask += 1
        return hashlib.sha256(f"{self.seed}|mask|{self.nmask}".encode()).digest()[:4]

    def write(self, from_client, data, split=None, drop=()):
        out = []
        for msg in _cut(data, split):
            wire = ws_frame(msg, self._mask() if from_client else None)
            # a message larger than one MSS goes out in several TCP segments
            out.append((len(msg), self._xmit(from_client, wire, mss_split(len(wire)))))
        return out

    def close(self):
        self.flow.close()


class WssCarrier(WsCarrier):
    """WebSocket inside a real TLS session run in-process with memory BIOs. The NSS key log is
    written to ``keylog_path`` so that Wireshark can decrypt the recorded bytes."""
    kind = "wss"

    def __init__(self, flow, keylog_path, **kw):
        super().__init__(flow, **kw)
        self.keylog_path = keylog_path

    def _contexts(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        key = ec.derive_private_key(0x5EED_CAFE_F00D, ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.host)])
        start = datetime.datetime(2023, 11, 1)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(0x3EB0).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(self.host)]), critical=False)
                .sign(key, hashes.SHA256()))
        tmp = tempfile.mkdtemp(prefix="wacall-tls-")
        cpath, kpath = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cpath, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(kpath, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cpath, kpath)
        sctx.set_alpn_protocols(["http/1.1"])
        os.remove(cpath)
        os.remove(kpath)
        os.rmdir(tmp)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        cctx.set_alpn_protocols(["http/1.1"])
        if os.path.exists(self.keylog_path):
            os.remove(self.keylog_path)
        cctx.keylog_filename = self.keylog_path
        return cctx, sctx

    def open(self):
        self.flow.handshake()
        cctx, sctx = self._contexts()
        self.bio = {True: (ssl.MemoryBIO(), ssl.MemoryBIO()), False: (ssl.MemoryBIO(), ssl.MemoryBIO())}
        self.tls = {True: cctx.wrap_bio(*self.bio[True], server_hostname=self.host),
                    False: sctx.wrap_bio(*self.bio[False], server_side=True)}
        done = {True: False, False: False}
        while not all(done.values()):
            for side in (True, False):
                if not done[side]:
                    try:
                        self.tls[side].do_handshake()
                        done[side] = True
                    except ssl.SSLWantReadError:
                        pass
                self._pump()
        self._upgrade()

    def _pump(self):
        """Moves TLS bytes between the two ends, recording each flight as a TCP segment."""
        last = None
        moved = True
        while moved:
            moved = False
            for side in (True, False):
                out = self.bio[side][1].read()
                if out:
                    moved = True
                    self.flow.send(side, out, mss_split(len(out)))
                    last = self.flow.last_sent[-1][1]
                    self.bio[not side][0].write(out)
                    try:  # the peer consumes application data (and session tickets)
                        while self.tls[not side].read(65536):
                            pass
                    except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                        pass
        return last

    def _xmit(self, from_client, data, split=None):
        self.tls[from_client].write(data)
        return self._pump()

