#!/usr/bin/python3
"""Reads the signaling captures back from the pcap bytes and checks them against the manifest:
TCP reassembly by sequence number, WebSocket unmasking, Noise framing, handshake replay from
WA_NOISE_PRIVATE, decryption with the key log, WABinary decoding, and the pcap frame on which
each Noise frame completes. A second, independent path through the same bytes the plugin reads.

    /usr/bin/python3 verify.py OUTDIR      (make_all runs it too)
"""
import ipaddress
import json
import os
import struct
import sys

import noise
import pcapw
import wabin


def tcp_segments(path):
    """[(frame_no, src, sport, dst, dport, seq, flags, payload)] from an Ethernet pcap."""
    out = []
    for n, (_, fr) in enumerate(pcapw.read_pcap(path), 1):
        et = struct.unpack_from("!H", fr, 12)[0]
        if et == 0x0800:
            ihl, proto = (fr[14] & 0x0F) * 4, fr[23]
            src, dst, l4 = fr[26:30], fr[30:34], fr[14 + ihl:]
        elif et == 0x86DD:
            proto, src, dst, l4 = fr[20], fr[22:38], fr[38:54], fr[54:]
        else:
            continue
        if proto != 6:
            continue
        sport, dport, seq = struct.unpack_from("!HHI", l4)
        off = (l4[12] >> 4) * 4
        out.append((n, str(ipaddress.ip_address(src)), sport, str(ipaddress.ip_address(dst)), dport, seq, l4[13],
                    l4[off:]))
    return out


def stream(segs, src, sport, dst, dport):
    """Bytes of one direction in sequence order, [(end offset, frame)] per segment, and the holes
    left by missing segments (zero-filled, so the framing after a whole lost frame still lines up)."""
    mine = [s for s in segs if s[1:5] == (src, sport, dst, dport)]
    isn = next(s[5] for s in mine if s[6] & 0x02) + 1
    data, ends, holes = b"", [], []
    for n, *_, seq, flags, payload in mine:
        if not payload:
            continue
        gap = seq - isn - len(data)
        if gap:
            holes.append((len(data), len(data) + gap))
            data += b"\0" * gap
        data += payload
        ends.append((len(data), n))
    return data, ends, holes


def unwrap_ws(data, ends):
    """HTTP upgrade, then WebSocket frames -> concatenated message payloads + completion frames."""
    pos = data.index(b"\r\n\r\n") + 4
    out, out_ends = b"", []
    while pos < len(data):
        b1 = data[pos + 1]
        n, hdr = b1 & 0x7F, 2
        if n == 126:
            n, hdr = struct.unpack_from("!H", data, pos + 2)[0], 4
        elif n == 127:
            n, hdr = struct.unpack_from("!Q", data, pos + 2)[0], 10
        mask = data[pos + hdr:pos + hdr + 4] if b1 & 0x80 else None
        hdr += 4 if mask else 0
        body = data[pos + hdr:pos + hdr + n]
        if mask:
            body = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
        pos += hdr + n
        out += body
        out_ends.append((len(out), next(f for e, f in ends if e >= pos)))
    return out, out_ends


def noise_frames(data, ends, client, holes=()):
    """[(payload, completion frame)] after the intro; the frame is None when the capture ends
    inside the Noise frame, "lost" when a missing segment falls inside it."""
    pos = 0
    if client:
        if data[:4] == b"ED\x00\x01":
            pos = 7 + int.from_bytes(data[4:7], "big")
        assert data[pos:pos + 2] == b"WA", "intro missing"
        pos += 4
    out = []
    while pos + 3 <= len(data):
        hole = next((b for a, b in holes if a <= pos < b), None)
        if hole is not None:  # lost at a frame boundary: assume whole frames are missing
            out.append((b"", "lost"))
            pos = hole
            continue
        n = int.from_bytes(data[pos:pos + 3], "big")
        end = pos + 3 + n
        if any(a < end and b > pos for a, b in holes):
            where = "lost"
        else:
            where = next((f for e, f in ends if e >= end), None) if end <= len(data) else None
        out.append((data[pos + 3:end], where))
        pos = end
    return out


def keylog(path):
    keys = {}
    for line in open(path):
        f = line.split()
        if len(f) == 4 and f[0] in ("WA_NOISE_TRAFFIC", "WA_NOISE_PRIVATE"):
            keys[f[1].lower()] = (f[0], bytes.fromhex(f[2]), bytes.fromhex(f[3]))
    return keys


def check_connection(outdir, cap, conn, segs):
    cli, cport = conn["client"].rsplit(":", 1)
    srv, sport = conn["server"].rsplit(":", 1)
    c_data, c_ends, c_holes = stream(segs, cli, int(cport), srv, int(sport))
    s_data, s_ends, s_holes = stream(segs, srv, int(sport), cli, int(cport))
    if conn["transport"] == "ws":
        c_data, c_ends = unwrap_ws(c_data, c_ends)
        s_data, s_ends = unwrap_ws(s_data, s_ends)
    c_frames = noise_frames(c_data, c_ends, True, c_holes)
    s_frames = noise_frames(s_data, s_ends, False, s_holes)
    hs_c = 1 if conn["pattern"] == "IK" else 2
    hello = noise.pb_fields(noise.pb_fields(c_frames[0][0])[2][0])
    e_c = hello[1][0].hex()
    assert e_c == conn["client_ephemeral_public"], "ClientHello ephemeral"
    label, a, b = keylog(os.path.join(outdir, cap["keylog"]))[e_c]
    if label == "WA_NOISE_PRIVATE":  # replay the handshake like the plugin must
        prologue = b"WA\x06" + bytes([conn["dict_version"]])
        a, b = noise.replay_xx_client(prologue, a, b, c_frames[0][0], s_frames[0][0], c_frames[1][0])[:2]
    keys = {"c2s": (a, c_frames[hs_c:]), "s2c": (b, s_frames[1:])}
    for d, hs_frames in (("c2s", c_frames[:hs_c]), ("s2c", s_frames[:1])):
        got = [f for _, f in hs_frames]
        want = [h["pcap_frame"] for h in conn["handshake"] if h["direction"] == d]
        assert got == want, f"{cap['pcap']} {conn['name']} {d} handshake frames {got} != {want}"
    seen = {"c2s": 0, "s2c": 0}
    for e in conn["frames"]:
        d = e["direction"]
        key, wire = keys[d]
        ct, frame_no = wire[seen[d]]
        seen[d] += 1
        where = f"{cap['pcap']} {conn['name']} {d}#{e['counter']}"
        if e["expect"] == "lost":
            assert frame_no == "lost", f"{where}: expected lost"
            continue
        assert frame_no == e["pcap_frame"], f"{where}: pcap frame {frame_no} != {e['pcap_frame']}"
        if e["expect"] == "truncated":
            continue
        try:
            payload = noise.transport_decrypt(key, e["counter"], ct)
        except Exception:
            assert e["expect"] == "bad_tag", f"{where}: GCM failed, expected {e['expect']}"
            continue
        assert e["expect"] != "bad_tag", f"{where}: decrypted, expected bad_tag"
        assert payload.hex() == e["payload_hex"], f"{where}: payload differs"
        try:
            node = wabin.decode(wabin.unpack(payload), conn["dict_version"])
        except Exception:
            assert e["expect"] in ("malformed", "zlib_error"), f"{where}: decode failed"
            continue
        assert e["expect"] in ("ok", "after_gap") and wabin.to_xml(node) == e["xml"], f"{where}: xml differs"
    return sum(seen.values())


def main(outdir):
    manifest = json.load(open(os.path.join(outdir, "manifest.json")) if isinstance(outdir, str) else outdir)
    return verify(outdir, manifest)


def verify(outdir, manifest):
    total = 0
    for cap in manifest["captures"]:
        conns = cap.get("connections")
        if not conns or cap.get("same_frames_as") or cap.get("midstream") or any(c.get("transport") == "wss" for c in conns):
            continue  # WSS is checked with tshark + the TLS key log; a mid-stream cut has no intro to start from
        segs = tcp_segments(os.path.join(outdir, cap["pcap"]))
        total += sum(check_connection(outdir, cap, c, segs) for c in conns)
    return total


if __name__ == "__main__":
    print(f"verify: {main(sys.argv[1])} transport frames read back and match the manifest")
