"""Wire builders for the relay path: the STUN dialect, WARP RTP headers, RTCP, the group
forwarding envelope and the small protobufs they carry.

Written from reference-digest-whatsapp-rust.md §4.1-4.4, 4.10-4.11 and pinned to its §5.4
vectors by selftest(). No crypto beyond STUN's HMAC/CRC lives here (see srtp_ref.py).
"""
import hashlib
import hmac
import ipaddress
import struct
import zlib

from srtp_ref import DESCRIPTOR_STREAM_SUB

MAGIC = 0x2112A442
FP_XOR = 0x5354554E

# STUN message types of the relay dialect (§4.3) and the RFC 5389 ones the negative capture uses.
BINDING_REQUEST, BINDING_SUCCESS, BINDING_ERROR = 0x0001, 0x0101, 0x0111
ALLOCATE_REQUEST, ALLOCATE_SUCCESS, ALLOCATE_ERROR = 0x0003, 0x0103, 0x0113
WA_PING, WA_PONG = 0x0801, 0x0802

ATTR_MAPPED_ADDRESS = 0x0001
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_WASM_RELAY_ENDPOINT = 0x0016
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_PRIORITY = 0x0024
ATTR_SOFTWARE = 0x8022
ATTR_FINGERPRINT = 0x8028
ATTR_ICE_CONTROLLING = 0x802A
ATTR_RELAY_TOKEN = 0x4000
ATTR_STREAM_DESCRIPTORS = 0x4024


# ---- protobuf (just varints and length-delimited fields) ------------------------------------

def pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_field_varint(field: int, value: int) -> bytes:
    return pb_varint(field << 3) + pb_varint(value)


def pb_field_bytes(field: int, value: bytes) -> bytes:
    return pb_varint(field << 3 | 2) + pb_varint(len(value)) + value


def stream_descriptors(ssrcs) -> bytes:
    """WASM 0x4024 value: repeated 1:{1: stream (omitted if 0), 2: sub (omitted if 0), 3: ssrc},
    `ssrcs` in descriptor order (SLOT_WORDS order)."""
    out = b""
    for (stream, sub), ssrc in zip(DESCRIPTOR_STREAM_SUB, ssrcs):
        d = (pb_field_varint(1, stream) if stream else b"") + (pb_field_varint(2, sub) if sub else b"")
        out += pb_field_bytes(1, d + pb_field_varint(3, ssrc))
    return out


def reaction(transaction_id: int, emoji: str) -> bytes:
    """App data (PT 119) payload: 1:{1:{1: transaction id, 2: emoji UTF-8}}."""
    inner = pb_field_varint(1, transaction_id) + pb_field_bytes(2, emoji.encode())
    return pb_field_bytes(1, pb_field_bytes(1, inner))


# ---- STUN ----------------------------------------------------------------------------------

def stun_attr(atype: int, value: bytes) -> bytes:
    """TLV with the length of the value and zero padding to a multiple of 4."""
    return struct.pack(">HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)


def _stun_header(mtype: int, length: int, txid: bytes) -> bytes:
    return struct.pack(">HHI", mtype, length, MAGIC) + txid


def xor_address(ip: str, port: int, family_pad: bytes = b"\x00\x01") -> bytes:
    """XOR-(MAPPED|RELAY-ENDPOINT) value for IPv4: 00 01, port ^ 0x2112, address ^ magic."""
    addr = bytes(a ^ m for a, m in zip(ipaddress.IPv4Address(ip).packed, struct.pack(">I", MAGIC)))
    return family_pad + struct.pack(">H", port ^ (MAGIC >> 16)) + addr


def stun_message(mtype: int, txid: bytes, attrs=(), mi_key: bytes = None, fingerprint: bool = False,
                 corrupt_mi: bool = False, corrupt_fp: bool = False) -> bytes:
    """Builds a STUN message. attrs: encoded TLVs (stun_attr). MESSAGE-INTEGRITY is computed over
    the header whose length counts the attrs so far + 24; FINGERPRINT over the header with the
    length counting everything + 8. corrupt_* flip a bit of the finished MI/FP value so the
    message is otherwise well formed (the FP of a corrupted-MI message is still right)."""
    body = b"".join(attrs)
    if mi_key is not None:
        mi = bytearray(hmac.new(mi_key, _stun_header(mtype, len(body) + 24, txid) + body, hashlib.sha1).digest())
        if corrupt_mi:
            mi[0] ^= 0x01
        body += stun_attr(ATTR_MESSAGE_INTEGRITY, bytes(mi))
    if fingerprint:
        fp = (zlib.crc32(_stun_header(mtype, len(body) + 8, txid) + body) & 0xFFFFFFFF) ^ FP_XOR
        if corrupt_fp:
            fp ^= 0x00000001
        body += stun_attr(ATTR_FINGERPRINT, struct.pack(">I", fp))
    return _stun_header(mtype, len(body), txid) + body


def error_code(code: int, reason: str) -> bytes:
    return stun_attr(ATTR_ERROR_CODE, struct.pack(">HBB", 0, code // 100, code % 100) + reason.encode())


def wasm_allocate(txid: bytes, token: bytes, ssrcs, relay_ip: str, relay_port: int, mi_key: bytes,
                  fingerprint: bool = False) -> bytes:
    """1:1 web Allocate: 0x4000 token, 0x4024 descriptors, 0x0016 endpoint, MI [, FINGERPRINT]."""
    attrs = [stun_attr(ATTR_RELAY_TOKEN, token), stun_attr(ATTR_STREAM_DESCRIPTORS, stream_descriptors(ssrcs)),
             stun_attr(ATTR_WASM_RELAY_ENDPOINT, xor_address(relay_ip, relay_port))]
    return stun_message(ALLOCATE_REQUEST, txid, attrs, mi_key, fingerprint)


# ---- RTP "WARP" headers (§4.4) -------------------------------------------------------------

DEBE = b"\xde\xbe"
DTX_WORD = b"\x30\x01\x00\x00"
VIDEO_IDR, VIDEO_DELTA = 0x09, 0x01


def rtp_fixed(pt: int, seq: int, ts: int, ssrc: int, marker: bool = False, first: int = 0x90) -> bytes:
    return struct.pack(">BBHII", first, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)


def speech_header(pt, seq, ts, ssrc, marker=False) -> bytes:
    """16 bytes: fixed header + empty 0xDEBE extension."""
    return rtp_fixed(pt, seq, ts, ssrc, marker) + DEBE + b"\0\0"


def dtx_header(pt, seq, ts, ssrc, marker=False) -> bytes:
    """20 bytes: 0xDEBE extension of one word, 30 01 00 00."""
    return rtp_fixed(pt, seq, ts, ssrc, marker) + DEBE + b"\0\x01" + DTX_WORD


def video_header(seq, ts, ssrc, marker, frame_info, bandwidth, offset, tseq, pt=97) -> bytes:
    """28 bytes: 0xDEBE, 3 words: 0x30 frame info, 0x51 bw u16, 0x61 offset i16, 0x91 tseq u16, pad."""
    ext = struct.pack(">BBBHBhBHB", 0x30, frame_info, 0x51, bandwidth, 0x61, offset, 0x91, tseq & 0xFFFF, 0)
    return rtp_fixed(pt, seq, ts, ssrc, marker) + DEBE + b"\0\x03" + ext


# Group forwarding envelope (§4.1): byte 1 selects the header length.
ENVELOPE_LEN_CODE = {8: 2, 12: 4, 18: 7}


def group_envelope(rtp: bytes, header_len: int, filler: bytes) -> bytes:
    """0x09, length code, then header_len-2 opaque bytes (semantics unknown, taken from filler)."""
    return bytes([0x09, ENVELOPE_LEN_CODE[header_len]]) + filler[:header_len - 2] + rtp


# ---- RTCP (§4.10) --------------------------------------------------------------------------

NTP_UNIX_OFFSET = 2208988800


def rtcp_sr(ssrc: int, now_ms: int, rtp_ts: int, packets: int, octets: int) -> bytes:
    hi = (now_ms // 1000 + NTP_UNIX_OFFSET) & 0xFFFFFFFF
    lo = ((now_ms % 1000) << 32) // 1000
    return struct.pack(">BBHIIIIII", 0x80, 200, 6, ssrc, hi, lo, rtp_ts & 0xFFFFFFFF, packets, octets)


def cname_from_entropy(entropy: bytes) -> str:
    """5 hex chars @pj 6 hex chars .org, taken from the entropy's hex (the vector's rule)."""
    h = entropy.hex()
    return f"{h[12:17]}@pj{h[17:23]}.org"


def rtcp_sdes(ssrc: int, cname: str = None) -> bytes:
    """One chunk with CNAME (padded to a word with >= 1 zero), or the empty SDES."""
    if cname is None:
        return struct.pack(">BBHI", 0x81, 202, 2, ssrc) + b"\0" * 4
    items = bytes([1, len(cname)]) + cname.encode()
    items += b"\0" * (4 - len(items) % 4)
    chunk = struct.pack(">I", ssrc) + items
    return struct.pack(">BBH", 0x81, 202, len(chunk) // 4) + chunk


def rtcp_compact208(ssrc: int, remote: int) -> bytes:
    return struct.pack(">BBHII", 0x81, 208, 2, ssrc, remote)


def rtcp_compact209(ssrc: int) -> bytes:
    return struct.pack(">BBHI", 0x81, 209, 1, ssrc)


# ---- selftest: §5.4 vectors --------------------------------------------------------------

def _decode_descriptor_ssrcs(value: bytes) -> list:
    """Reads field-3 varints out of a 0x4024 value (to re-encode the wasmAllocate vector)."""
    def varint(buf, i):
        n = shift = 0
        while True:
            n |= (buf[i] & 0x7F) << shift
            shift += 7
            i += 1
            if not buf[i - 1] & 0x80:
                return n, i
    out, i = [], 0
    while i < len(value):
        assert value[i] == 0x0A
        ln, i = varint(value, i + 1)
        d, j = value[i:i + ln], 0
        while j < len(d):
            tag, j = varint(d, j)
            v, j = varint(d, j)
            if tag >> 3 == 3:
                out.append(v)
        i += ln
    return out


def selftest() -> int:
    H = bytes.fromhex
    tx, tok, key = H("a0a1a2a3a4a5a6a7a8a9aaab"), H("1020304050607080"), b"0123456789abcdef"
    checks = [
        ("crc32 abc", zlib.crc32(b"abc"), 891568578),
        ("attr token", stun_attr(ATTR_RELAY_TOKEN, tok), H("400000081020304050607080")),
        ("xorEndpoint", xor_address("157.240.226.133", 3478)[2:], H("2c84bce246c7")),
        ("minimalMi", stun_message(ALLOCATE_REQUEST, tx, [stun_attr(ATTR_RELAY_TOKEN, tok)], key),
         H("000300242112a442a0a1a2a3a4a5a6a7a8a9aaab4000000810203040506070800008001450c96f7efef837bbde7e1f534dae139816d3e015")),
        ("withFp", stun_message(ALLOCATE_REQUEST, tx, [stun_attr(ATTR_RELAY_TOKEN, tok)], key, fingerprint=True),
         H("0003002c2112a442a0a1a2a3a4a5a6a7a8a9aaab4000000810203040506070800008001450c96f7efef837bbde7e1f534dae139816d3e01580280004ade1f63c")),
        ("ping", stun_message(WA_PING, tx), H("080100002112a442a0a1a2a3a4a5a6a7a8a9aaab")),
        ("speechHeader16", speech_header(120, 1, 0, 0x12345678, marker=True), H("90f800010000000012345678debe0000")),
        ("dtxHeader20", dtx_header(120, 2, 320, 0x12345678), H("907800020000014012345678debe000130010000")),
        ("androidVideoHeader28", video_header(1, 114120, 0x49C5FB8C, True, VIDEO_IDR, 0, 29, 0x0C3F),
         H("90e100010001bdc849c5fb8cdebe0003300951000061001d910c3f00")),
        ("androidVideoDeltaHeader28", video_header(7, 143010, 0x9B1959F0, True, VIDEO_DELTA, 0, 36, 0x0A6A),
         H("90e1000700022ea29b1959f0debe00033001510000610024910a6a00")),
        ("wasmVideoHeader", video_header(0, 0, 0x11223344, True, VIDEO_IDR, 0, 0, 0),
         H("90e100000000000011223344debe0003300951000061000091000000")),
        ("compact208", rtcp_compact208(0x12345678, 0x9ABCDEF0), H("81d00002123456789abcdef0")),
        ("compact209", rtcp_compact209(0x12345678), H("81d1000112345678")),
        ("SR", rtcp_sr(0x12345678, 1718000000000, 1600, 5, 600), H("80c8000612345678ea11180000000000000006400000000500000258")),
        ("SDES", rtcp_sdes(0x12345678, cname_from_entropy(H("00112233445566778899aabb"))),
         H("81ca0007123456780112363637373840706a3839396161622e6f726700000000")),
        ("empty SDES", rtcp_sdes(0x12345678), H("81ca00021234567800000000")),
        ("reaction", reaction(1, "\U0001F44D"), H("0a0a0a0808011204f09f918d")),
        ("envelope 8", group_envelope(H("90e1001300120c96772e6aa9"), 8, H("336e01000188")),
         H("0902336e0100018890e1001300120c96772e6aa9")),
        ("envelope 12", group_envelope(H("90e100010013fbf08f1df407"), 12, H("7eb54100010000000010")),
         H("09047eb5410001000000001090e100010013fbf08f1df407")),
        ("envelope 18", group_envelope(H("90780001000331808cd481d5"), 18, H("338f2900020a00c801e0000000000000")),
         H("0907338f2900020a00c801e000000000000090780001000331808cd481d5")),
    ]
    # Group KAT: the first nine 0x4024 descriptors are the 1:1 (WASM) shape.
    grp = [0x3EA26C0C, 0x0BF99B28, 0xF42E4556, 0x14E8F126, 0xBB16134F, 0x98B14F00, 0xE0E04163, 0x74ED8516, 0xDEA8A613]
    grp4024 = H("0a06188cd889f5030a07100118a8b6e65f0a08100218d68ab9a10f0a08080118a6e2a3a7010a0a0801100118cfa6d8d80b"
                "0a0a0801100218809ec5c5090a08080218e38281870e0a0a0802100118968ab6a7070a0a080210021893cca2f50d")
    checks.append(("group 0x4024 first nine", stream_descriptors(grp), grp4024))
    # wasmAllocate: re-encode with its own SSRCs; checks the whole attribute order and the MI.
    wasm = H("000300942112a442a0a1a2a3a4a5a6a7a8a9aaab400000081020304050607080402400600a0618cabc85ae040a08100118a5acafae"
             "0a0a08100218d6a4e6f90f0a08080118f7dd9eb60a0a0a0801100118abccb1f30d0a0a0801100218dadaef8a050a08080218c5e9ec8e"
             "0b0a0a0802100118fdc2b1b60f0a0a0802100218b097f7b2090016000800012c84bce246c700080014816c90841f948115ce794ef877"
             "26c00ff74220c7")
    ssrcs = _decode_descriptor_ssrcs(wasm[36:36 + 0x60])
    checks.append(("wasmAllocate", wasm_allocate(tx, tok, ssrcs, "157.240.226.133", 3478, key), wasm))
    for name, got, want in checks:
        assert got == want, f"warp_wire selftest {name}: got {got.hex() if isinstance(got, bytes) else got}"
    return len(checks)


if __name__ == "__main__":
    print(f"warp_wire: {selftest()} checks ok")
