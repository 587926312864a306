#!/usr/bin/python3
"""The relay dialects of real WhatsApp clients (2015-2023) that the reference client does not
send, as two keyed 1:1 calls:

  media-dialect.pcap     IPv4
  media-dialect-v6.pcap  the same exchange over IPv6 (real 2021 calls ran over IPv6)

Each holds, in this order: the unpadded Allocate of clients up to 2020 (message length 164 =
0x4000 of 102 bytes, then three WhatsApp 0x0022 of 16, 14 and 16 bytes back to back, the first
naming the sender's audio SSRC), its Allocate Success with 0x4002 (the relay's clock as Unix-epoch
milliseconds), two older Allocates (0x4000 / 0x4001 of 102 and 0x4003 of 9: length 119, not a
multiple of 4), a padded 2023 Allocate with MESSAGE-INTEGRITY, pings and pongs without the magic
cookie (RFC 3489 header, 16-byte transaction id) and with it, some with trailing bytes past the
declared length, a 0x0804/0x0805 exchange (0x4007, 0x0016 relay endpoint, 0x4004 zero padding,
MESSAGE-INTEGRITY), a 0x802b of length 4 whose body is not attributes, then E2E SRTP audio both
ways whose c2s 0xDEBE block carries element 13 (seen on real 2023 media, meaning unknown).
media-dialect.pcap also has a flow of only a cookieless ping and pong ("unclaimed_frames"): no
WhatsApp-specific mark, so the plugin must leave it to stock Wireshark.

Every value the plugin must decode is in the manifest entry ("frames", one per datagram), written
from the bytes built here (the STUN walk below is this module's own, not the plugin's).
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import media as M  # noqa: E402
import pcapw  # noqa: E402
import srtp_ref as sr  # noqa: E402
import warp_wire as ww  # noqa: E402

T_BASE_US = 1_700_100_000_000_000
RELAY_CLOCK_SKEW_MS = 3  # the relay's 0x4002 runs this far ahead of the capture's clock
WA_PING, WA_PONG, WA_EP_REQ, WA_EP_RESP, WA_802B = 0x0801, 0x0802, 0x0804, 0x0805, 0x802B


def tlv(atype: int, value: bytes, pad: bool) -> bytes:
    return struct.pack(">HH", atype, len(value)) + value + (b"\0" * (-len(value) % 4) if pad else b"")


def message(mtype: int, txid: bytes, body: bytes, cookie: bool = True, trailing: bytes = b"") -> bytes:
    """Header + body; without the cookie the transaction id is RFC 3489's 16 bytes."""
    assert len(txid) == (12 if cookie else 16)
    head = struct.pack(">HH", mtype, len(body)) + (struct.pack(">I", ww.MAGIC) if cookie else b"") + txid
    return head + body + trailing


def with_integrity(mtype: int, txid: bytes, attrs: bytes, key: bytes) -> bytes:
    """Padded attrs then MESSAGE-INTEGRITY (RFC 5389 §15.4: the length counts the MI)."""
    return ww.stun_message(mtype, txid, [attrs], key) if attrs else ww.stun_message(mtype, txid, (), key)


def wa_token(ssrc: int, length: int, rng) -> bytes:
    """WhatsApp's 0x0022 value: 0x03, the SSRC, then bytes of unknown meaning."""
    return b"\x03" + struct.pack(">I", ssrc) + rng.randbytes(length - 5)


def xor_endpoint(ip: str, port: int, txid: bytes) -> bytes:
    """0x0016 relay endpoint: 00 01 | port ^ 0x2112 | IPv4 ^ cookie; IPv6 (00 02) ^ cookie ‖ txid."""
    import ipaddress
    a = ipaddress.ip_address(ip)
    mask = struct.pack(">I", ww.MAGIC) + (txid if a.version == 6 else b"")
    fam = b"\x00\x01" if a.version == 4 else b"\x00\x02"
    return fam + struct.pack(">H", port ^ (ww.MAGIC >> 16)) + bytes(x ^ m for x, m in zip(a.packed, mask))


def walk(msg: bytes, padded: bool):
    """This module's own TLV walk: [(type, value)] if it ends exactly at the declared length."""
    end, o, out = 20 + struct.unpack_from(">H", msg, 2)[0], 20, []
    while o < end:
        if end - o < 4:
            return None
        t, ln = struct.unpack_from(">HH", msg, o)
        if o + 4 + ln > end:
            return None
        out.append((t, msg[o + 4:o + 4 + ln], o))
        o += 4 + ln + ((-ln % 4) if padded else 0)
    return out if o == end else None


def stun_facts(msg: bytes, cookie: bool, key: bytes, t_us: int) -> dict:
    """What the plugin must show for one message, read back from its bytes."""
    import hashlib
    import hmac
    mtype, length = struct.unpack_from(">HH", msg)
    f = {"kind": "stun", "stun_type": mtype, "length": length, "cookie": cookie,
         "txid": msg[8:20].hex() if cookie else msg[4:20].hex(), "trailing_hex": msg[20 + length:].hex()}
    body = msg[:20 + length]
    attrs, layout = walk(body, True), "padded"
    if attrs is None:
        attrs, layout = walk(body, False), "unpadded"
    if attrs is None:
        attrs, layout = [], "opaque"
    f.update(layout=layout, attrs=[t for t, _, _ in attrs], integrity="absent")
    for t, v, o in attrs:
        if t == 0x0022:
            f.setdefault("wa_token_ssrcs", []).append(struct.unpack_from(">I", v, 1)[0])
        elif t == 0x4002:
            f["relay_time_ms"] = struct.unpack(">Q", v)[0]
            f["relay_time_offset_ms"] = f["relay_time_ms"] - t_us // 1000
        elif t == 0x4004:
            f["zero_padding_len"] = len(v)
        elif t == 0x0008:
            pseudo = body[:2] + struct.pack(">H", o - 20 + 24) + body[4:o]
            f["integrity"] = "good" if hmac.new(key, pseudo, hashlib.sha1).digest() == v else "bad"
    return f


def build(call: M.Call, seed: int, trace: M.Trace):
    rng = random.Random(seed)
    key = call.mi_key
    own = call.ssrcs["c2s"]
    relay_ip, relay_port = call.relay
    client_ip, client_port = call.client
    rows = []

    def emit(t_rel_us, direction, msg, cookie=True, **extra):
        t = T_BASE_US + t_rel_us
        trace.add(t, direction, msg, dict(stun_facts(msg, cookie, key, t), **extra))
        rows.append(msg)

    # 2019-2020 Allocate: back-to-back TLVs, length 164.
    tokens = [(own[0], 16), (own[2], 14), (own[6], 16)]  # audio (sent below), video, app data
    body = tlv(0x4000, call.relay_token * 6 + rng.randbytes(6), False)
    body += b"".join(tlv(0x0022, wa_token(s, n, rng), False) for s, n in tokens)
    assert len(body) == 164
    alloc = message(ww.ALLOCATE_REQUEST, rng.randbytes(12), body)
    emit(0, "c2s", alloc, note="unpadded Allocate (clients up to 2020): 0x4000(102) + 3x 0x0022 (16, 14, 16)")
    # Its success: XOR-MAPPED-ADDRESS (v6 XORs the txid too) and the relay's clock in 0x4002.
    t_success = 28_000
    mapped = xor_endpoint(client_ip, client_port, alloc[8:20])
    now_ms = (T_BASE_US + t_success) // 1000 + RELAY_CLOCK_SKEW_MS
    success = message(ww.ALLOCATE_SUCCESS, alloc[8:20],
                      tlv(ww.ATTR_XOR_MAPPED_ADDRESS, mapped, True) + tlv(0x4002, struct.pack(">Q", now_ms), True))
    emit(t_success, "s2c", success, mapped=f"{client_ip}:{client_port}" if ":" not in client_ip
         else f"[{client_ip}]:{client_port}")
    # Older clients: 0x4000 / 0x4001 (102) then 0x4003 (9), length 119.
    for i, tok in enumerate((0x4000, 0x4001)):
        old = message(ww.ALLOCATE_REQUEST, rng.randbytes(12),
                      tlv(tok, call.relay_token * 6 + rng.randbytes(6), False) + tlv(0x4003, rng.randbytes(9), False))
        assert struct.unpack_from(">H", old, 2)[0] == 119
        emit(100_000 + i * 10_000, "c2s", old, note=f"older Allocate: 0x{tok:04x}(102) + 0x4003(9), length 119")
    # 2023: padded, MESSAGE-INTEGRITY with the relay key.
    new = ww.stun_message(ww.ALLOCATE_REQUEST, rng.randbytes(12),
                          [tlv(0x4000, call.relay_token * 6 + rng.randbytes(6), True),
                           tlv(0x0022, wa_token(own[0], 16, rng), True)], key)
    emit(200_000, "c2s", new, note="2023 Allocate: padded, MESSAGE-INTEGRITY")
    # Pings: cookieless with trailing bytes and its cookieless pong; then with the cookie.
    p_tx = rng.randbytes(16)
    emit(1_000_000, "c2s", message(WA_PING, p_tx, b"", cookie=False, trailing=rng.randbytes(4)), cookie=False,
         note="cookieless ping (RFC 3489 header) with 4 trailing bytes")
    emit(1_015_000, "s2c", message(WA_PONG, p_tx, b"", cookie=False), cookie=False, note="cookieless pong")
    p_tx = rng.randbytes(12)
    emit(2_000_000, "c2s", message(WA_PING, p_tx, b"", trailing=rng.randbytes(6)), note="ping with 6 trailing bytes")
    emit(2_016_000, "s2c", message(WA_PONG, p_tx, b""), note="pong")
    # 0x0804 / 0x0805: 0x4007, 0x0016 relay endpoint, 0x4004 zero padding, MESSAGE-INTEGRITY.
    e_tx = rng.randbytes(12)
    attrs = (tlv(0x4007, rng.randbytes(6), True) + tlv(ww.ATTR_WASM_RELAY_ENDPOINT, xor_endpoint(relay_ip, relay_port, e_tx), True)
             + tlv(0x4004, bytes(8), True))
    endpoint = f"{relay_ip}:{relay_port}" if ":" not in relay_ip else f"[{relay_ip}]:{relay_port}"
    emit(2_500_000, "c2s", with_integrity(WA_EP_REQ, e_tx, attrs, key), relay_endpoint=endpoint)
    emit(2_530_000, "s2c", with_integrity(WA_EP_RESP, e_tx, attrs, key), relay_endpoint=endpoint)
    # 0x802b of length 4: its body is not a TLV list.
    emit(2_600_000, "s2c", message(WA_802B, rng.randbytes(12), struct.pack(">I", 7)), note="0x802b, length 4")
    return rng


def elem13_header(seq, ts, ssrc, marker, pt):
    """0xDEBE with the DTX word's element 3 and element 13 (2 bytes), as real 2023 media."""
    return ww.rtp_fixed(pt, seq, ts, ssrc, marker) + ww.DEBE + b"\0\x02" + b"\x30\x01\xd1\x5a\xa5\0\0\0"


def media_flows(call: M.Call, rng, trace: M.Trace, n=20):
    sent = []
    # s2c Opus: one frame per packet (TOC code 0), so stock's opus dissector has nothing to object to.
    opus = dict(M.AUDIO["opus48k"], speech=lambda r: b"\xf8" + r.randbytes(r.randrange(40, 110)))
    for direction, hdr, codec, seq0 in (("c2s", elem13_header, M.AUDIO["mlow16k"], 100),
                                        ("s2c", M.speech_hdr, opus, 1)):
        tx = M.RtpSender(call, direction, 0, codec["pt"], seq0=seq0)
        for i in range(n):
            wire, meta, plain = tx.packet(hdr, codec["speech"](rng), codec["ts_step"], marker=i == 0, pt=codec["pt"])
            meta["ext_ids"] = [3, 13] if hdr is elem13_header else []
            trace.add(T_BASE_US + 3_000_000 + i * 60_000 + (7_000 if direction == "s2c" else 0), direction, wire, meta)
            sent.append((direction, wire, meta))
    return sent


def udp_payload(frame: bytes) -> bytes:
    """Ethernet + IPv4 (20) or IPv6 (40) + UDP header, as pcapw writes them."""
    v6 = struct.unpack_from(">H", frame, 12)[0] == 0x86DD
    return frame[14 + (40 if v6 else 20) + 8:]


def unclaimed_pings(rng, client_ip):
    """A flow with nothing but a cookieless ping and pong: no WhatsApp-specific mark (a 3489-style
    header is anyone's), so it must stay exactly as stock Wireshark shows it."""
    src, dst, tx = (client_ip, 41999), ("198.51.100.45", 3478), rng.randbytes(16)
    t = (T_BASE_US + 2_700_000) / 1e6
    return [(t, pcapw.udp_frame(*src, *dst, message(WA_PING, tx, b"", cookie=False))),
            (t + 0.02, pcapw.udp_frame(*dst, *src, message(WA_PONG, tx, b"", cookie=False)))]


def make_one(outdir, name, call: M.Call, seed: int, selftests: dict, with_unclaimed=False) -> dict:
    trace = M.Trace(call.client, call.relay)
    rng = build(call, seed, trace)
    media_flows(call, rng, trace)
    extra = unclaimed_pings(rng, call.client[0]) if with_unclaimed else ()
    frames, metas, unclaimed = trace.layout(extra)
    pcapw.write_pcap(os.path.join(outdir, f"{name}.pcap"), frames)
    # Read back: every STUN fact from the written bytes, every RTP packet decrypted with the
    # receiver's view (srtp_ref), so the manifest cannot drift from the capture.
    back = {n: udp_payload(fr) for n, (_, fr) in enumerate(pcapw.read_pcap(os.path.join(outdir, f"{name}.pcap")), 1)}
    for m in metas:
        if m["kind"] == "stun":
            got = stun_facts(back[m["frame"]], m["cookie"], call.mi_key, m["time_us"])
            assert all(got[k] == m[k] for k in got), (got, m)
        else:
            plain, ok = sr.unprotect_rtp(call.keys[m["direction"]].rtp, back[m["frame"]], m["roc"], m["tag_len"])
            assert ok and plain[m["header_len"]:].hex() == m["payload_hex"], m
    layouts = sorted({m["layout"] for m in metas if m["kind"] == "stun"})
    assert layouts == ["opaque", "padded", "unpadded"], layouts
    M._write(outdir, f"{name}.keys", M.keylog_text(call, f"{name}.pcap: WhatsApp relay dialects of 2015-2023"))
    selftests[f"{name}.pcap"] = f"ok ({len(metas)} datagrams read back)"
    return M.capture_entry(name, f"{name}.pcap", f"{name}.keys", call, __doc__.split("\n\n")[0].replace("\n", " "),
                           [M.public_meta(m) for m in metas], M.stream_table(metas),
                           relay_clock_skew_ms=RELAY_CLOCK_SKEW_MS, unclaimed_frames=list(unclaimed))


def make(outdir, manifest, selftests):
    v4 = M.make_call(12012, call_id="D1A1EC7000000000000000000000C0DE")
    v4.client, v4.relay = ("192.0.2.44", 41000), ("198.51.100.44", 3478)
    v6 = M.make_call(12016, call_id="D1A1EC7000000000000000000006C0DE")
    v6.client, v6.relay = ("2001:db8:1::44", 41006), ("2001:db8:3::44", 3478)
    manifest["captures"].append(make_one(outdir, "media-dialect", v4, 12013, selftests, with_unclaimed=True))
    manifest["captures"].append(make_one(outdir, "media-dialect-v6", v6, 12017, selftests))


if __name__ == "__main__":
    import json
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    m, st = {"captures": []}, {}
    make(out, m, st)
    with open(os.path.join(out, "manifest-dialect.json"), "w") as f:
        json.dump(m, f, indent=1)
    print(st)
