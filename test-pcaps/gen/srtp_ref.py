"""Reference crypto for the WhatsApp media plane, written from the protocol digests only.

Independent of the plugin's C++ on purpose: a second implementation catches the bugs a shared
one would hide. Sources: reference-digest-whatsapp-rust.md §4.5-4.9 (the "reference") and
spec-digest-wacrg.md §3. Where the two disagree this file follows the reference, which is
pinned by known-answer vectors (see selftest()):
  * per-packet IV: salt LEFT-aligned in bytes 0-13 (the spec digest's §3.3 says right-aligned;
    the rtpIv vector settles it);
  * WARP tag key: the sender's SRTP auth key (label 1), not HKDF("warp auth key").
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# WASM_RELAY_STREAM_SLOT_WORDS: descriptor position i uses slot word SLOT_WORDS[i].
SLOT_WORDS = (0, 1, 4, 2, 3, 5, 7, 8, 6)
SLOT_NAMES = {0: "audio", 1: "audio_fec", 4: "audio_nack", 2: "video", 3: "video_fec",
              5: "video_nack", 7: "hbh_fec_tx", 8: "hbh_fec_rx", 6: "app_data"}
# (stream index, sub type) of each descriptor position, same order as SLOT_WORDS.
DESCRIPTOR_STREAM_SUB = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2))

SRTCP_TAG_LEN = 10
DEFAULT_WARP_TAG_LEN = 4


def hkdf(salt: bytes, ikm: bytes, info: bytes, n: int) -> bytes:
    """RFC 5869 HKDF-SHA256 (hand-rolled on hmac so the salt may be any length, even 4 bytes)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CTR with a full 128-bit big-endian counter (what the E2E layer uses)."""
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def xor_into(buf: bytearray, offset: int, value: bytes) -> None:
    for i, b in enumerate(value):
        buf[offset + i] ^= b


def participant_id(jid: str) -> str:
    """format_participant_id: drop /resource; NNN@lid -> NNN:0@lid; everything else unchanged."""
    jid = jid.split("/", 1)[0]
    user, _, server = jid.partition("@")
    if server == "lid" and ":" not in user:
        return f"{user}:0@lid"
    return jid


def wahkdf(call_key: bytes, pid: str) -> tuple:
    """(master_key 16, master_salt 14) for one sender; okm[30:46] is unused."""
    okm = hkdf(b"\0" * 32, call_key[:32], pid.encode(), 46)
    return okm[:16], okm[16:30]


def rfc3711_prf(master_key: bytes, master_salt: bytes, label: int, n: int) -> bytes:
    """RFC 3711 §4.3 AES-CM key derivation with kdr = 0: keystream from salt‖0000 with the
    label XOR-ed into byte 7."""
    iv = bytearray(master_salt + b"\0\0")
    iv[7] ^= label
    return aes_ctr(master_key, bytes(iv), b"\0" * n)


class SessionKeys:
    """Per-sender session keys. rtcp=False gives labels 0/1/2, rtcp=True gives 3/4/5."""

    def __init__(self, master_key: bytes, master_salt: bytes, rtcp: bool = False):
        base = 3 if rtcp else 0
        self.cipher = rfc3711_prf(master_key, master_salt, base, 16)
        self.auth = rfc3711_prf(master_key, master_salt, base + 1, 20)
        self.salt = rfc3711_prf(master_key, master_salt, base + 2, 14)


class SenderKeys:
    """Everything one participant sends with: E2E SRTP (labels 0-2) and SRTCP (labels 3-5)."""

    def __init__(self, call_key: bytes, jid: str):
        self.pid = participant_id(jid)
        self.master_key, self.master_salt = wahkdf(call_key, self.pid)
        self.rtp = SessionKeys(self.master_key, self.master_salt)
        self.rtcp = SessionKeys(self.master_key, self.master_salt, rtcp=True)

    @property
    def libsrtp_key(self) -> bytes:
        """master key ‖ master salt: the 30 bytes a libsrtp policy takes."""
        return self.master_key + self.master_salt


def packet_iv(salt: bytes, ssrc: int, index: int) -> bytes:
    """salt(14)‖0000, SSRC XOR-ed at bytes 4-7, the 48-bit index XOR-ed at bytes 8-13."""
    iv = bytearray(salt + b"\0\0")
    xor_into(iv, 4, struct.pack(">I", ssrc))
    xor_into(iv, 8, struct.pack(">Q", index)[2:])
    return bytes(iv)


def rtp_header_len(pkt: bytes) -> int:
    """12 + 4·CC, plus the extension (4 + 4·words) when X is set."""
    n = 12 + 4 * (pkt[0] & 0x0F)
    if pkt[0] & 0x10:
        n += 4 + 4 * struct.unpack_from(">H", pkt, n + 2)[0]
    return n


def warp_tag(auth_key: bytes, packet: bytes, roc: int, tag_len: int) -> bytes:
    """WARP MI tag = HMAC-SHA1(auth, packet ‖ ROC u32 BE)[0:tag_len] (= the SRTP tag rule)."""
    return hmac.new(auth_key, packet + struct.pack(">I", roc), hashlib.sha1).digest()[:tag_len]


def protect_rtp(keys: SessionKeys, rtp: bytes, roc: int, tag_len: int = DEFAULT_WARP_TAG_LEN) -> bytes:
    """E2E SRTP: encrypt the payload after the full header, then append the WARP tag."""
    hl = rtp_header_len(rtp)
    seq, = struct.unpack_from(">H", rtp, 2)
    ssrc, = struct.unpack_from(">I", rtp, 8)
    body = rtp[:hl] + aes_ctr(keys.cipher, packet_iv(keys.salt, ssrc, (roc << 16) | seq), rtp[hl:])
    return body + warp_tag(keys.auth, body, roc, tag_len)


def unprotect_rtp(keys: SessionKeys, srtp: bytes, roc: int, tag_len: int = DEFAULT_WARP_TAG_LEN):
    """Inverse of protect_rtp; returns (plain packet, tag_ok). Used only by the selftests."""
    body, tag = srtp[:-tag_len], srtp[-tag_len:]
    ok = hmac.compare_digest(tag, warp_tag(keys.auth, body, roc, tag_len))
    hl = rtp_header_len(body)
    seq, = struct.unpack_from(">H", body, 2)
    ssrc, = struct.unpack_from(">I", body, 8)
    return body[:hl] + aes_ctr(keys.cipher, packet_iv(keys.salt, ssrc, (roc << 16) | seq), body[hl:]), ok


def protect_srtcp(keys: SessionKeys, rtcp: bytes, index: int) -> bytes:
    """SRTCP (§4.6): first 8 bytes clear, AES-CTR the rest, then E|index and HMAC-SHA1-80."""
    ssrc, = struct.unpack_from(">I", rtcp, 4)
    out = rtcp[:8] + aes_ctr(keys.cipher, packet_iv(keys.salt, ssrc, index), rtcp[8:])
    out += struct.pack(">I", 0x80000000 | index)
    return out + hmac.new(keys.auth, out, hashlib.sha1).digest()[:SRTCP_TAG_LEN]


def unprotect_srtcp(keys: SessionKeys, srtcp: bytes):
    """Inverse of protect_srtcp; returns (plain compound, index, tag_ok). Selftests only."""
    body, tag = srtcp[:-SRTCP_TAG_LEN], srtcp[-SRTCP_TAG_LEN:]
    ok = hmac.compare_digest(tag, hmac.new(keys.auth, body, hashlib.sha1).digest()[:SRTCP_TAG_LEN])
    ssrc, = struct.unpack_from(">I", body, 4)
    index = struct.unpack_from(">I", body, len(body) - 4)[0] & 0x7FFFFFFF
    return body[:8] + aes_ctr(keys.cipher, packet_iv(keys.salt, ssrc, index), body[8:-4]), index, ok


def derive_ssrc(call_id: str, jid: str, slot_word: int) -> int:
    """SSRC = LE32(HKDF(salt = LE32(slot word), ikm = call-id bytes, info = participant id, 4))."""
    okm = hkdf(struct.pack("<I", slot_word), call_id.encode(), participant_id(jid).encode(), 4)
    return struct.unpack("<I", okm)[0]


def participant_ssrcs(call_id: str, jid: str) -> dict:
    """slot word -> SSRC for all nine slots of one participant."""
    return {w: derive_ssrc(call_id, jid, w) for w in SLOT_WORDS}


# ---- SFrame (§4.8) ---------------------------------------------------------------------------

def sframe_key(call_key: bytes, receiver_jid: str) -> bytes:
    """AES-128 key; info names the RECEIVER (direction opposite to SRTP)."""
    info = ("e2e sframe key" + participant_id(receiver_jid)).encode()
    return hkdf(call_key[:16], call_key[16:32], info, 32)[:16]


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def sframe_encrypt(key: bytes, counter: int, plain: bytes, key_id: int = 0) -> bytes:
    """ciphertext ‖ tag(16) ‖ varint(counter) varint(kid) header_len; 16-byte nonce, no AAD."""
    nonce = b"\0" * 8 + struct.pack("<Q", counter)
    hdr = leb128(counter) + leb128(key_id)
    return AESGCM(key).encrypt(nonce, plain, None) + hdr + bytes([len(hdr) + 1])


def sframe_decrypt(key: bytes, frame: bytes) -> bytes:
    """Inverse of sframe_encrypt for 1-byte varints or more; raises on a bad tag."""
    hl = frame[-1]
    hdr = frame[-hl:-1]
    counter, shift, i = 0, 0, 0
    while True:
        counter |= (hdr[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not hdr[i - 1] & 0x80:
            break
    nonce = b"\0" * 8 + struct.pack("<Q", counter)
    return AESGCM(key).decrypt(nonce, frame[:-hl], None)


# ---- selftest: the digest's §5.3 vectors, recomputed ---------------------------------------

def selftest() -> int:
    """Raises AssertionError on the first mismatch; returns the number of checks."""
    H = bytes.fromhex
    ck = bytes(range(32))
    self_lid, peer_lid = "111111111111111:0@lid", "222222222222222:0@lid"
    n = 0

    def eq(name, got, want):
        nonlocal n
        assert got == want, f"srtp_ref selftest {name}: got {got.hex() if isinstance(got, bytes) else got}"
        n += 1

    eq("hkdf rfc5869 tc1", hkdf(H("000102030405060708090a0b0c"), b"\x0b" * 22, H("f0f1f2f3f4f5f6f7f8f9"), 42),
       H("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    mk, ms = wahkdf(ck, peer_lid)
    eq("wahkdf key", mk, H("3f5423fb6f67e4c588bf5741a3a4e92c"))
    eq("wahkdf salt", ms, H("749ee99101a47c82bb5dacec40cf"))
    peer, me = SenderKeys(ck, peer_lid), SenderKeys(ck, "111111111111111@lid")
    eq("peer cipher", peer.rtp.cipher, H("747055a9d18be0fcdc0e29d871309081"))
    eq("peer salt", peer.rtp.salt, H("10fb8133eff7639cc0d06788f49c"))
    eq("peer auth", peer.rtp.auth, H("8eff4bb04971d92512b034ce0ebc466059bfc6ea"))
    eq("self cipher (bare lid normalised)", me.rtp.cipher, H("261bde5b556020e3e6da0f5e3132db57"))
    eq("self salt", me.rtp.salt, H("44224a8c019b379c4bbf7dda284a"))
    eq("self auth", me.rtp.auth, H("56b2655b60a1c17c03dfe94950d5df233481ad41"))
    eq("rtpIv", packet_iv(peer.rtp.salt, 0x12345678, 7), H("10fb8133fdc335e4c0d06788f49b0000"))
    eq("cipher_out", aes_ctr(peer.rtp.cipher, packet_iv(peer.rtp.salt, 0x12345678, 7), H("102132435465768798a9bacb")),
       H("17b30591a2650ed7bbae9c5a"))
    eq("warp tag4", warp_tag(peer.rtp.auth, H("90780007000003c012345678deadbeef"), 0, 4), H("53fada83"))
    # HBH SRTCP vector: exercises protect_srtcp with independent keys (uplink HBH key30).
    hbh = H("f77854760b4340f0eabbe93930eafe0310c8f699d1ebaf1f609a1781f3fc")
    rk = SessionKeys(hbh[:16], hbh[16:], rtcp=True)
    eq("srtcp auth", rk.auth, H("6e6b37a126a522302a578c9713d38e85606048eb"))
    eq("srtcp SR index 1", protect_srtcp(rk, H("80c8000612345678ea11180000000000000006400000000500000258"), 1),
       H("80c80006123456787d74643dbb62b23f5005bf9b4296de885c3ff6e280000001cc486281b0510f8b2a83"))
    eq("sframe peerKey", hkdf(ck[:16], ck[16:], b"e2e sframe key" + peer_lid.encode(), 32),
       H("e77cc4666a53d2264ba278b3e2b9ba1cc41ac0e3b587b09db3dd3fa646d51ae9"))
    eq("sframe encrypt", sframe_encrypt(sframe_key(ck, peer_lid), 5, H("102132435465768798a9bacb")),
       H("e5ef789f9fa501842a9ff5f54cc12a630d12008f1bb39060c951724f050003"))
    eq("sframe roundtrip 2-byte varint", sframe_decrypt(sframe_key(ck, self_lid),
                                                         sframe_encrypt(sframe_key(ck, self_lid), 300, b"xyz")), b"xyz")
    eq("ssrc slot0", derive_ssrc("00112233445566778899AABBCCDDEEFF", peer_lid, 0), 1805509457)
    eq("ssrc slot1", derive_ssrc("00112233445566778899AABBCCDDEEFF", peer_lid, 1), 2479325408)
    eq("ssrc video", derive_ssrc("CALL-ID-0001", "12345@lid", 2), 0xF8D70484)
    eq("pid :N kept", participant_id("12345:6@lid/abc"), "12345:6@lid")
    eq("pid s.whatsapp.net kept", participant_id("12345@s.whatsapp.net"), "12345@s.whatsapp.net")
    return n


if __name__ == "__main__":
    print(f"srtp_ref: {selftest()} checks ok")
