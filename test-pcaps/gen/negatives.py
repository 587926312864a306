#!/usr/bin/python3
"""Negatives: traffic that is not WhatsApp on the ports and address ranges WhatsApp also uses.
The plugin must leave every frame of these exactly as stock Wireshark shows it (same protocol
stack, same -V tree, same reassembly and TLS decryption): tests/integration/test_no_trace.py.

    /usr/bin/python3 negatives.py OUTDIR      (make_all.py runs it too)

Captures (manifest["negatives"]):
- neg-https.pcap + neg-https.tlskeys: TLS 1.2 on 443 whose server Certificate record spans three
  TCP segments, then HTTP; a TLS 1.3 connection on 443; the NSS key log of both (real TLS
  sessions run in-process, so the bytes differ on every run).
- neg-xmpp.pcap: a plaintext XMPP client stream on 5222, one stanza cut over two segments.
- neg-webrtc.pcap: a WebRTC call through a TURN server on 3478 (IPv4) and a direct ICE path
  (IPv6): ICE STUN (USERNAME, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT), a DTLS
  handshake, SRTP (RFC 8285 one-byte header extensions) and SRTCP, TURN ChannelBind and
  ChannelData.
- neg-turn-meta.pcap: a TURN allocation on a Meta relay address (157.240.0.0/16) with
  comprehension-optional vendor attributes, but no WhatsApp mark (no 0x40xx attribute, no 0x08xx
  message, no 0xDEBE extension).
"""
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import random
import ssl
import struct
import sys
import tempfile
import zlib

import pcapw
from carriers import mss_split

COOKIE = 0x2112A442
T0 = 1_700_100_000.0


# ---- TLS -------------------------------------------------------------------------------------

def _tls_contexts(keylog_path, host, n_names, tls13):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.derive_private_key(0x0EC0FFEE + n_names, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    start = datetime.datetime(2023, 11, 1)
    # Many subject alternative names make a certificate of a few kilobytes, as CDN certificates are.
    sans = [x509.DNSName(host)] + [x509.DNSName(f"edge-{i:03d}.{host}") for i in range(n_names)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x7E57 + n_names).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    tmp = tempfile.mkdtemp(prefix="wacall-neg-tls-")
    cpath, kpath = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kpath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cpath, kpath)
    for p in (cpath, kpath):
        os.remove(p)
    os.rmdir(tmp)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    for ctx in (cctx, sctx):
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_alpn_protocols(["http/1.1"])
    cctx.keylog_filename = keylog_path
    return cctx, sctx, len(cert.public_bytes(serialization.Encoding.DER))


class TlsSession:
    """A real TLS session between two memory BIOs, each flight recorded as MSS-sized segments."""

    def __init__(self, flow, keylog_path, host, n_names=0, tls13=False):
        self.flow = flow
        cctx, sctx, self.cert_len = _tls_contexts(keylog_path, host, n_names, tls13)
        self.bio = {side: (ssl.MemoryBIO(), ssl.MemoryBIO()) for side in (True, False)}
        self.tls = {True: cctx.wrap_bio(*self.bio[True], server_hostname=host),
                    False: sctx.wrap_bio(*self.bio[False], server_side=True)}
        self.received = {True: b"", False: b""}

    def _pump(self):
        moved = True
        while moved:
            moved = False
            for side in (True, False):
                out = self.bio[side][1].read()
                if not out:
                    continue
                moved = True
                split = mss_split(len(out))
                self.flow.send(side, out, split)
                self.bio[not side][0].write(out)
                try:
                    while True:
                        data = self.tls[not side].read(65536)
                        if not data:
                            break
                        self.received[not side] += data
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    pass

    def handshake(self):
        self.flow.handshake()
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
        return self

    def send(self, from_client, data):
        self.tls[from_client].write(data)
        self._pump()


def make_https(outdir):
    keylog = os.path.join(outdir, "neg-https.tlskeys")
    if os.path.exists(keylog):
        os.remove(keylog)
    flows, facts = [], {}
    host = "cdn.example.com"
    # TLS 1.2: the Certificate travels in the clear; 110 extra names make it span three segments.
    f12 = pcapw.TcpFlow("192.0.2.50", 51000, "198.51.100.80", 443, t0=T0, isn_c=7000, isn_s=90000)
    s12 = TlsSession(f12, keylog, host, n_names=110).handshake()
    s12.send(True, b"GET /index.html HTTP/1.1\r\nHost: cdn.example.com\r\nUser-Agent: neg/1\r\n\r\n")
    body = b"<html><body>" + b"not whatsapp " * 40 + b"</body></html>"
    s12.send(False, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    f12.close()
    flows.append(f12)
    facts["tls12_cert_len"] = s12.cert_len
    # TLS 1.3 on another connection.
    f13 = pcapw.TcpFlow("192.0.2.50", 51001, "198.51.100.80", 443, t0=T0 + 5, isn_c=8000, isn_s=91000)
    s13 = TlsSession(f13, keylog, host, tls13=True).handshake()
    s13.send(True, b"GET /v13 HTTP/1.1\r\nHost: cdn.example.com\r\n\r\n")
    s13.send(False, b"HTTP/1.1 204 No Content\r\n\r\n")
    f13.close()
    flows.append(f13)
    frames = sorted((fr for f in flows for fr in f.frames), key=lambda x: x[0])
    pcapw.write_pcap(os.path.join(outdir, "neg-https.pcap"), frames)
    facts["http_requests"] = ["/index.html", "/v13"]
    return {"name": "neg-https", "pcap": "neg-https.pcap", "tls_keylog": "neg-https.tlskeys", "facts": facts,
            "description": "TLS 1.2 (Certificate over 3 segments) and TLS 1.3 on 443, with their key log"}


# ---- XMPP ------------------------------------------------------------------------------------

def make_xmpp(outdir):
    f = pcapw.TcpFlow("192.0.2.51", 52000, "198.51.100.81", 5222, t0=T0 + 20, isn_c=3000, isn_s=4000)
    f.handshake()
    f.send(True, b"<?xml version='1.0'?><stream:stream to='example.org' xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    f.send(False, b"<?xml version='1.0'?><stream:stream from='example.org' id='neg1' xmlns='jabber:client' "
                  b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features>"
                  b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
                  b"</mechanisms></stream:features>")
    f.send(True, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABwYXNz</auth>")
    f.send(False, b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    msg = (b"<message to='romeo@example.net' from='juliet@example.org/balcony' type='chat' id='m1'>"
           b"<body>Wherefore art thou?</body></message>")
    f.send(True, msg, split=[40])  # one stanza over two segments
    f.send(True, b"</stream:stream>")
    f.close()
    pcapw.write_pcap(os.path.join(outdir, "neg-xmpp.pcap"), f.frames)
    return {"name": "neg-xmpp", "pcap": "neg-xmpp.pcap", "description": "plaintext XMPP client stream on 5222"}


# ---- STUN / TURN / DTLS / SRTP ----------------------------------------------------------------

def _attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def _xor_addr(ip, port, txid):
    a = ipaddress.ip_address(ip)
    xport = port ^ (COOKIE >> 16)
    if a.version == 4:
        return struct.pack("!BBH", 0, 1, xport) + struct.pack("!I", int(a) ^ COOKIE)
    mask = struct.pack("!I", COOKIE) + txid
    return struct.pack("!BBH", 0, 2, xport) + bytes(x ^ y for x, y in zip(a.packed, mask))


def stun(mtype, txid, attrs, key=None, fingerprint=True):
    """RFC 5389 message; MESSAGE-INTEGRITY (HMAC-SHA1 with `key`) and FINGERPRINT when asked."""
    body = b"".join(_attr(t, v) for t, v in attrs)
    if key is not None:
        hdr = struct.pack("!HHI", mtype, len(body) + 24, COOKIE) + txid
        body += _attr(0x0008, hmac.new(key, hdr + body, hashlib.sha1).digest())
    if fingerprint:
        hdr = struct.pack("!HHI", mtype, len(body) + 8, COOKIE) + txid
        body += _attr(0x8028, struct.pack("!I", (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF))
    return struct.pack("!HHI", mtype, len(body), COOKIE) + txid + body


def dtls_record(ctype, epoch, seq, body):
    return struct.pack("!BHH", ctype, 0xFEFD, epoch) + seq.to_bytes(6, "big") + struct.pack("!H", len(body)) + body


def dtls_handshake(msg_type, msg_seq, body):
    n = len(body)
    return struct.pack("!B", msg_type) + n.to_bytes(3, "big") + struct.pack("!H", msg_seq) + (0).to_bytes(3, "big") \
        + n.to_bytes(3, "big") + body


def dtls_client_hello(rnd):
    ext = (struct.pack("!HH", 0x000E, 5) + struct.pack("!HHB", 2, 0x0001, 0)            # use_srtp
           + struct.pack("!HHH", 0x000A, 4, 2) + struct.pack("!H", 0x001D)              # supported_groups
           + struct.pack("!HH", 0xFF01, 1) + b"\0")                                    # renegotiation_info
    body = struct.pack("!H", 0xFEFD) + rnd.randbytes(32) + b"\0" + b"\0" + struct.pack("!HH", 2, 0xC02B) + b"\x01\x00" \
        + struct.pack("!H", len(ext)) + ext
    return dtls_handshake(1, 0, body)


def dtls_server_hello(rnd):
    ext = struct.pack("!HH", 0x000E, 5) + struct.pack("!HHB", 2, 0x0001, 0)
    body = struct.pack("!H", 0xFEFD) + rnd.randbytes(32) + b"\x20" + rnd.randbytes(32) + struct.pack("!H", 0xC02B) \
        + b"\0" + struct.pack("!H", len(ext)) + ext
    return dtls_handshake(2, 0, body)


def srtp_packet(rnd, pt, seq, ts, ssrc, marker=False):
    """RTP with an RFC 8285 one-byte header extension (0xBEDE: audio level, transport-wide seq),
    an encrypted-looking payload and a 10-byte HMAC-SHA1-80 tag."""
    ext = bytes([0x10, 0x80 | 30, 0x31, seq >> 8 & 0xFF, seq & 0xFF, 0, 0, 0])
    hdr = struct.pack("!BBHII", 0x90, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    return hdr + struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext + rnd.randbytes(60) + rnd.randbytes(10)


def srtcp_packet(rnd, ssrc, index):
    sr = struct.pack("!BBHI", 0x80, 200, 6, ssrc)  # header and sender SSRC stay clear in SRTCP
    return sr + rnd.randbytes(20) + struct.pack("!I", 0x80000000 | index) + rnd.randbytes(10)


def channel_data(channel, data):
    return struct.pack("!HH", channel, len(data)) + data + b"\0" * (-len(data) % 4)


def make_webrtc(outdir):
    rnd = random.Random("neg-webrtc")
    frames, t = [], T0 + 40
    cli, turn, peer = ("192.0.2.60", 50500), ("198.51.100.90", 3478), ("198.51.100.91", 3478)

    def put(src, dst, payload):
        nonlocal t
        t += 0.01
        frames.append((t, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)))

    ice_pwd = b"neg-ice-password-0123456789"
    turn_key = hashlib.md5(b"alice:example.org:turnpass").digest()
    # TURN: ChannelBind for the peer (authenticated), then media as ChannelData.
    tx = rnd.randbytes(12)
    put(cli, turn, stun(0x0009, tx, [(0x000C, struct.pack("!HH", 0x4000, 0)),
                                     (0x0012, _xor_addr(peer[0], 40000, tx)), (0x0006, b"alice"),
                                     (0x0014, b"example.org"), (0x0015, b"nonce-0123456789")], key=turn_key))
    put(turn, cli, stun(0x0109, tx, [], key=turn_key))
    # ICE connectivity check straight to the peer, on 3478 too.
    tx = rnd.randbytes(12)
    put(cli, peer, stun(0x0001, tx, [(0x0006, b"rFrag:lFrag"), (0x0024, struct.pack("!I", 0x6E7F1EFF)),
                                     (0x802A, rnd.randbytes(8)), (0x0025, b"")], key=ice_pwd))
    put(peer, cli, stun(0x0101, tx, [(0x0020, _xor_addr(cli[0], cli[1], tx))], key=ice_pwd))
    # DTLS handshake (first flights) on the ICE path.
    put(cli, peer, dtls_record(22, 0, 0, dtls_client_hello(rnd)))
    put(peer, cli, dtls_record(22, 0, 0, dtls_server_hello(rnd)))
    put(cli, peer, dtls_record(20, 0, 1, b"\x01"))
    put(cli, peer, dtls_record(22, 1, 0, rnd.randbytes(40)))  # encrypted Finished
    # SRTP both ways, SRTCP now and then, and the same media relayed as ChannelData.
    ssrc_a, ssrc_b = 0x1A2B3C4D, 0x5E6F7081
    for i in range(30):
        put(cli, peer, srtp_packet(rnd, 111, 1000 + i, 48000 + 960 * i, ssrc_a, marker=i == 0))
        put(peer, cli, srtp_packet(rnd, 111, 7000 + i, 96000 + 960 * i, ssrc_b, marker=i == 0))
        if i % 10 == 9:
            put(cli, peer, srtcp_packet(rnd, ssrc_a, i // 10 + 1))
        if i % 3 == 0:
            put(cli, turn, channel_data(0x4000, srtp_packet(rnd, 111, 20000 + i, 5000 + 960 * i, 0x0BADCAFE)))
    # The same checks over IPv6.
    cli6, peer6 = ("2001:db8:60::10", 50600), ("2001:db8:91::20", 3478)
    tx = rnd.randbytes(12)
    put(cli6, peer6, stun(0x0001, tx, [(0x0006, b"rFrag:lFrag"), (0x0024, struct.pack("!I", 0x6E7F1EFE)),
                                       (0x802A, rnd.randbytes(8))], key=ice_pwd))
    put(peer6, cli6, stun(0x0101, tx, [(0x0020, _xor_addr(cli6[0], cli6[1], tx))], key=ice_pwd))
    for i in range(5):
        put(cli6, peer6, srtp_packet(rnd, 111, 3000 + i, 1000 + 960 * i, 0x22334455))
    pcapw.write_pcap(os.path.join(outdir, "neg-webrtc.pcap"), frames)
    return {"name": "neg-webrtc", "pcap": "neg-webrtc.pcap",
            "description": "WebRTC on 3478: ICE STUN, DTLS, SRTP/SRTCP, TURN ChannelBind/ChannelData, IPv6 checks"}


def make_turn_meta(outdir):
    rnd = random.Random("neg-turn-meta")
    frames, t = [], T0 + 80
    cli, relay = ("192.0.2.70", 41000), ("157.240.1.53", 3478)

    def put(src, dst, payload):
        nonlocal t
        t += 0.02
        frames.append((t, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)))

    vendor = [(0xC057, struct.pack("!HH", 1, 0x0010)), (0x8054, rnd.randbytes(6)), (0x8022, b"messenger-turn/1.0")]
    tx = rnd.randbytes(12)
    put(cli, relay, stun(0x0003, tx, [(0x0019, struct.pack("!B3x", 17)), (0x000D, struct.pack("!I", 600))] + vendor))
    put(relay, cli, stun(0x0113, tx, [(0x0009, struct.pack("!HBB", 0, 4, 1) + b"Unauthorized"),
                                      (0x0014, b"meta.example"), (0x0015, b"0123456789abcdef")]))
    key = hashlib.md5(b"user:meta.example:secret").digest()
    tx = rnd.randbytes(12)
    put(cli, relay, stun(0x0003, tx, [(0x0019, struct.pack("!B3x", 17)), (0x0006, b"user"), (0x0014, b"meta.example"),
                                      (0x0015, b"0123456789abcdef")] + vendor, key=key))
    put(relay, cli, stun(0x0103, tx, [(0x0016, _xor_addr(relay[0], 50123, tx)), (0x0020, _xor_addr(cli[0], cli[1], tx)),
                                      (0x000D, struct.pack("!I", 600))], key=key))
    for i in range(4):  # Send indications carrying SRTP to a peer, and Data indications back
        tx = rnd.randbytes(12)
        put(cli, relay, stun(0x0016, tx, [(0x0012, _xor_addr("198.51.100.99", 3478, tx)),
                                          (0x0013, srtp_packet(rnd, 96, 100 + i, 3000 * i, 0x31415926))],
                             fingerprint=False))
        tx = rnd.randbytes(12)
        put(relay, cli, stun(0x0017, tx, [(0x0012, _xor_addr("198.51.100.99", 3478, tx)),
                                          (0x0013, srtp_packet(rnd, 96, 500 + i, 7000 * i, 0x27182818))],
                             fingerprint=False))
    tx = rnd.randbytes(12)
    put(cli, relay, stun(0x0004, tx, [(0x000D, struct.pack("!I", 0)), (0x0006, b"user"), (0x0014, b"meta.example"),
                                      (0x0015, b"0123456789abcdef")], key=key))
    pcapw.write_pcap(os.path.join(outdir, "neg-turn-meta.pcap"), frames)
    return {"name": "neg-turn-meta", "pcap": "neg-turn-meta.pcap",
            "description": "TURN allocation on a Meta relay address with vendor attributes, no WhatsApp mark"}


def make(outdir, manifest):
    entries = [make_https(outdir), make_xmpp(outdir), make_webrtc(outdir), make_turn_meta(outdir)]
    manifest["negatives"] = entries
    return entries


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: negatives.py OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    m = {}
    make(sys.argv[1], m)
    print(json.dumps(m, indent=1))
