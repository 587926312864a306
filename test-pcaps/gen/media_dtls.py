"""The web-client media path: WARP packets as WebRTC DataChannel messages (SCTP DATA chunks,
PPID 53 "binary", stream 0, port 5000) inside DTLS 1.2 application data on UDP, as in the
reference digest's "WebRTC DataChannel over SCTP over DTLS over UDP" (§ relay transport).

The DTLS records are built here with `cryptography` (TLS 1.2 PRF, AES-128-GCM records with an
explicit nonce): ClientHello and ServerHello in the clear (they carry the randoms and the cipher
suite Wireshark needs), ChangeCipherSpec, then epoch-1 records. The master secret is written as a
NSS key log line (CLIENT_RANDOM), which Wireshark's `tls.keylog_file` also applies to DTLS. No
certificate or Finished message: Wireshark derives the record keys without them.
"""
import hashlib
import hmac
import os
import random
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import pcapw
import srtp_ref as sr
import warp_wire as ww
from media import T0_US, Call, _write, keylog_text, public_meta

SUITE = 0xC02F  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
DTLS12 = b"\xfe\xfd"
CLIENT, RELAY = ("192.0.2.44", 51820), ("198.51.100.9", 3480)
PPID_BINARY = 53


def prf_sha256(secret: bytes, label: bytes, seed: bytes, n: int) -> bytes:
    """TLS 1.2 PRF (RFC 5246 §5) with HMAC-SHA256."""
    out, a = b"", label + seed
    while len(out) < n:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + label + seed, hashlib.sha256).digest()
    return out[:n]


def handshake(msg_type: int, seq: int, body: bytes) -> bytes:
    n = len(body)
    return struct.pack(">B", msg_type) + n.to_bytes(3, "big") + struct.pack(">H", seq) + b"\0\0\0" + \
        n.to_bytes(3, "big") + body


def record(ctype: int, epoch: int, seq: int, fragment: bytes) -> bytes:
    return struct.pack(">B2sH", ctype, DTLS12, epoch) + seq.to_bytes(6, "big") + struct.pack(">H", len(fragment)) + \
        fragment


class DtlsWriter:
    """One direction of the epoch-1 record layer (AES-128-GCM, RFC 5288 nonce = IV4 ‖ explicit8)."""

    def __init__(self, key: bytes, iv4: bytes):
        self.aead, self.iv4, self.seq = AESGCM(key), iv4, 1  # seq 0 of epoch 1 would be the Finished

    def app_data(self, plain: bytes) -> bytes:
        seq48 = self.seq.to_bytes(6, "big")
        explicit = b"\x00\x01" + seq48  # epoch ‖ seq: unique per record
        aad = b"\x00\x01" + seq48 + bytes([23]) + DTLS12 + struct.pack(">H", len(plain))
        frag = explicit + self.aead.encrypt(self.iv4 + explicit, plain, aad)
        self.seq += 1
        return record(23, 1, self.seq - 1, frag)


def sctp_data(payload: bytes, tsn: int, ssn: int, vtag: int) -> bytes:
    """SCTP common header (5000 → 5000, checksum left 0: Wireshark does not check it by default)
    and one DATA chunk (B|E, stream 0, PPID 53)."""
    chunk = struct.pack(">BBHIHHI", 0, 0x03, 16 + len(payload), tsn, 0, ssn, PPID_BINARY) + payload
    chunk += b"\0" * (-len(chunk) % 4)
    return struct.pack(">HHII", 5000, 5000, vtag, 0) + chunk


def make(outdir, manifest, selftests):
    rng = random.Random(9339)
    call = Call(rng.randbytes(16).hex().upper(), rng.randbytes(32), "48213377210045@lid", "39517204881230:7@lid",
                "cmVsYXkta2V5LWZvci1kdGxz", rng.randbytes(16), 4, client=CLIENT, relay=RELAY)
    c_random, s_random, master = rng.randbytes(32), rng.randbytes(32), rng.randbytes(48)
    kb = prf_sha256(master, b"key expansion", s_random + c_random, 40)
    writers = {"c2s": DtlsWriter(kb[0:16], kb[32:36]), "s2c": DtlsWriter(kb[16:32], kb[36:40])}
    ch = DTLS12 + c_random + b"\x00" + b"\x00" + struct.pack(">HH", 2, SUITE) + b"\x01\x00"
    sh = DTLS12 + s_random + b"\x00" + struct.pack(">H", SUITE) + b"\x00"
    frames, metas = [], []

    def emit(t_us, direction, payload, meta=None):
        src, dst = (CLIENT, RELAY) if direction == "c2s" else (RELAY, CLIENT)
        frames.append((t_us / 1e6, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], payload)))
        if meta is not None:
            metas.append(dict(meta, frame=len(frames), direction=direction))

    t = T0_US
    emit(t, "c2s", record(22, 0, 0, handshake(1, 0, ch)))
    emit(t + 20_000, "s2c", record(22, 0, 0, handshake(2, 0, sh)))
    emit(t + 25_000, "s2c", record(20, 0, 1, b"\x01"))
    emit(t + 40_000, "c2s", record(20, 0, 1, b"\x01"))
    vtag = {"c2s": rng.getrandbits(32), "s2c": rng.getrandbits(32)}
    tsn = {"c2s": rng.getrandbits(31), "s2c": rng.getrandbits(31)}
    ssn = {"c2s": 0, "s2c": 0}

    def datachannel(t_us, direction, msg, meta):
        sctp = sctp_data(msg, tsn[direction], ssn[direction], vtag[direction])
        tsn[direction] += 1
        ssn[direction] += 1
        emit(t_us, direction, writers[direction].app_data(sctp), meta)

    ping = ww.stun_message(0x0801, rng.randbytes(12), [ww.stun_attr(ww.ATTR_RELAY_TOKEN, call.relay_token)],
                           call.mi_key, True)
    datachannel(t + 60_000, "c2s", ping, {"kind": "stun", "stun_type": 0x0801})
    for d_i, d in enumerate(("c2s", "s2c")):
        keys = call.keys[d]
        ssrc = call.ssrcs[d][0]
        seq0 = rng.randrange(0, 60000)
        for i in range(30):
            payload = rng.randbytes(rng.randrange(40, 110))
            plain = ww.speech_header(120, (seq0 + i) & 0xFFFF, 320 * i, ssrc, i == 0) + payload
            wire = sr.protect_rtp(keys.rtp, plain, 0, call.tag_len)
            datachannel(t + 100_000 + 20_000 * i + 7_000 * d_i, d, wire,
                        {"kind": "rtp", "ssrc": ssrc, "seq": (seq0 + i) & 0xFFFF, "participant": keys.pid,
                         "expect_decrypted": True, "payload_hex": payload.hex()})
    order = sorted(range(len(frames)), key=lambda i: frames[i][0])
    renum = {old + 1: new for new, old in enumerate(order, 1)}
    frames = [frames[i] for i in order]
    for m in metas:
        m["frame"] = renum[m["frame"]]
    pcapw.write_pcap(os.path.join(outdir, "media-dtls.pcap"), frames)
    _write(outdir, "media-dtls.keys", keylog_text(call, "media-dtls.pcap: web media path (DataChannel over DTLS)"))
    _write(outdir, "media-dtls.tls-keys.txt", f"CLIENT_RANDOM {c_random.hex()} {master.hex()}\n")
    manifest["captures"].append({
        "name": "media-dtls", "pcap": "media-dtls.pcap", "keylog": "media-dtls.keys",
        "tls_keylog": "media-dtls.tls-keys.txt", "call_id": call.call_id,
        "description": "web media path: STUN ping and E2E audio both ways as DataChannel messages "
                       "(SCTP PPID 53) inside DTLS 1.2 AES-128-GCM; decrypt DTLS with tls.keylog_file",
        "frames": sorted((public_meta(m) for m in metas), key=lambda m: m["frame"])})
    selftests["media-dtls.pcap"] = f"ok ({len(metas)} DataChannel messages in DTLS)"
